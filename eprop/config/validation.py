"""`validate(cfg)`: the checks a composed config must pass before anything runs.

Types, unknown keys and closed choices are checked by the schema when the config is composed
(config/schema.py); the task keys are those of the schema of task.target (config.lookup.task_schema), which
the task's YAML chose. Here: the loop over the bounds in the schema's field metadata (bounds.py), then the checks
that involve several fields (model family and neuron models, recording and network sizes,
timing), and the task's own checks
(`tasks.task_for(cfg).check(cfg)`). Every failure is a UserError with a one-line message that
names the key, the value, the valid range and the unit.
"""

from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig, OmegaConf

from eprop.config.bounds import check_bounds, unit_of
from eprop.config.choices import ReadoutLoss
from eprop.config.families import FAMILIES, n_recurrent, recurrent_populations
from eprop.config.lookup import schema_field, typed_schema
from eprop.errors import UserError


def check_physics(cfg: DictConfig) -> None:
    """The recurrent neurons' voltages, as NEST 3.10's e-prop models need them: V_th > E_L (NEST
    resets v_m - E_L to 0, so a threshold at or below E_L fires every step), and V_reset < V_th
    (psc_delta models). Reads set values only (a derived one is checked with the derived bounds)."""
    pops = [("neuron.rec", cfg.neuron.rec, {})]
    pops += [
        (f"neuron.rec_extra[{i}].overrides", cfg.neuron.rec, extra.get("overrides") or {})
        for i, extra in enumerate(cfg.neuron.get("rec_extra") or [])
    ]
    for prefix, rec, overrides in pops:

        def value(name: str) -> tuple[str, Any]:
            """(key, value) of NAME for this population; value None if derived or not a number."""
            key, source = (f"{prefix}.{name}", overrides) if name in overrides else (f"neuron.rec.{name}", rec)
            if OmegaConf.is_interpolation(source, name):
                return key, None
            v = source.get(name)
            return key, v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        (th_key, v_th), (el_key, e_l), (reset_key, v_reset) = value("V_th"), value("E_L"), value("V_reset")
        if v_th is not None and e_l is not None and not v_th > e_l:
            raise UserError(
                f"{th_key}={v_th}: must be > {el_key}={e_l} mV (the threshold above the resting potential; "
                "NEST's e-prop neurons start and reset at E_L)"
            )
        if v_th is not None and v_reset is not None and not v_reset < v_th:
            raise UserError(f"{reset_key}={v_reset}: must be < {th_key}={v_th} mV (NEST 3.10's V_reset < V_th)")


def check_params_numbers(cfg: DictConfig) -> None:
    """The numbers of the pass-through `params` dicts (neuron.rec.params, optimizer.params, ...):
    not NaN. +-inf pass (NEST has infinite defaults, e.g. V_min); NEST checks the rest."""
    for section in ("neuron.rec", "neuron.readout", "optimizer", "synapse", "kernel"):
        params = OmegaConf.select(cfg, f"{section}.params")
        for name in params or {}:
            if OmegaConf.is_interpolation(params, name):
                continue
            v = params[name]
            if isinstance(v, float) and math.isnan(v):
                raise UserError(f"{section}.params.{name}={v}: must be a number")


def unknown_keys(cfg: Any, schema: Any, prefix: str = "") -> list[str]:
    """Dotted keys in `cfg` that the schema does not declare (`params` dicts are free-form)."""
    found = []
    allowed = set(schema.keys())
    for key in cfg.keys():
        if key not in allowed:
            found.append(prefix + str(key))
        elif key != "params" and OmegaConf.is_dict(schema._get_node(key)) and OmegaConf.is_dict(cfg._get_node(key)):
            found.extend(unknown_keys(cfg[key], schema[key], f"{prefix}{key}."))
    return found


def shadowed_field(section: str, names) -> None:
    """Refuse a `params` entry named like a field of its section (`neuron.rec.params.V_th`): it would
    bypass the field and what is derived from it (e.g. the surrogate gradient from V_th).

    config/translate.py keeps its message in the network description; the simulator raises it
    where the pass-through names are checked against NEST (simulator/parameters.py), after the
    checks that the name exists and the value is a number, so those mistakes are named first.
    """
    for name in sorted(names):
        if schema_field(f"{section}.{name}") is not None and name != "params":
            raise UserError(
                f"{section}.params.{name}: shadows the schema field {section}.{name}; "
                f"set {section}.{name}=... instead (values derived from it follow it)"
            )


def check_task_keys(cfg: DictConfig, schema: DictConfig | None = None) -> None:
    """The task keys are those of task.target's schema: refuse a config composed for another task
    (`task=handwriting task.target=evidence_accumulation`), whose keys the target's Task cannot read.
    `schema`: typed_schema(cfg.task.target), if the caller has it already."""
    target = cfg.task.target
    schema = typed_schema(target) if schema is None else schema
    expected, given = set(schema.task.keys()), set(cfg.task.keys())
    missing, extra = sorted(expected - given), sorted(given - expected)
    if missing and extra:
        raise UserError(
            f"task.target={target}: task.{extra[0]} is not a key of the {target} task and task.{missing[0]} "
            f"is missing (the task options were composed for another task); choose the task with task={target}"
        )


def validate(cfg: DictConfig) -> None:
    """Bounds and cross-field checks; raises UserError with a one-line message."""
    schema = typed_schema(cfg.task.target)  # built once: about 20 ms
    check_task_keys(cfg, schema)
    extra = unknown_keys(cfg, schema)
    if extra:
        raise UserError(f"{extra[0]}: unknown key; the schema has no such field (see `eprop run --cfg job`)")
    check_bounds(cfg, derived=False)  # set values only: named before anything derived from them is resolved
    check_physics(cfg)
    check_params_numbers(cfg)
    _check_family(cfg)  # before the derived values: those of a wrong neuron= for the family do not resolve
    check_bounds(cfg, derived=True)
    _check_kernel(cfg)
    check_task(cfg)
    o = cfg.optimizer
    _check_optimizer_keys(o)
    if not o.Wmin < o.Wmax:
        raise UserError(
            f"optimizer.Wmin={o.Wmin}, optimizer.Wmax={o.Wmax}: Wmin must be < Wmax ({unit_of('optimizer.Wmin')})"
        )
    _check_recording(cfg)
    name = str(cfg.output.file)
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise UserError(f"output.file={name}: must be a plain file name (it is written inside the run directory)")
    if cfg.seed > 2**32 - 1:  # numpy RandomState and NEST rng_seed both take 32-bit seeds
        raise UserError(f"seed={cfg.seed}: must be an integer in [1, 4294967295]")
    _check_model_fits_task(cfg)
    _check_phases(cfg)
    _check_divergence_bound(cfg)


OPTIMIZER_ONLY = {"beta_1": "adam", "beta_2": "adam", "epsilon": "adam"}  # keys one optimizer type uses


def _check_optimizer_keys(o: DictConfig) -> None:
    """Refuse a key the chosen optimizer does not use, set to other than its default (it would be ignored)."""
    for name, user in OPTIMIZER_ONLY.items():
        if str(o.type) == user or OmegaConf.is_interpolation(o, name):
            continue
        if o[name] != schema_field(f"optimizer.{name}").field.default:
            raise UserError(f"optimizer.{name}: not used by optimizer={o.type} (only by {user})")


def _check_kernel(cfg: DictConfig) -> None:
    k = cfg.kernel
    tics_per_ms = k.params.get("tics_per_ms", 1000.0)  # NEST's default tic: 0.001 ms
    tics_per_ms = float(tics_per_ms) if isinstance(tics_per_ms, (int, float)) and tics_per_ms > 0 else 1000.0
    if abs(k.resolution * tics_per_ms - round(k.resolution * tics_per_ms)) > 1e-6:
        raise UserError(
            f"kernel.resolution={k.resolution}: must be a multiple of NEST's tic, {1.0 / tics_per_ms:g} {unit_of('kernel.resolution')} "
            "(e.g. 0.1, 0.25, 1.0)"
        )
    if k.total_num_virtual_procs is not None and k.total_num_virtual_procs != k.threads:
        raise UserError(
            f"kernel.total_num_virtual_procs={k.total_num_virtual_procs}: must equal kernel.threads={k.threads} "
            "(this NEST build has no MPI, so each virtual process is one thread)"
        )


def check_task(cfg: DictConfig) -> None:
    """The task's own checks (tasks/): its keys and its data file, which is parsed once here."""
    from eprop.tasks import task_for

    task_for(cfg).check(cfg)


def _check_family(cfg: DictConfig) -> None:
    family = FAMILIES[cfg.model.family]
    if cfg.neuron.rec.model not in family["recurrent"]:
        raise UserError(
            f"neuron.rec.model={cfg.neuron.rec.model}: not a model of model={cfg.model.family}; "
            f"with model={cfg.model.family} use neuron= one of {', '.join(family['neuron_options'])}"
        )
    for key, pop in recurrent_populations(cfg)[1:]:
        if pop.model not in family["recurrent"]:
            raise UserError(
                f"{key}.model={pop.model}: not a model of model={cfg.model.family}; "
                f"must be one of {', '.join(family['recurrent'])}"
            )
    if cfg.neuron.readout.model != family["readout"]:
        raise UserError(
            f"neuron.readout.model={cfg.neuron.readout.model}: model={cfg.model.family} needs {family['readout']}"
        )


def _check_recording(cfg: DictConfig) -> None:
    rec, t = cfg.recording, cfg.task
    n_rec, n_key = n_recurrent(cfg), ("neuron.rec.n" if not cfg.neuron.get("rec_extra") else "the recurrent neurons")
    if rec.n_record > n_rec:
        raise UserError(f"recording.n_record={rec.n_record}: must be <= {n_key}={n_rec}")
    if rec.n_record_w > min(t.n_in, n_rec):
        raise UserError(
            f"recording.n_record_w={rec.n_record_w}: must be <= min(task.n_in, {n_key})={min(t.n_in, n_rec)}"
        )
    for needed in ("readout_signal", "target_signal"):
        if needed not in rec.out_variables:
            raise UserError(f"recording.out_variables: must contain {needed} (the loss needs it)")
    if rec.interval != cfg.kernel.resolution:
        raise UserError(
            f"recording.interval={rec.interval}: must equal kernel.resolution={cfg.kernel.resolution} "
            f"{unit_of('kernel.resolution')} (the loss sums every step)"
        )


READOUT_LOSSES = {ReadoutLoss.mean_squared_error.value: "regression", ReadoutLoss.cross_entropy.value: "classification"}
_READOUT_HAS_LOSS = {"eprop_readout": ()}  # readout models without NEST's `loss` parameter


def _check_model_fits_task(cfg: DictConfig) -> None:
    """Refuse combinations that NEST would run but that cannot learn the task (one line each)."""
    from eprop.tasks import task_for

    loss = cfg.neuron.readout.loss
    task = task_for(cfg)
    kind = task.kind
    task.check_model_family(cfg)  # the family and the loss a task needs are the task's (tasks/)
    if loss is None:
        return
    if "loss" not in _READOUT_HAS_LOSS.get(cfg.neuron.readout.model, ("loss",)):
        raise UserError(
            f"neuron.readout.loss={loss}: {cfg.neuron.readout.model} has no loss parameter (it always uses the mean "
            f"squared error); leave it null with model={cfg.model.family}"
        )
    if loss != task.readout_loss:
        raise UserError(
            f"neuron.readout.loss={loss}: {READOUT_LOSSES[loss]} loss; the {kind} task {cfg.task.name} needs {task.readout_loss}"
        )


def _check_divergence_bound(cfg: DictConfig) -> None:
    bound = cfg.recording.saturated_rate
    if not 0.0 < bound <= 1.0:  # also refuses NaN
        raise UserError(
            f"recording.saturated_rate={bound}: must be a fraction in (0, 1] of the maximal rate 1000 / max(kernel.resolution, t_ref) spikes/s"
        )


def _check_phases(cfg: DictConfig) -> None:
    """The phase schedule (phases.*): only for a classification task, whose error it decides on."""
    from eprop.tasks import task_for

    p = cfg.get("phases")
    if p is None:
        return
    if task_for(cfg).kind != "classification":
        for key in ("validate_every", "n_test"):
            if p[key] > 0:
                raise UserError(
                    f"phases.{key}={p[key]}: phases need a classification task (validation and early stopping "
                    f"decide on the error, 1 - accuracy); task {cfg.task.name} is a regression task, leave it 0"
                )
    if p.validate_every > 0 and p.n_early_stop < 1:
        raise UserError(
            f"phases.n_early_stop={p.n_early_stop}: must be an integer >= 1 when phases.validate_every > 0 "
            "(training stops on the mean error of the early-stopping iterations)"
        )

"""`validate(cfg)`: the checks a composed config must pass before anything runs.

Types, unknown keys and closed choices are checked by the schema when the config is composed
(config.py); the task keys are those of the schema of task.target (config.task_schema), which
the task's YAML chose. Here: one loop over the bounds in the schema's field metadata, then the checks
that involve several fields (model family and neuron models, recording and network sizes,
timing), and the task's own checks
(`tasks.task_for(cfg).check(cfg)`). Every failure is a UserError with a one-line message that
names the key, the value, the valid range and the unit.
"""

from __future__ import annotations

import functools
import math
import re
import typing
from typing import Any

from omegaconf import DictConfig, OmegaConf

from eprop.config.schema import (
    BOUNDS,
    FAMILIES,
    ReadoutLoss,
    n_recurrent,
    recurrent_populations,
    schema_field,
    schema_fields,
    typed_schema,
)
from eprop.errors import UserError

PHYSICAL = {"ms", "pF", "mV", "pA", "spikes/s"}  # units named in bound messages ("dimensionless" is not)


def unit_of(key: str) -> str:
    """The unit of a schema field, as its metadata gives it (config.param)."""
    found = schema_field(key)
    return found.unit if found else ""


def is_float_field(found) -> bool:
    """A float field (float or float | None): finite unless its metadata says allow_inf."""
    return found.type is float or float in typing.get_args(found.type)


def field_bounds(found) -> dict[str, Any]:
    """The bounds of a schema field: its metadata, with `finite` added for a float field (the default)."""
    meta = found.meta
    if is_float_field(found) and not meta.get("allow_inf"):
        meta.setdefault("finite", True)
    return meta


def bound_error(key: str, value: Any, meta: dict[str, Any]) -> str | None:
    """The message if `value` breaks a bound of the field's metadata (config.param), else None.

    NaN fails every float field with one message; +-inf fails unless the field says allow_inf.
    """
    unit = meta.get("unit", "")
    shown_unit = f" {unit}" if unit in PHYSICAL else ""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isnan(value):
        return f"{key}={value}: must be a {'number' if meta.get('allow_inf') else 'finite number'}"
    if "min_int" in meta and value < meta["min_int"]:
        return f"{key}={value}: must be an integer >= {meta['min_int']}"
    if meta.get("positive") and (not value > 0 or value == math.inf):
        return f"{key}={value}: must be {'a finite number > 0' if value == math.inf else '> 0'}{shown_unit}"
    if meta.get("nonnegative") and not value >= 0:  # also refuses NaN
        return f"{key}={value}: must be >= 0{shown_unit}"
    if meta.get("probability") and not 0.0 <= value <= 1.0:
        return f"{key}={value}: must be a probability in [0, 1]"
    if meta.get("below_one") and not 0.0 <= value < 1.0:
        return f"{key}={value}: must be in [0, 1)"
    if meta.get("finite") and not math.isfinite(value):
        return f"{key}={value}: must be a finite number"
    if meta.get("finite_nonzero") and (value == 0 or not math.isfinite(value)):
        return f"{key}={value}: must be a finite non-zero number"
    return None


@functools.lru_cache(maxsize=16)
def bounded_fields(target: str | None = None, tasks: tuple = ()) -> tuple[tuple[str, dict[str, Any]], ...]:
    """(key, bounds) of the schema fields with a bound, every float field included (finite by
    default), in schema order (task.*: task TARGET's)."""
    found = ((f.key, field_bounds(f)) for f in schema_fields(target=target))
    return tuple((key, meta) for key, meta in found if meta.keys() & set(BOUNDS))


_REFERENCE = re.compile(r"\$\{(\.*[A-Za-z_][\w.]*)\}")


def interpolation_sources(cfg: DictConfig, key: str) -> list[str]:
    """`key=value` of each set (not derived) key that the derived value at KEY is computed from,
    following derived keys it names; e.g. neuron.rec.gamma=0.3 and neuron.rec.V_th=-0.03 for
    neuron.rec.surrogate_gradient_height."""
    found: list[str] = []
    todo, seen = [key], set()
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.add(current)
        parent, _, name = current.rpartition(".")
        container = OmegaConf.select(cfg, parent) if parent else cfg
        if container is None or name not in container:
            continue
        if not OmegaConf.is_interpolation(container, name):
            found.append(f"{current}={container[name]}")
            continue
        for ref in _REFERENCE.findall(str(container._get_node(name)._value())):
            if ref.startswith("."):  # relative to the key's parent: .V_th, ..x
                dots = len(ref) - len(ref.lstrip("."))
                base = parent.split(".") if parent else []
                base = base[: len(base) - (dots - 1)] if dots > 1 else base
                ref = ".".join([*base, ref.lstrip(".")])
            todo.append(ref)
    return found


def check_bounds(cfg: DictConfig, derived: bool | None = None) -> None:
    """Every bound of the schema's field metadata: set values first, then derived ones (`${...}`),
    so that a bad value is named where it was written, not where it was copied to. A derived value
    that breaks a bound is named by the set values it is computed from. `derived`: only set
    (False) or only derived (True) values; None: both."""
    from eprop.tasks import TASKS

    bounded = bounded_fields(str(cfg.task.target), tuple(TASKS.items()))
    for is_derived in (False, True) if derived is None else (derived,):
        for key, meta in bounded:
            parent, _, name = key.rpartition(".")
            container = OmegaConf.select(cfg, parent) if parent else cfg
            if container is None or name not in container or OmegaConf.is_interpolation(container, name) != is_derived:
                continue
            if message := bound_error(key, container[name], meta):
                if is_derived and (sources := interpolation_sources(cfg, key)):
                    _, _, why = message.partition(": ")
                    verb = "gives" if len(sources) == 1 else "give"
                    message = f"{', '.join(sources)}: {verb} {key}={container[name]:.6g} (derived), which {why}"
                raise UserError(message)
    if derived is not True:
        _check_extra_population_bounds(cfg)


def _check_extra_population_bounds(cfg: DictConfig) -> None:
    """The bounds of neuron.rec's fields on the values of neuron.rec_extra[i].overrides."""
    for i, extra in enumerate(cfg.neuron.get("rec_extra") or []):
        overrides = extra.get("overrides") or {}
        for name in overrides:
            found = schema_field(f"neuron.rec.{name}")
            if found is None or OmegaConf.is_interpolation(overrides, name):
                continue
            if isinstance(overrides[name], bool) or not isinstance(overrides[name], (int, float)):
                continue  # not a number: the merge into neuron.rec's schema names it (schema.recurrent_populations)
            if message := bound_error(f"neuron.rec_extra[{i}].overrides.{name}", overrides[name], field_bounds(found)):
                raise UserError(message)


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

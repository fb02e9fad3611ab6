"""Config schemas: the dataclasses every YAML option extends, with their closed choices (Enums),
units, meanings and bounds (field metadata), and the derived-value resolvers.

Every YAML option in conf/ extends one of the dataclasses below (registered in Hydra's
ConfigStore as `<group>/_schema`), so an unknown key, a wrong type or a value outside a closed
choice fails when the config is composed, naming the key (config_errors.py makes that one
line). Each field's metadata (`param(default, doc, unit=..., min_int=..., positive=...)`) is the
one place for its unit, meaning and bounds: validation.py checks the bounds, params_doc.py
shows unit and meaning (`eprop run --params`).

The `task` group is the exception: each task declares its own keys in its module (a dataclass
extending schema_base.TaskConfig, named by the Task as `config_schema`). `task_schemas()` gives
each of them `target` as a closed choice of every task name and register_configs() stores it as
`task/_schema_<target>`, which that task's YAML names in its defaults list. Whatever needs the
task keys (typed_schema, schema_fields, validation, error messages, resume) picks them by
`task.target`.

Derived values are computed by OmegaConf resolvers, not pasted as numbers:

- `${eprop.adapt_beta:adapt_tau,tau_m_mean,scale,dt}`
  = scale * (1 - exp(-dt/adapt_tau)) / (1 - exp(-dt/tau_m_mean)), the seed's prefactor of
  the adaptive threshold (scale 1.7 in the seed).
- `${eprop.div:a,b}` = a / b, used for NEST 3.10's surrogate_gradient_height = gamma / V_th
  (the seed's `gamma`, which NEST 3.10 removed).
- `${eprop.mul:a,b}` = a * b, `${eprop.sub:a,b}` = a - b and `${eprop.pow:a,b}` = a ** b, for
  derived values such as the event-based family's (1 - kappa) scalings.
- `${eprop.task_loss:${task.target}}` = cross_entropy for a classification task, else
  mean_squared_error: the bsshslm_2020 readout's `loss`, so that the neuron options fit every task.
- `${eprop.kappa_weight_factor:scale|divide_by,neuron model,kappa,projection}` = 1 - kappa or 1:
  the weight scaling NEST's event-based scripts apply to a projection for that neuron model.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf

from eprop.config.fields import BOUNDS, TaskConfig, param  # noqa: F401  (validation and params_doc read BOUNDS here)
from eprop.errors import UserError
from eprop.tasks import TASKS

# ---------------------------------------------------------------------------- resolvers


def _adapt_beta(adapt_tau: float, tau_m_mean: float, scale: float, dt: float) -> float:
    if adapt_tau is None:
        return None  # a model without adaptation
    if min(adapt_tau, tau_m_mean, dt) <= 0:
        return float("nan")  # validate() names the offending input
    return scale * (1.0 - math.exp(-dt / adapt_tau)) / (1.0 - math.exp(-dt / tau_m_mean))


def _div(a: float, b: float) -> float:
    if b == 0:  # validate() names the values it is computed from (a non-finite value fails its bound)
        return math.nan if a == 0 else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _mul(a: float, b: float) -> float:
    return a * b


def _sub(a: float, b: float) -> float:
    return a - b


def _pow(a: float, b: float) -> float:
    return a**b


# NEST's event-based scripts scale the drawn weights by (1 - kappa), the factor of the
# eligibility trace's low-pass filter: LIF models (eprop_iaf, eprop_iaf_adapt) multiply all four
# projections by it; the psc_delta models multiply rec_out by it and divide out_rec by it.
_KAPPA_SCALED = {
    "multiply": {"in_rec", "rec_rec", "rec_out", "out_rec"},
    "psc_delta_multiply": {"rec_out"},
    "psc_delta_divide": {"out_rec"},
}


def _kappa_weight_factor(how: str, model: str, kappa: float, projection: str) -> float:
    """(1 - kappa) or 1.0: NEST's event-based weight scaling of `projection` for `model`.

    `how` is "scale" (the factor the drawn weights are multiplied by) or "divide_by".
    """
    if kappa is None:
        return 1.0
    psc_delta = "psc_delta" in str(model)
    if how == "scale":
        chosen = _KAPPA_SCALED["psc_delta_multiply" if psc_delta else "multiply"]
    else:
        chosen = _KAPPA_SCALED["psc_delta_divide"] if psc_delta else set()
    return 1.0 - kappa if projection in chosen else 1.0


def _task_loss(target: str) -> str:
    """The readout loss a task needs: cross_entropy for a classification task, else mean_squared_error."""
    task = TASKS.get(str(target))
    return "cross_entropy" if task is not None and task.kind == "classification" else "mean_squared_error"


def register_resolvers() -> None:
    """Register eprop's OmegaConf resolvers (idempotent)."""
    resolvers = (
        ("eprop.task_loss", _task_loss),
        ("eprop.adapt_beta", _adapt_beta),
        ("eprop.div", _div),
        ("eprop.mul", _mul),
        ("eprop.sub", _sub),
        ("eprop.pow", _pow),
        ("eprop.kappa_weight_factor", _kappa_weight_factor),
    )
    for name, fn in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


# ---------------------------------------------------------------------------- field metadata

# param() and BOUNDS live in schema_base.py, which the task modules import too.


# Closed choices: a value outside them fails at composition with "must be one of ...".
# StrEnum members compare, hash and format as their string value.


# The task names come from the task registry (tasks/__init__.py), the one place that lists them;
# task_schemas() types every task schema's `target` with it.
Target = StrEnum("Target", {name: name for name in TASKS})


class SurrogateGradient(StrEnum):  # NEST 3.10's surrogate_gradient_function values
    piecewise_linear = "piecewise_linear"
    exponential = "exponential"
    fast_sigmoid_derivative = "fast_sigmoid_derivative"
    arctan_derivative = "arctan_derivative"


class ReadoutLoss(StrEnum):
    mean_squared_error = "mean_squared_error"
    cross_entropy = "cross_entropy"


class OptimizerType(StrEnum):
    adam = "adam"
    gradient_descent = "gradient_descent"


class Family(StrEnum):
    bsshslm_2020 = "bsshslm_2020"
    eprop = "eprop"


class RecurrentVariable(StrEnum):  # recordable by some recurrent e-prop model
    V_m = "V_m"
    surrogate_gradient = "surrogate_gradient"
    learning_signal = "learning_signal"
    V_th_adapt = "V_th_adapt"
    adaptation = "adaptation"
    eprop_history_duration = "eprop_history_duration"


class ReadoutVariable(StrEnum):  # recordable by some e-prop readout model
    V_m = "V_m"
    readout_signal = "readout_signal"
    readout_signal_unnorm = "readout_signal_unnorm"
    target_signal = "target_signal"
    error_signal = "error_signal"
    eprop_history_duration = "eprop_history_duration"


# ---------------------------------------------------------------------------- schemas


@dataclass
class RecurrentNeuronConfig:
    model: str = param("eprop_iaf_adapt_bsshslm_2020", "NEST model name")
    n: int = param(200, "number of recurrent neurons", min_int=1)
    C_m: float = param(250.0, "membrane capacitance", unit="pF", positive=True)
    c_reg: float = param(150.0, "firing-rate regularization scaling", unit="dimensionless", nonnegative=True)
    E_L: float = param(0.0, "leak / resting potential", unit="mV")
    f_target: float = param(20.0, "regularization target rate", unit="spikes/s", nonnegative=True)
    gamma: float | None = param(
        0.3, "seed's pseudo-derivative scale; NEST 3.10: height = gamma / V_th", unit="dimensionless", positive=True
    )
    surrogate_gradient_height: float = param(MISSING, "derived in YAML", unit="dimensionless", positive=True)
    surrogate_gradient_width: float = param(MISSING, "derived in YAML (= V_th)", unit="mV", positive=True)
    surrogate_gradient_function: SurrogateGradient = param(
        SurrogateGradient.piecewise_linear, "pseudo-derivative shape"
    )
    I_e: float = param(0.0, "constant external current", unit="pA")
    regular_spike_arrival: bool | None = param(
        False, "spikes arrive at the step's end (True) or start (False); null: not passed (model=eprop)"
    )
    t_ref: float = param(0.0, "refractory period", unit="ms", nonnegative=True)
    tau_m_mean: float = param(30.0, "mean of the per-neuron membrane time constant", unit="ms", positive=True)
    tau_m_std: float = param(
        2.0, "std of the per-neuron membrane time constant (NEST rng)", unit="ms", nonnegative=True
    )
    V_m: float = param(0.0, "initial membrane potential", unit="mV")
    V_th: float = param(0.03, "spike threshold (> E_L)", unit="mV")
    V_reset: float | None = param(None, "reset potential (psc_delta models, < V_th); null: not passed", unit="mV")
    adapt_tau: float | None = param(2000.0, "adaptation time constant (adaptive models only)", unit="ms", positive=True)
    adapt_beta_scale: float = param(1.7, "prefactor of adapt_beta", unit="dimensionless", nonnegative=True)
    adapt_beta: float | None = param(
        None, "derived in YAML (adaptive models only)", unit="dimensionless", nonnegative=True
    )
    adaptation: float | None = param(
        None, "initial threshold adaptation (adaptive models); null: not passed", unit="mV"
    )
    kappa: float | None = param(
        None,
        "eligibility-trace low-pass filter (model=eprop); null: not passed",
        unit="dimensionless",
        probability=True,
    )
    kappa_reg: float | None = param(
        None, "firing-rate low-pass filter for regularization (model=eprop)", unit="dimensionless", probability=True
    )
    eprop_isi_trace_cutoff: float | None = param(
        None,
        "cutoff of the trace integration between spikes (model=eprop; inf: none)",
        unit="ms",
        nonnegative=True,
        allow_inf=True,
    )
    params: dict[str, Any] = param(doc="further NEST parameters, passed through", factory=dict)


@dataclass
class ReadoutNeuronConfig:
    model: str = param("eprop_readout_bsshslm_2020", "NEST model name")
    C_m: float = param(1.0, "membrane capacitance", unit="pF", positive=True)
    E_L: float = param(0.0, "leak potential", unit="mV")
    I_e: float = param(0.0, "constant external current", unit="pA")
    loss: ReadoutLoss | None = param(
        ReadoutLoss.mean_squared_error,
        "loss function; null: not passed (eprop_readout has none)",
        choices_note="or null for eprop_readout",
    )
    regular_spike_arrival: bool | None = param(
        False, "spikes arrive at the step's end (True) or start (False); null: not passed"
    )
    tau_m: float = param(
        50.0, "membrane time constant (also the bsshslm_2020 synapses' tau_m_readout)", unit="ms", positive=True
    )
    V_m: float = param(0.0, "initial membrane potential", unit="mV")
    eprop_isi_trace_cutoff: float | None = param(
        None,
        "cutoff of the trace integration between spikes (model=eprop; inf: none)",
        unit="ms",
        nonnegative=True,
        allow_inf=True,
    )
    params: dict[str, Any] = param(doc="further NEST parameters, passed through", factory=dict)


@dataclass
class ExtraRecurrentPopulation:
    """A further recurrent population, created after neuron.rec (and after the extras before it)."""

    model: str = param(MISSING, "NEST model name (of the same family as neuron.rec.model)")
    n: int = param(MISSING, "neurons of this population", min_int=1)
    overrides: dict[str, Any] = param(
        doc="keys of neuron.rec with this population's values; the others as neuron.rec", factory=dict
    )


@dataclass
class NeuronConfig:
    rec: RecurrentNeuronConfig = field(default_factory=RecurrentNeuronConfig)
    rec_extra: list[ExtraRecurrentPopulation] = param(
        doc="further recurrent populations after neuron.rec, in NEST creation order", factory=list
    )
    readout: ReadoutNeuronConfig = field(default_factory=ReadoutNeuronConfig)


@dataclass
class OptimizerConfig:
    type: OptimizerType = param(MISSING, "optimizer of the e-prop synapses")
    eta: float = param(5e-3, "learning rate", unit="dimensionless", positive=True)
    beta_1: float = param(0.9, "Adam: decay rate of the first moment", unit="dimensionless", below_one=True)
    beta_2: float = param(0.999, "Adam: decay rate of the second raw moment", unit="dimensionless", below_one=True)
    epsilon: float = param(1e-8, "Adam: numerical stabilizer", unit="dimensionless", positive=True)
    Wmin: float = param(-100.0, "lower weight bound", unit="pA")
    Wmax: float = param(100.0, "upper weight bound", unit="pA")
    batch_size: int | None = param(
        None, "NEST optimizer batch_size; null: task.batch_size (bsshslm_2020) or 1 (eprop)", min_int=1
    )
    optimize_each_step: bool | None = param(
        None, "optimize every time step (true) or once per spike; null: NEST default"
    )
    params: dict[str, Any] = param(doc="further optimizer parameters, checked against NEST", factory=dict)


@dataclass
class SynapseConfig:
    average_gradient: bool | None = param(
        False, "average the gradient over the learning window (bsshslm_2020 only; null: not passed)"
    )
    weight_dtype: str = param("float32", "dtype of the initial weights (float32 as the seed, for TF parity)")
    params: dict[str, Any] = param(doc="further e-prop synapse parameters, checked against NEST", factory=dict)


@dataclass
class ModelConfig:
    family: Family = param(Family.bsshslm_2020, "NEST e-prop model family (eprop: the event-based models)")
    eta_factor: float = param(
        1.0,
        "the optimizer options' default eta is multiplied by it (model=eprop: (1 - kappa)^2)",
        unit="dimensionless",
        positive=True,
    )


class WeightInit(StrEnum):
    normal_fan_in = "normal_fan_in"  # N(0, 1) / sqrt(n_source)
    normal = "normal"  # N(0, 1)
    glorot_uniform = "glorot_uniform"  # U(+-sqrt(3 / max(1, (n_source + n_target) / 2)))


@dataclass
class ProjectionInitConfig:
    init: WeightInit = param(
        WeightInit.normal_fan_in,
        "draw: normal_fan_in N(0,1)/sqrt(n_source), normal N(0,1), "
        "glorot_uniform U(+-sqrt(3 / max(1, (n_source + n_target) / 2))); see eprop/training/weights.py",
    )
    scale: float = param(
        1.0,
        "the drawn normal/sqrt(fan_in) weights are multiplied by it (in weight_dtype)",
        unit="dimensionless",
        finite=True,
    )
    divide_by: float = param(
        1.0,
        "... then divided by it (exact in weight_dtype, unlike a reciprocal scale)",
        unit="dimensionless",
        finite_nonzero=True,
    )
    sparsity: float | None = param(
        None,
        "fraction of the connections removed by a mask drawn after all weights (0.75: a quarter kept); "
        "null: all to all, no mask drawn; 0: a mask is drawn that keeps every connection; "
        "see eprop/training/weights.py",
        unit="dimensionless",
        below_one=True,
    )


@dataclass
class WeightsConfig:
    load: str | None = param(
        None, "results.h5 or run directory whose /weights/final replace the drawn weights; null: draw"
    )
    in_rec: ProjectionInitConfig = param(doc="input -> recurrent", factory=ProjectionInitConfig)
    rec_rec: ProjectionInitConfig = param(doc="recurrent -> recurrent (autapses stay 0)", factory=ProjectionInitConfig)
    rec_out: ProjectionInitConfig = param(doc="recurrent -> readout", factory=ProjectionInitConfig)
    out_rec: ProjectionInitConfig = param(doc="readout -> recurrent (feedback)", factory=ProjectionInitConfig)


@dataclass
class RecordingConfig:
    n_record: int = param(1, "recurrent neurons whose state variables are recorded (0: none)", min_int=0)
    rec_variables: list[RecurrentVariable] = param(doc="recurrent multimeter variables", factory=list)
    out_variables: list[ReadoutVariable] = param(
        doc="readout multimeter variables",
        factory=lambda: [ReadoutVariable.readout_signal, ReadoutVariable.target_signal],
    )
    spikes_input: bool = param(True, "record the input (parrot) neurons' spikes")
    spikes_recurrent: bool = param(True, "record the recurrent neurons' spikes")
    n_record_w: int = param(
        3, "senders/targets per population for the weight recorder (0: no weight recorder)", min_int=0
    )
    interval: float = param(1.0, "multimeter sampling interval", unit="ms", positive=True)
    saturated_rate: float = param(
        0.9,
        "fraction of the maximal rate 1000 / max(kernel.resolution, t_ref) spikes/s; a mean recurrent rate above it "
        "(nearly every neuron spiking nearly every step) ends the run as diverged; above 0.2 of it a warning line only",
    )
    # The recording schedule (eprop/training/event_schedule.py): whose recorder events are written; /loss is written for every iteration.
    events_every: int = param(
        1,
        "write the recorders' events of every k-th training iteration (k, 2k, ...; 1: every iteration; 0: none "
        "but events_first, events_last and the run's last iteration)",
        unit="iterations",
        min_int=0,
    )
    events_first: int = param(
        0, "also write the events of the first N training iterations", unit="iterations", min_int=0
    )
    events_last: int = param(
        0, "also write the events of the last N of task.n_iter training iterations", unit="iterations", min_int=0
    )


@dataclass
class KernelConfig:
    resolution: float = param(1.0, "simulation time step", unit="ms", positive=True)
    threads: int = param(1, "NEST local_num_threads (OpenMP)", min_int=1)
    total_num_virtual_procs: int | None = param(
        None, "NEST virtual processes; null: = threads. Results depend on it.", min_int=1
    )
    print_time: bool = param(False, "NEST's own progress line")
    eprop_reset_neurons_on_update: bool = param(True, "reset neuron state at each update interval")
    flush_event_send_interval: float | None = param(
        None, "null: one sequence (bounds NEST's e-prop history)", unit="ms", positive=True
    )
    weight_recorder_model: bool = param(True, "give the weight recorder its own synapse copy (faster, same results)")
    params: dict[str, Any] = param(doc="further NEST kernel parameters, checked against NEST", factory=dict)


@dataclass
class OutputConfig:
    file: str = param("results.h5", "results file name inside the run directory")
    compress_events: bool = param(
        False, "lzf-compress recorder events: ~3x smaller files, but a SIGKILL can then damage flushed events"
    )


@dataclass
class PhasesConfig:
    """NEST's evidence-accumulation example's phases (eprop/config/phases.py); the defaults: every iteration is training."""

    validate_every: int = param(
        0,
        "training iterations between validations (one before training iterations 0, n, 2n, ...); "
        "0: no validation, no early stopping",
        unit="iterations",
        min_int=0,
    )
    n_early_stop: int = param(
        8,
        "early-stopping iterations after a validation whose preceding training error is below "
        "stop_error; training stops if their mean error is below it too",
        unit="iterations",
        min_int=0,
    )
    stop_error: float = param(
        0.07, "error (1 - accuracy, fraction of sequences) below which training stops early", probability=True
    )
    n_test: int = param(0, "test iterations (learning rate 0) after training", unit="iterations", min_int=0)


@dataclass
class Config:
    task: Any = MISSING  # the task's own schema (task_schemas()), chosen by the task YAML's defaults list
    neuron: NeuronConfig = MISSING
    optimizer: OptimizerConfig = MISSING
    recording: RecordingConfig = MISSING
    kernel: KernelConfig = MISSING
    synapse: SynapseConfig = field(default_factory=SynapseConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    phases: PhasesConfig = field(default_factory=PhasesConfig)
    seed: int = param(1, "numpy RandomState seed and NEST rng_seed", min_int=1)
    progress: bool = param(True, "rich progress bar")
    experiment: str | None = param(None, "name of the applied experiment preset, if any")
    resume: str | None = param(None, "run directory to continue from (see eprop/training/resume.py)")


GROUP_SCHEMAS = {
    "task": TaskConfig,  # the keys of every task; each task's own schema: task_schemas()
    "neuron": NeuronConfig,
    "optimizer": OptimizerConfig,
    "recording": RecordingConfig,
    "kernel": KernelConfig,
}

# The NEST models of each e-prop family: recurrent neuron models (the `neuron=` options of
# that family), readout, synapse and feedback (learning-signal) connection.
FAMILIES = {
    "bsshslm_2020": {
        "recurrent": ("eprop_iaf_adapt_bsshslm_2020", "eprop_iaf_bsshslm_2020"),
        "neuron_options": ("alif", "lif"),
        "readout": "eprop_readout_bsshslm_2020",
        "synapse": "eprop_synapse_bsshslm_2020",
        "learning_signal": "eprop_learning_signal_connection_bsshslm_2020",
    },
    "eprop": {
        "recurrent": ("eprop_iaf", "eprop_iaf_adapt", "eprop_iaf_psc_delta", "eprop_iaf_psc_delta_adapt"),
        "neuron_options": ("eprop_iaf", "eprop_iaf_adapt", "eprop_iaf_psc_delta", "eprop_iaf_psc_delta_adapt"),
        "readout": "eprop_readout",
        "synapse": "eprop_synapse",
        "learning_signal": "eprop_learning_signal_connection",
    },
}


def register_configs() -> None:
    """Register the schemas in Hydra's ConfigStore and the resolvers in OmegaConf."""
    from hydra.core.config_store import ConfigStore

    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="_config_schema", node=Config)
    for group, schema in GROUP_SCHEMAS.items():
        if group != "task":
            cs.store(group=group, name="_schema", node=schema)
    for target, schema in task_schemas().items():
        cs.store(group="task", name=f"_schema_{target}", node=schema)


# ---------------------------------------------------------------------------- task schemas


@functools.lru_cache(maxsize=4)
def _task_schemas(tasks: tuple[tuple[str, type], ...]) -> dict[str, type]:
    names = [name for name, _ in tasks]
    targets = (
        Target if names == [t.value for t in Target] else StrEnum("Target", {n: n for n in names}, module=__name__)
    )
    target_doc = next(f for f in dataclasses.fields(TaskConfig) if f.name == "target").metadata["doc"]
    made: dict[type, type] = {}
    for _, task in tasks:
        schema = task.config_schema
        if schema not in made:  # one class per schema, even if several tasks share it
            typed = dataclasses.make_dataclass(
                schema.__name__, [("target", targets, param(MISSING, target_doc))], bases=(schema,)
            )
            typed.__module__, typed.__qualname__, typed.__doc__ = schema.__module__, schema.__qualname__, schema.__doc__
            made[schema] = typed
    return {name: made[task.config_schema] for name, task in tasks}


def task_schemas() -> dict[str, type]:
    """target -> the schema of that task's keys: its Task's `config_schema`, with `target` the closed
    choice of every task name (so that `task.target=typo` fails at composition, listing them).

    Built from the task registry when asked, so that a task added to TASKS (e.g. by a test) is seen.
    """
    return _task_schemas(tuple(TASKS.items()))


def task_schema(target: Any = None) -> type:
    """The schema of task.* for TARGET; the keys of every task (schema_base.TaskConfig) for None or an unknown target."""
    return task_schemas().get(str(target), TaskConfig) if target is not None else TaskConfig


def target_of_schema(class_name: str) -> str | None:
    """The (first) task target whose schema class is named CLASS_NAME (as OmegaConf's messages name it), else None."""
    return next((target for target, schema in task_schemas().items() if schema.__name__ == class_name), None)


# ---------------------------------------------------------------------------- schema lookups


def typed_schema(target: Any = None) -> DictConfig:
    """The whole config schema, with each group's dataclass filled in (values MISSING where required);
    task.* is the schema of task TARGET (task_schema(target))."""
    schema = OmegaConf.structured(Config)
    for group, group_schema in GROUP_SCHEMAS.items():
        schema[group] = OmegaConf.structured(task_schema(target) if group == "task" else group_schema)
    return schema


@dataclass(frozen=True)
class SchemaField:
    """One leaf of the schema: its dotted key, the dataclass field, and its metadata."""

    key: str
    field: dataclasses.Field
    type: Any

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.field.metadata)

    @property
    def unit(self) -> str:
        return self.field.metadata.get("unit", "")

    @property
    def choices(self) -> type[Enum] | None:
        """The Enum of a closed choice (also of a list of choices or an optional choice), else None."""
        kinds = [self.type, *typing.get_args(self.type)]
        return next((k for k in kinds if isinstance(k, type) and issubclass(k, Enum)), None)


def schema_fields(cls: type = None, prefix: str = "", target: Any = None):
    """Every field of the schema (config.Config and the group schemas), nested ones included.

    task.*: the fields of task TARGET's schema; with target=None, those of every task (each key
    once, the first task in TASKS that has it giving its metadata).
    """
    if cls is None:
        cls = Config
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if cls is Config and f.name == "task":
            schemas = [task_schema(target)] if target is not None else list(dict.fromkeys(task_schemas().values()))
            seen = set()
            for schema in schemas:
                for found in schema_fields(schema, "task."):
                    if found.key not in seen:
                        seen.add(found.key)
                        yield found
            continue
        kind = GROUP_SCHEMAS.get(f.name, hints[f.name]) if cls is Config else hints[f.name]
        yield SchemaField(prefix + f.name, f, kind)
        if dataclasses.is_dataclass(kind):
            yield from schema_fields(kind, f"{prefix}{f.name}.")


@functools.lru_cache(maxsize=16)
def _fields_by_key(target: str | None, tasks: tuple) -> dict[str, SchemaField]:
    return {f.key: f for f in schema_fields(target=target)}


def schema_field(key: str, target: Any = None) -> SchemaField | None:
    """The schema field at a dotted key (e.g. neuron.rec.V_th), or None; a task.* key in task
    TARGET's schema (target=None: in the first task's schema that has it)."""
    return _fields_by_key(None if target is None else str(target), tuple(TASKS.items())).get(key)


def recurrent_populations(cfg: DictConfig) -> list[tuple[str, DictConfig]]:
    """(config key, resolved neuron config) of each recurrent population, in NEST's creation order.

    neuron.rec first, then each neuron.rec_extra[i]: neuron.rec's (resolved) values with the
    entry's model, n and overrides. The recurrent layer is their concatenation, node ids in
    this order.
    """

    def plain(merged: DictConfig) -> DictConfig:  # NEST takes str, not the schema's Enum
        return OmegaConf.create(OmegaConf.to_container(merged, enum_to_str=True))

    rec = OmegaConf.to_container(cfg.neuron.rec, resolve=True, enum_to_str=True)
    pops = [("neuron.rec", plain(OmegaConf.merge(OmegaConf.structured(RecurrentNeuronConfig), rec)))]
    for i, extra in enumerate(cfg.neuron.get("rec_extra") or []):
        key = f"neuron.rec_extra[{i}]"
        overrides = OmegaConf.to_container(extra.overrides, resolve=True)
        for name in ("model", "n"):
            if name in overrides:
                raise UserError(f"{key}.overrides.{name}: give it as {key}.{name}")
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(RecurrentNeuronConfig)})
        if unknown:
            raise UserError(
                f"{key}.overrides.{unknown[0]}: not a key of neuron.rec (overrides set neuron.rec's keys for this population)"
            )
        try:
            merged = OmegaConf.merge(
                OmegaConf.structured(RecurrentNeuronConfig), rec, {"model": extra.model, "n": extra.n, **overrides}
            )
        except Exception as err:  # a value of the wrong type; OmegaConf's message names the key
            raise UserError(f"{key}.overrides: {' '.join(str(err).split())[:200]}")
        pops.append((key, plain(merged)))
    return pops


def n_recurrent(cfg: DictConfig) -> int:
    """Neurons in the recurrent layer: neuron.rec.n plus every neuron.rec_extra[i].n."""
    return int(cfg.neuron.rec.n) + sum(int(extra.n) for extra in (cfg.neuron.get("rec_extra") or []))


def conf_dir() -> str:
    """The config directory: packaged in the wheel, or conf/ at the top of a source checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return str(candidate)
    raise RuntimeError(f"eprop's conf/ directory was not found in or next to {package}")


def with_plain_choices(cfg: DictConfig) -> DictConfig:
    """The config with each closed choice (Enum) as its plain string, interpolations kept.

    NEST (and h5py) take `str`, not an Enum; the run gets this copy after the schema has checked
    the choices at composition. Struct mode stays on, so a misspelt key still fails.
    """
    plain = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False, enum_to_str=True))
    OmegaConf.set_struct(plain, True)
    return plain

"""Config schemas: the dataclasses every YAML option extends, with their units, meanings and
bounds (field metadata).

Every YAML option in conf/ extends one of the dataclasses below (registered in Hydra's
ConfigStore as `<group>/_schema` by store.py), so an unknown key, a wrong type or a value outside
a closed choice (choices.py) fails when the config is composed, naming the key (hydra_errors.py
makes that one line). Each field's metadata (`param(default, doc, unit=..., min_int=...,
positive=...)`, fields.py) is the one place for its unit, meaning and bounds: validation.py
checks the bounds, params_doc.py shows unit and meaning (`eprop run --params`).

The `task` group is the exception: each task declares its own keys in its module (a dataclass
extending fields.TaskConfig, named by the Task as `config_schema`). `lookup.task_schemas()` gives
each of them `target` as a closed choice of every task name and store.register_configs() stores
it as `task/_schema_<target>`, which that task's YAML names in its defaults list. Whatever needs
the task keys (typed_schema, schema_fields, validation, error messages, resume) picks them by
`task.target`.

Derived values are computed by OmegaConf resolvers (resolvers.py), not pasted as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from eprop.config.choices import (
    Family,
    OptimizerType,
    ReadoutLoss,
    ReadoutVariable,
    RecurrentVariable,
    SurrogateGradient,
    WeightInit,
)
from eprop.config.fields import TaskConfig, param

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

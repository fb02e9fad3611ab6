"""Config schemas, derived-value resolvers and the one validation function.

Every YAML option in conf/ extends one of the dataclasses below (registered in Hydra's
ConfigStore as `<group>/_schema`), so an unknown key or a wrong type fails when the config
is composed, naming the key. Range and cross-field checks live in `validate(cfg)`.

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

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from omegaconf import MISSING, DictConfig, OmegaConf

from .errors import UserError
from .tasks import task_for

# ---------------------------------------------------------------------------- resolvers


def _adapt_beta(adapt_tau: float, tau_m_mean: float, scale: float, dt: float) -> float:
    if adapt_tau is None:
        return None  # a model without adaptation
    if min(adapt_tau, tau_m_mean, dt) <= 0:
        return float("nan")  # validate() names the offending input
    return scale * (1.0 - math.exp(-dt / adapt_tau)) / (1.0 - math.exp(-dt / tau_m_mean))


def _div(a: float, b: float) -> float:
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
    from .tasks import TASKS

    task = TASKS.get(target)
    return "cross_entropy" if task is not None and task.kind == "classification" else "mean_squared_error"


def register_resolvers() -> None:
    """Register eprop's OmegaConf resolvers (idempotent)."""
    resolvers = (("eprop.task_loss", _task_loss), ("eprop.adapt_beta", _adapt_beta), ("eprop.div", _div), ("eprop.mul", _mul), ("eprop.sub", _sub), ("eprop.pow", _pow),
                 ("eprop.kappa_weight_factor", _kappa_weight_factor))
    for name, fn in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


# ---------------------------------------------------------------------------- schemas


@dataclass
class TaskConfig:
    name: str = MISSING  # task name, also the first level of the output directory
    target: str = MISSING  # target generator: handwriting | infinite_loop | sine_waves | custom
    n_iter: int = 5  # training iterations
    batch_size: int = 1  # sequences per weight update
    n_in: int = 100  # input (Poisson frozen-noise) channels
    input_spike_prob: float = 0.05  # spike probability per input channel and time step
    steps_per_data_point: int = 8  # time steps per sample of the data file (handwriting)
    sequence_steps: Optional[int] = None  # time steps per sequence; null: data length × steps_per_data_point
    data_file: Optional[str] = None  # trajectory file; null: the pinned download (handwriting); required for custom
    data_format: str = "increments"  # custom: rows are increments (cumulated, as handwriting) | samples (absolute)
    sine_periods: List[int] = field(default_factory=lambda: [1000, 500, 333, 200])  # time steps; sine_waves: one sine per period
    clear_first_input_step: bool = True  # no input spike at step 0 of a sequence (bsshslm_2020 scripts: true, event-based: false)
    offset_gen: int = 1  # time steps; generator signals start at step 1
    delay_in_rec: int = 1  # time steps; input -> recurrent connection delay
    delay_rec_out: int = 1  # time steps; recurrent -> readout delay in the timing (0 for model=eprop)
    delay_out_norm: int = 1  # time steps; readout normalization delay in the timing (0 for model=eprop)
    extension_sim: int = 1  # time steps; closes the right-open interval of the last Simulate
    # evidence_accumulation only (defaults: NEST's example); see eprop_cli/tasks/evidence_accumulation.py
    n_cues: int = 7  # cues per sequence
    cue_ms: float = 100.0  # ms, duration of one cue
    spacing_ms: float = 50.0  # ms, silence before each cue
    bg_noise_ms: float = 1050.0  # ms, background noise between the last cue and the recall window
    recall_ms: float = 150.0  # ms, recall window at the end of each sequence (= NEST's eprop_learning_window)
    n_per_population: int = 10  # input neurons in each of the 4 populations (left cue, right cue, recall, noise)
    cue_spike_prob: float = 0.04  # spike probability per step of a cue population while its cue is shown
    recall_spike_prob: float = 0.04  # spike probability per step of the recall population in the recall window
    noise_spike_prob: float = 0.01  # spike probability per step of the noise population, throughout
    prob_group: float = 0.3  # probability that a cue lands on the minority side


@dataclass
class RecurrentNeuronConfig:
    model: str = "eprop_iaf_adapt_bsshslm_2020"  # NEST model name
    n: int = 200  # number of recurrent neurons
    C_m: float = 250.0  # pF, membrane capacitance
    c_reg: float = 150.0  # firing-rate regularization scaling (dimensionless)
    E_L: float = 0.0  # mV, leak / resting potential
    f_target: float = 20.0  # spikes/s, regularization target rate
    gamma: Optional[float] = 0.3  # seed's pseudo-derivative scale (dimensionless); NEST 3.10: height = gamma / V_th
    surrogate_gradient_height: float = MISSING  # dimensionless; derived in YAML
    surrogate_gradient_width: float = MISSING  # mV; derived in YAML (= V_th)
    surrogate_gradient_function: str = "piecewise_linear"  # pseudo-derivative shape
    I_e: float = 0.0  # pA, constant external current
    regular_spike_arrival: Optional[bool] = False  # spikes arrive at the step's end (True) or start (False); null: not passed (model=eprop)
    t_ref: float = 0.0  # ms, refractory period
    tau_m_mean: float = 30.0  # ms, mean of the per-neuron membrane time constant
    tau_m_std: float = 2.0  # ms, std of the per-neuron membrane time constant (NEST rng)
    V_m: float = 0.0  # mV, initial membrane potential
    V_th: float = 0.03  # mV, spike threshold
    V_reset: Optional[float] = None  # mV, reset potential (psc_delta models); null: not passed
    adapt_tau: Optional[float] = 2000.0  # ms, adaptation time constant (adaptive models only)
    adapt_beta_scale: float = 1.7  # dimensionless prefactor of adapt_beta
    adapt_beta: Optional[float] = None  # dimensionless; derived in YAML (adaptive models only)
    adaptation: Optional[float] = None  # mV, initial threshold adaptation (adaptive models); null: not passed
    kappa: Optional[float] = None  # dimensionless, eligibility-trace low-pass filter (model=eprop); null: not passed
    kappa_reg: Optional[float] = None  # dimensionless, firing-rate low-pass filter for regularization (model=eprop)
    eprop_isi_trace_cutoff: Optional[float] = None  # ms, cutoff of the trace integration between spikes (model=eprop)
    params: Dict[str, Any] = field(default_factory=dict)  # further NEST parameters, passed through


@dataclass
class ReadoutNeuronConfig:
    model: str = "eprop_readout_bsshslm_2020"  # NEST model name
    C_m: float = 1.0  # pF, membrane capacitance
    E_L: float = 0.0  # mV, leak potential
    I_e: float = 0.0  # pA, constant external current
    loss: Optional[str] = "mean_squared_error"  # loss function; null: not passed (eprop_readout has none)
    regular_spike_arrival: Optional[bool] = False  # spikes arrive at the step's end (True) or start (False); null: not passed
    tau_m: float = 50.0  # ms, membrane time constant (also the bsshslm_2020 synapses' tau_m_readout)
    V_m: float = 0.0  # mV, initial membrane potential
    eprop_isi_trace_cutoff: Optional[float] = None  # ms, cutoff of the trace integration between spikes (model=eprop)
    params: Dict[str, Any] = field(default_factory=dict)  # further NEST parameters, passed through


@dataclass
class ExtraRecurrentPopulation:
    """A further recurrent population, created after neuron.rec (and after the extras before it)."""

    model: str = MISSING  # NEST model name (of the same family as neuron.rec.model)
    n: int = MISSING  # neurons
    overrides: Dict[str, Any] = field(default_factory=dict)  # keys of neuron.rec with this population's values; the others as neuron.rec


@dataclass
class NeuronConfig:
    rec: RecurrentNeuronConfig = field(default_factory=RecurrentNeuronConfig)
    rec_extra: List[ExtraRecurrentPopulation] = field(default_factory=list)  # further recurrent populations, in NEST's creation order
    readout: ReadoutNeuronConfig = field(default_factory=ReadoutNeuronConfig)


@dataclass
class OptimizerConfig:
    type: str = MISSING  # adam | gradient_descent
    eta: float = 5e-3  # learning rate (dimensionless)
    beta_1: float = 0.9  # Adam: decay rate of the first moment
    beta_2: float = 0.999  # Adam: decay rate of the second raw moment
    epsilon: float = 1e-8  # Adam: numerical stabilizer
    Wmin: float = -100.0  # pA, lower weight bound
    Wmax: float = 100.0  # pA, upper weight bound
    batch_size: Optional[int] = None  # NEST optimizer batch_size; null: task.batch_size (bsshslm_2020) or 1 (eprop)
    optimize_each_step: Optional[bool] = None  # optimize every time step (true) or once per spike; null: NEST default
    params: Dict[str, Any] = field(default_factory=dict)  # further optimizer parameters, checked against NEST


@dataclass
class SynapseConfig:
    average_gradient: Optional[bool] = False  # average the gradient over the learning window (bsshslm_2020 only; null: not passed)
    weight_dtype: str = "float32"  # dtype of the initial weights (float32 as the seed, for TF parity)
    params: Dict[str, Any] = field(default_factory=dict)  # further e-prop synapse parameters, checked against NEST


@dataclass
class ModelConfig:
    family: str = "bsshslm_2020"  # NEST e-prop model family: bsshslm_2020 | eprop (event-based)
    eta_factor: float = 1.0  # dimensionless; the optimizer options' default eta is multiplied by it (model=eprop: (1 - kappa)^2)


WEIGHT_INITS = ("normal_fan_in", "normal", "glorot_uniform")


@dataclass
class ProjectionInitConfig:
    init: str = "normal_fan_in"  # normal_fan_in: N(0, 1) / sqrt(n_source) | normal: N(0, 1) | glorot_uniform: U(+-sqrt(3 / max(1, (n_source + n_target) / 2)))
    scale: float = 1.0  # dimensionless; the drawn normal/sqrt(fan_in) weights are multiplied by it (in weight_dtype)
    divide_by: float = 1.0  # dimensionless; ... then divided by it (exact in weight_dtype, unlike a reciprocal scale)


@dataclass
class WeightsConfig:
    load: Optional[str] = None  # results.h5 or run directory whose /weights/final replace the drawn weights; null: draw
    in_rec: ProjectionInitConfig = field(default_factory=ProjectionInitConfig)  # input -> recurrent
    rec_rec: ProjectionInitConfig = field(default_factory=ProjectionInitConfig)  # recurrent -> recurrent (autapses stay 0)
    rec_out: ProjectionInitConfig = field(default_factory=ProjectionInitConfig)  # recurrent -> readout
    out_rec: ProjectionInitConfig = field(default_factory=ProjectionInitConfig)  # readout -> recurrent (feedback)


@dataclass
class RecordingConfig:
    n_record: int = 1  # recurrent neurons whose state variables are recorded (0: none)
    rec_variables: List[str] = field(default_factory=list)  # recurrent multimeter variables
    out_variables: List[str] = field(default_factory=lambda: ["readout_signal", "target_signal"])  # readout multimeter variables
    spikes_input: bool = True  # record the input (parrot) neurons' spikes
    spikes_recurrent: bool = True  # record the recurrent neurons' spikes
    n_record_w: int = 3  # senders/targets per population for the weight recorder (0: no weight recorder)
    interval: float = 1.0  # ms, multimeter sampling interval
    saturated_rate: float = 0.2  # fraction of the maximal rate 1000 / max(kernel.resolution, t_ref) spikes/s; a mean recurrent rate above it ends the run as diverged


@dataclass
class KernelConfig:
    resolution: float = 1.0  # ms, simulation time step
    threads: int = 1  # NEST local_num_threads (OpenMP)
    total_num_virtual_procs: Optional[int] = None  # NEST virtual processes; null: = threads. Results depend on it.
    print_time: bool = False  # NEST's own progress line
    eprop_reset_neurons_on_update: bool = True  # reset neuron state at each update interval
    flush_event_send_interval: Optional[float] = None  # ms; null: one sequence (bounds NEST's e-prop history)
    weight_recorder_model: bool = True  # give the weight recorder its own synapse copy (faster, same results)
    params: Dict[str, Any] = field(default_factory=dict)  # further NEST kernel parameters, checked against NEST


@dataclass
class OutputConfig:
    file: str = "results.h5"  # results file name inside the run directory
    compress_events: bool = False  # lzf-compress recorder events: ~3x smaller files, but a SIGKILL can then damage flushed events


@dataclass
class Config:
    task: TaskConfig = MISSING
    neuron: NeuronConfig = MISSING
    optimizer: OptimizerConfig = MISSING
    recording: RecordingConfig = MISSING
    kernel: KernelConfig = MISSING
    synapse: SynapseConfig = field(default_factory=SynapseConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    seed: int = 1  # numpy RandomState seed and NEST rng_seed
    progress: bool = True  # rich progress bar
    experiment: Optional[str] = None  # name of the applied experiment preset, if any
    resume: Optional[str] = None  # run directory to continue from (see eprop_cli/resume.py)


GROUP_SCHEMAS = {
    "task": TaskConfig,
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
        "learning_window": True,  # the kernel's eprop_learning_window: the loss counts only the last part of a sequence
        "synapse": "eprop_synapse_bsshslm_2020",
        "learning_signal": "eprop_learning_signal_connection_bsshslm_2020",
    },
    "eprop": {
        "recurrent": ("eprop_iaf", "eprop_iaf_adapt", "eprop_iaf_psc_delta", "eprop_iaf_psc_delta_adapt"),
        "neuron_options": ("eprop_iaf", "eprop_iaf_adapt", "eprop_iaf_psc_delta", "eprop_iaf_psc_delta_adapt"),
        "readout": "eprop_readout",
        "learning_window": False,  # the window comes from a rate generator that the network opens once, for the whole run
        "synapse": "eprop_synapse",
        "learning_signal": "eprop_learning_signal_connection",
    },
}


def recurrent_populations(cfg: DictConfig) -> list[tuple[str, DictConfig]]:
    """(config key, resolved neuron config) of each recurrent population, in NEST's creation order.

    neuron.rec first, then each neuron.rec_extra[i]: neuron.rec's values with the entry's model,
    n and overrides. The recurrent layer is their concatenation (node ids in this order).
    """
    rec = OmegaConf.to_container(cfg.neuron.rec, resolve=True)
    pops = [("neuron.rec", OmegaConf.merge(OmegaConf.structured(RecurrentNeuronConfig), rec))]
    for i, extra in enumerate(cfg.neuron.get("rec_extra") or []):
        key = f"neuron.rec_extra[{i}]"
        overrides = OmegaConf.to_container(extra.overrides, resolve=True)
        for name in ("model", "n"):
            if name in overrides:
                raise UserError(f"{key}.overrides.{name}: give it as {key}.{name}")
        try:
            merged = OmegaConf.merge(OmegaConf.structured(RecurrentNeuronConfig), rec,
                                     {"model": extra.model, "n": extra.n, **overrides})
        except Exception as err:  # an unknown key or a wrong type (OmegaConf's message names it)
            name = getattr(err, "key", None) or next(iter(overrides), "")
            raise UserError(f"{key}.overrides.{name}: not a valid value for a key of neuron.rec ({type(err).__name__})")
        pops.append((key, merged))
    return pops


def n_recurrent(cfg: DictConfig) -> int:
    """Neurons in the recurrent layer: neuron.rec.n plus every neuron.rec_extra[i].n."""
    return int(cfg.neuron.rec.n) + sum(int(extra.n) for extra in (cfg.neuron.get("rec_extra") or []))


def register_configs() -> None:
    """Register the schemas in Hydra's ConfigStore and the resolvers in OmegaConf."""
    from hydra.core.config_store import ConfigStore

    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="_config_schema", node=Config)
    for group, schema in GROUP_SCHEMAS.items():
        cs.store(group=group, name="_schema", node=schema)


# ---------------------------------------------------------------------------- validation

OPTIMIZERS = ("adam", "gradient_descent")
REC_VARIABLES = ("V_m", "surrogate_gradient", "learning_signal", "V_th_adapt", "adaptation", "eprop_history_duration")
OUT_VARIABLES = ("V_m", "readout_signal", "readout_signal_unnorm", "target_signal", "error_signal", "eprop_history_duration")


def _positive(value: Any, key: str, unit: str = "") -> None:
    if value is None or not value > 0 or value == math.inf:
        bound = "a finite number > 0" if value == math.inf else "> 0"
        raise UserError(f"{key}={value}: must be {bound}{(' ' + unit) if unit else ''}")


def _at_least(value: Any, key: str, minimum: int) -> None:
    if value is None or value < minimum:
        raise UserError(f"{key}={value}: must be an integer >= {minimum}")


def _one_of(value: Any, key: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise UserError(f"{key}={value}: must be one of {', '.join(valid)}")


def typed_schema() -> DictConfig:
    """The whole config schema, with each group's dataclass filled in (values MISSING where required)."""
    schema = OmegaConf.structured(Config)
    for group, group_schema in GROUP_SCHEMAS.items():
        schema[group] = OmegaConf.structured(group_schema)
    return schema


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


def validate(cfg: DictConfig) -> None:
    """Range and cross-field checks; raises UserError with a one-line message."""
    extra = unknown_keys(cfg, typed_schema())
    if extra:
        raise UserError(f"{extra[0]}: unknown key; the schema has no such field (see `eprop run --cfg job`)")
    k = cfg.kernel
    _positive(k.resolution, "kernel.resolution", "ms")
    tics_per_ms = k.params.get("tics_per_ms", 1000.0)  # NEST's default tic: 0.001 ms
    tics_per_ms = float(tics_per_ms) if isinstance(tics_per_ms, (int, float)) and tics_per_ms > 0 else 1000.0
    if abs(k.resolution * tics_per_ms - round(k.resolution * tics_per_ms)) > 1e-6:
        raise UserError(f"kernel.resolution={k.resolution}: must be a multiple of NEST's tic, {1.0 / tics_per_ms:g} ms "
                        "(e.g. 0.1, 0.25, 1.0)")
    _at_least(k.threads, "kernel.threads", 1)
    if k.total_num_virtual_procs is not None:
        _at_least(k.total_num_virtual_procs, "kernel.total_num_virtual_procs", 1)
        if k.total_num_virtual_procs != k.threads:
            raise UserError(
                f"kernel.total_num_virtual_procs={k.total_num_virtual_procs}: must equal kernel.threads={k.threads} "
                "(this NEST build has no MPI, so each virtual process is one thread)"
            )
    if k.flush_event_send_interval is not None:
        _positive(k.flush_event_send_interval, "kernel.flush_event_send_interval", "ms")
    t = cfg.task
    _at_least(t.n_iter, "task.n_iter", 1)
    _at_least(t.batch_size, "task.batch_size", 1)
    _at_least(t.n_in, "task.n_in", 1)
    if not 0.0 <= t.input_spike_prob <= 1.0:
        raise UserError(f"task.input_spike_prob={t.input_spike_prob}: must be a probability in [0, 1]")
    _at_least(t.steps_per_data_point, "task.steps_per_data_point", 1)
    if t.sequence_steps is not None:
        _at_least(t.sequence_steps, "task.sequence_steps", 2)
    for key in ("offset_gen", "delay_in_rec", "extension_sim"):
        _at_least(t[key], f"task.{key}", 1)
    for key in ("delay_rec_out", "delay_out_norm"):
        _at_least(t[key], f"task.{key}", 0)
    task_for(cfg).check(cfg)  # the task's own keys (tasks/); parses its data file once

    _one_of(cfg.model.family, "model.family", tuple(FAMILIES))
    family = FAMILIES[cfg.model.family]
    if cfg.neuron.rec.model not in family["recurrent"]:
        raise UserError(
            f"neuron.rec.model={cfg.neuron.rec.model}: not a model of model={cfg.model.family}; "
            f"with model={cfg.model.family} use neuron= one of {', '.join(family['neuron_options'])}"
        )
    for key, pop in recurrent_populations(cfg)[1:]:
        if pop.model not in family["recurrent"]:
            raise UserError(f"{key}.model={pop.model}: not a model of model={cfg.model.family}; "
                            f"must be one of {', '.join(family['recurrent'])}")
        _at_least(pop.n, f"{key}.n", 1)
    if cfg.neuron.readout.model != family["readout"]:
        raise UserError(f"neuron.readout.model={cfg.neuron.readout.model}: model={cfg.model.family} needs {family['readout']}")
    w = cfg.weights
    for name in ("in_rec", "rec_rec", "rec_out", "out_rec"):
        _one_of(w[name].init, f"weights.{name}.init", WEIGHT_INITS)
        if not math.isfinite(w[name].scale):
            raise UserError(f"weights.{name}.scale={w[name].scale}: must be a finite number")
        if w[name].divide_by == 0 or not math.isfinite(w[name].divide_by):
            raise UserError(f"weights.{name}.divide_by={w[name].divide_by}: must be a finite non-zero number")
    if w.load is not None and not (Path(w.load).expanduser().is_file() or (Path(w.load).expanduser() / "results.h5").is_file()):
        raise UserError(f"weights.load={w.load}: no such results file (give a results.h5 or a run directory holding one)")

    r = cfg.neuron.rec
    _at_least(r.n, "neuron.rec.n", 1)
    for key in ("C_m", "tau_m_mean"):
        _positive(r[key], f"neuron.rec.{key}", "ms" if key.startswith("tau") else "pF")
    if not r.tau_m_std >= 0:  # also refuses NaN
        raise UserError(f"neuron.rec.tau_m_std={r.tau_m_std}: must be >= 0 ms")
    if r.adapt_tau is not None:
        _positive(r.adapt_tau, "neuron.rec.adapt_tau", "ms")
    if r.t_ref < 0:
        raise UserError(f"neuron.rec.t_ref={r.t_ref}: must be >= 0 ms")
    if not r.f_target >= 0:
        raise UserError(f"neuron.rec.f_target={r.f_target}: must be >= 0 spikes/s")
    ro = cfg.neuron.readout
    _positive(ro.tau_m, "neuron.readout.tau_m", "ms")
    _positive(ro.C_m, "neuron.readout.C_m", "pF")

    o = cfg.optimizer
    _one_of(o.type, "optimizer.type", OPTIMIZERS)
    _positive(o.eta, "optimizer.eta")
    _positive(cfg.model.eta_factor, "model.eta_factor")
    for key in ("beta_1", "beta_2"):
        if not 0.0 <= o[key] < 1.0:
            raise UserError(f"optimizer.{key}={o[key]}: must be in [0, 1)")
    _positive(o.epsilon, "optimizer.epsilon")
    if o.batch_size is not None:
        _at_least(o.batch_size, "optimizer.batch_size", 1)
    if not o.Wmin < o.Wmax:
        raise UserError(f"optimizer.Wmin={o.Wmin}, optimizer.Wmax={o.Wmax}: Wmin must be < Wmax (pA)")

    rec = cfg.recording
    _at_least(rec.n_record, "recording.n_record", 0)
    _at_least(rec.n_record_w, "recording.n_record_w", 0)
    n_rec, n_rec_key = n_recurrent(cfg), ("neuron.rec.n" if not cfg.neuron.get("rec_extra") else "the recurrent neurons")
    if rec.n_record > n_rec:
        raise UserError(f"recording.n_record={rec.n_record}: must be <= {n_rec_key}={n_rec}")
    if rec.n_record_w > min(t.n_in, n_rec):
        raise UserError(f"recording.n_record_w={rec.n_record_w}: must be <= min(task.n_in, {n_rec_key})={min(t.n_in, n_rec)}")
    name = str(cfg.output.file)
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise UserError(f"output.file={name}: must be a plain file name (it is written inside the run directory)")
    _positive(rec.interval, "recording.interval", "ms")
    for v in rec.rec_variables:
        _one_of(v, "recording.rec_variables", REC_VARIABLES)
    for v in rec.out_variables:
        _one_of(v, "recording.out_variables", OUT_VARIABLES)
    for needed in ("readout_signal", "target_signal"):
        if needed not in rec.out_variables:
            raise UserError(f"recording.out_variables: must contain {needed} (the loss needs it)")
    if rec.interval != cfg.kernel.resolution:
        raise UserError(f"recording.interval={rec.interval}: must equal kernel.resolution={cfg.kernel.resolution} ms (the loss sums every step)")

    _at_least(cfg.seed, "seed", 1)
    if cfg.seed > 2**32 - 1:  # numpy RandomState and NEST rng_seed both take 32-bit seeds
        raise UserError(f"seed={cfg.seed}: must be an integer in [1, 4294967295]")
    _check_model_fits_task(cfg)
    _check_divergence_bound(cfg)


READOUT_LOSSES = {"mean_squared_error": "regression", "cross_entropy": "classification"}
_READOUT_HAS_LOSS = {"eprop_readout": ()}  # readout models without NEST's `loss` parameter


def _check_model_fits_task(cfg: DictConfig) -> None:
    """Refuse combinations that NEST would run but that cannot learn the task (one line each)."""
    loss = cfg.neuron.readout.loss
    kind = task_for(cfg).kind
    if kind == "classification" and not FAMILIES[cfg.model.family]["learning_window"]:
        raise UserError(f"task.target={cfg.task.target}: a classification task needs a learning window, which "
                        f"model={cfg.model.family} does not have here; use model=bsshslm_2020")
    if loss is None:
        return
    if "loss" not in _READOUT_HAS_LOSS.get(cfg.neuron.readout.model, ("loss",)):
        raise UserError(
            f"neuron.readout.loss={loss}: {cfg.neuron.readout.model} has no loss parameter (it always uses the mean "
            f"squared error); leave it null with model={cfg.model.family}"
        )
    if loss not in READOUT_LOSSES:
        raise UserError(f"neuron.readout.loss={loss}: must be one of {', '.join(READOUT_LOSSES)} (or null for eprop_readout)")
    if READOUT_LOSSES[loss] != kind:
        needed = next(name for name, k in READOUT_LOSSES.items() if k == kind)
        raise UserError(f"neuron.readout.loss={loss}: {READOUT_LOSSES[loss]} loss; the {kind} task {cfg.task.name} needs {needed}")


def _check_divergence_bound(cfg: DictConfig) -> None:
    bound = cfg.recording.saturated_rate
    if not 0.0 < bound <= 1.0:  # also refuses NaN
        raise UserError(f"recording.saturated_rate={bound}: must be a fraction in (0, 1] of the maximal rate 1000 / max(kernel.resolution, t_ref) spikes/s")

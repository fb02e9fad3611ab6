"""The network the simulator builds, as plain values: what `build_network` and `reset_kernel` receive.

eprop/training/translate.py makes a `NetworkDescription` from the composed config; the
simulator reads nothing else of the config (as PyNN's backends receive translated values).
Every value is the one the config gives, unchanged (the same floats, the same dict order),
so the translation changes no number NEST computes. Units are NEST's: ms, mV, pF, pA, spikes/s.

Each section that NEST may refuse keeps the config key that a one-line error names
(`key`), and its pass-through `params` (`PassThrough`): further NEST parameters the schema
does not list, checked by the simulator against NEST's own names (`<key>.params.<name>`).
The dicts are not to be mutated: the simulator copies them into what it hands NEST.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class PassThrough:
    """A config section's `params`: NEST parameters passed through as given, in the config's order."""

    section: str  # the section's config key: an unknown name is reported as <section>.params.<name>
    values: dict[str, Any] = field(default_factory=dict)
    # The error for an entry named like a schema field of the section (validation.shadowed_field's
    # text), raised once NEST has accepted the names and types, so that those mistakes are named first.
    shadow_error: str | None = None


@dataclass(frozen=True)
class KernelSettings:
    """The NEST kernel's status at the start of a run (config section `kernel`, and `seed`)."""

    resolution: float  # ms
    total_num_virtual_procs: int  # kernel.total_num_virtual_procs, or kernel.threads
    rng_seed: int  # the config's seed
    print_time: bool
    # bsshslm_2020 learns per update interval: the kernel gets eprop_update_interval (one sequence),
    # eprop_learning_window (Timing.window) and eprop_reset_neurons_on_update; the event-based
    # family ignores them, so they stay at NEST's defaults.
    per_update_interval: bool
    eprop_reset_neurons_on_update: bool
    flush_event_send_interval: float | None  # ms, of the neuron models that have it; None: one sequence
    params: PassThrough  # kernel.params, checked against the kernel status
    key: str = "kernel"  # named when NEST refuses a value


@dataclass(frozen=True)
class RecurrentPopulation:
    """One recurrent population (neuron.rec or neuron.rec_extra[i]); node ids in creation order."""

    key: str  # "neuron.rec", "neuron.rec_extra[0]", ...
    model: str  # NEST model name
    n: int
    # The schema fields NEST takes, in the config's order, None values left out, without
    # tau_m_mean/tau_m_std (tau_m below), gamma, adapt_beta_scale (derived values) and n, model.
    # Units: C_m pF; E_L, V_m, V_th, V_reset, surrogate_gradient_width, adaptation mV; I_e pA;
    # t_ref, adapt_tau, eprop_isi_trace_cutoff ms; f_target spikes/s; the others dimensionless.
    params: dict[str, Any]
    tau_m_mean: float  # ms
    tau_m_std: float  # ms; > 0: tau_m drawn per neuron from NEST's rng, 0: tau_m_mean for all, no draw
    passthrough: PassThrough


@dataclass(frozen=True)
class Readout:
    """The readout neurons (neuron.readout); their number is the weights' (one per task output)."""

    model: str
    params: dict[str, Any]  # as RecurrentPopulation.params: C_m pF, E_L and V_m mV, I_e pA, tau_m ms, loss, ...
    passthrough: PassThrough
    tau_m: float  # ms; also the bsshslm_2020 synapses' tau_m_readout
    loss: str | None  # "cross_entropy": the readouts exchange their signals (softmax)
    key: str = "neuron.readout"


@dataclass(frozen=True)
class Synapses:
    """The e-prop synapse model and its defaults, and the learning-signal (feedback) connection model."""

    model: str  # e.g. eprop_synapse_bsshslm_2020
    feedback_model: str  # e.g. eprop_learning_signal_connection_bsshslm_2020
    # type, batch_size, eta, Wmin (pA), Wmax (pA)[, beta_1, beta_2, epsilon][, optimize_each_step]
    optimizer: dict[str, Any]
    optimizer_params: PassThrough  # optimizer.params, checked against the optimizer of this type
    average_gradient: bool | None  # None: not passed
    passthrough: PassThrough  # synapse.params
    weight_recorder_model: bool  # the weight recorder on its own copy of the model (kernel.weight_recorder_model)
    key: str = "synapse"  # named when NEST refuses a value

    @property
    def eta(self) -> float:
        return self.optimizer["eta"]


@dataclass(frozen=True)
class Recording:
    """The recorders (config section `recording`)."""

    n_record: int  # recurrent neurons whose rec_variables are recorded
    rec_variables: tuple[str, ...]  # asked of the recurrent multimeter (those neuron.rec's model lacks: skipped)
    out_variables: tuple[str, ...]  # asked of the readout multimeter
    interval: float  # ms
    spikes_input: bool
    spikes_recurrent: bool
    n_record_w: int  # senders and targets per population of the weight recorder; 0: none
    rec_variables_key: str = "recording.rec_variables"  # named in the warning about skipped variables
    out_variables_key: str = "recording.out_variables"


@dataclass(frozen=True)
class NetworkDescription:
    """Everything the simulator needs of the config to build one run's network."""

    kernel: KernelSettings
    recurrent: tuple[RecurrentPopulation, ...]  # neuron.rec, then neuron.rec_extra[...]: NEST's creation order
    readout: Readout
    synapses: Synapses
    recording: Recording

    def with_learning_rate(self, eta: float) -> NetworkDescription:
        """The same network whose e-prop synapses start with learning rate ETA."""
        if eta == self.synapses.eta:
            return self
        optimizer = {**self.synapses.optimizer, "eta": float(eta)}
        return replace(self, synapses=replace(self.synapses, optimizer=optimizer))

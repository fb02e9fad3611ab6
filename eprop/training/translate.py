"""The composed config, translated into the simulator's plain network description.

`describe_network(cfg)` reads the config sections the simulator needs (kernel, seed, model,
neuron, optimizer, synapse, recording, task.batch_size) and returns an
eprop.simulator.description.NetworkDescription of plain Python values: the simulator imports
neither OmegaConf nor the schema. It chooses the family's NEST models (schema.FAMILIES),
resolves the recurrent populations (schema.recurrent_populations) and the optimizer's
batch size, and keeps, per section, the config key an error names and the error for a
`params` entry that shadows a schema field (validation.shadowed_field), which the simulator
raises after NEST has checked the names.

Every value is the config's, unchanged: the same floats, the same dict order. No NEST here.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from eprop.config.schema import FAMILIES, recurrent_populations
from eprop.config.validation import shadowed_field
from eprop.errors import UserError
from eprop.simulator.description import (
    KernelSettings,
    NetworkDescription,
    PassThrough,
    Readout,
    Recording,
    RecurrentPopulation,
    Synapses,
)

# Keys of a recurrent population's config that are not NEST parameters of the neuron model.
_NOT_NEST = {"model", "n", "gamma", "tau_m_mean", "tau_m_std", "adapt_beta_scale", "params"}


def describe_network(cfg: DictConfig) -> NetworkDescription:
    """The network of the (validated) config `cfg`, as plain values."""
    return NetworkDescription(
        kernel=kernel_settings(cfg),
        recurrent=tuple(recurrent_population(key, pop) for key, pop in recurrent_populations(cfg)),
        readout=readout(cfg.neuron.readout),
        synapses=synapses(cfg),
        recording=recording(cfg.recording),
    )


def pass_through(section: str, params) -> PassThrough:
    """The `params` of config SECTION as a plain dict, with the shadowing error, if any."""
    try:
        shadowed_field(section, params)
        shadow_error = None
    except UserError as err:
        shadow_error = str(err)
    return PassThrough(section, OmegaConf.to_container(params), shadow_error)


def kernel_settings(cfg: DictConfig) -> KernelSettings:
    k = cfg.kernel
    return KernelSettings(
        resolution=k.resolution,
        total_num_virtual_procs=k.total_num_virtual_procs or k.threads,
        rng_seed=cfg.seed,
        print_time=k.print_time,
        per_update_interval=cfg.model.family == "bsshslm_2020",
        eprop_reset_neurons_on_update=k.eprop_reset_neurons_on_update,
        flush_event_send_interval=k.flush_event_send_interval,
        params=pass_through("kernel", k.params),
    )


def recurrent_population(key: str, pop: DictConfig) -> RecurrentPopulation:
    """One population of schema.recurrent_populations: KEY and its resolved config."""
    params = {name: value for name, value in pop.items() if name not in _NOT_NEST and value is not None}
    return RecurrentPopulation(
        key=key,
        model=pop.model,
        n=pop.n,
        params=params,
        tau_m_mean=pop.tau_m_mean,
        tau_m_std=pop.tau_m_std,
        passthrough=pass_through(key, pop.params),
    )


def readout(out: DictConfig) -> Readout:
    params = {name: value for name, value in out.items() if name not in {"model", "params"} and value is not None}
    return Readout(
        model=out.model,
        params=params,
        passthrough=pass_through("neuron.readout", out.params),
        tau_m=out.tau_m,
        loss=out.loss,
    )


def synapses(cfg: DictConfig) -> Synapses:
    o = cfg.optimizer
    family = FAMILIES[cfg.model.family]
    if o.batch_size is not None:
        batch_size = o.batch_size
    else:  # bsshslm_2020 averages over the batch; the event-based family learns per spike
        batch_size = cfg.task.batch_size if cfg.model.family == "bsshslm_2020" else 1
    optimizer: dict[str, Any] = {"type": o.type, "batch_size": batch_size, "eta": o.eta, "Wmin": o.Wmin, "Wmax": o.Wmax}
    if o.type == "adam":
        optimizer.update(beta_1=o.beta_1, beta_2=o.beta_2, epsilon=o.epsilon)
    if o.optimize_each_step is not None:
        optimizer["optimize_each_step"] = o.optimize_each_step
    return Synapses(
        model=family["synapse"],
        feedback_model=family["learning_signal"],
        optimizer=optimizer,
        optimizer_params=pass_through("optimizer", o.params),
        average_gradient=cfg.synapse.average_gradient,
        passthrough=pass_through("synapse", cfg.synapse.params),
        weight_recorder_model=cfg.kernel.weight_recorder_model,
    )


def recording(rec: DictConfig) -> Recording:
    return Recording(
        n_record=rec.n_record,
        rec_variables=tuple(rec.rec_variables),
        out_variables=tuple(rec.out_variables),
        interval=rec.interval,
        spikes_input=rec.spikes_input,
        spikes_recurrent=rec.spikes_recurrent,
        n_record_w=rec.n_record_w,
    )

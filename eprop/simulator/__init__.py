"""Everything that talks to NEST. The only module that imports `nest`, and only lazily.

The functions that training.py calls form its `Simulator` interface (reset_kernel,
build_network, load_generators, simulate_until, set_learning_rate, read_and_clear,
apply_pending_updates, read_weights, ...); tests/fake_simulator.py implements the same interface without NEST.

The network is the seeds' architecture (connections numbered as in the tutorials):

    1  spike_generator -> parrot_neuron          static, one to one
    2  parrot (input)  -> recurrent              e-prop synapse, all to all
    3  recurrent       -> recurrent              e-prop synapse, all to all, no autapses
    4  recurrent       -> readout                e-prop synapse, all to all
    5  readout         -> recurrent              learning-signal connection (feedback), all to all

    2-5 with a mask (`weights.<projection>.sparsity`, see weights.py): one to one on the pairs
    the mask keeps, target-major (numpy's nonzero order), in one Connect of node-id arrays
    per synapse model (the weight-recorder block's first, as in the dense case)
    6  step_rate_generator -> readout            rate connection on receptor 2 (target signal)
    7  step_rate_generator -> readout            rate connection on the eprop_learning_window
                                                 receptor (event-based family only): 1 from the
                                                 first loss step on, or the task's window per
                                                 step (IterationSignals.learning_window, nmnist)

    8  readout -> readout                        rate connection on the readout_signal receptor,
                                                 all to all, no autapses, weight 1 (only with
                                                 neuron.readout.loss=cross_entropy: the softmax)

plus the final-update spike generator that makes every e-prop synapse apply its last update.

The model family (`model.family`, see config.FAMILIES) chooses the readout, synapse and
feedback-connection models. The bsshslm_2020 family learns per update interval (one sequence)
and takes the kernel's eprop_* timing; the event-based family (eprop) learns at every spike
and ignores those kernel settings, so they are left at NEST's defaults for it.

Two departures from the tutorial scripts change no number:

- The generators are loaded one iteration ahead instead of all at once, so their memory does
  not grow with n_iter, and the simulation runs one `nest.Simulate` per iteration.
- The weight recorder hangs on a copy of the e-prop synapse model that only the recorded
  sender x target block uses; the other synapses skip the recorder check on every spike.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from eprop.config.projections import PROJECTIONS
from eprop.config.schema import FAMILIES, recurrent_populations
from eprop.config.timing import Timing
from eprop.config.validation import shadowed_field
from eprop.errors import UserError
from eprop.tasks.base import IterationSignals

_nest = None


def nest():
    """The nest module, imported on first use with its banner silenced."""
    global _nest
    if _nest is None:
        os.environ.setdefault("PYNEST_QUIET", "1")
        # PyNEST imports matplotlib at start-up for its spatial-layer plots, which eprop never
        # draws (0.15 s of every run): unless it is loaded already, NEST is told it is absent.
        absent = "matplotlib" not in sys.modules
        if absent:
            sys.modules["matplotlib"] = None
        try:
            import nest as nest_module
        finally:
            if absent:
                del sys.modules["matplotlib"]

        nest_module.verbosity = nest_module.VerbosityLevel.WARNING
        _nest = nest_module
    return _nest


def nest_info() -> dict[str, Any]:
    """NEST version and build info, for the results file."""
    n = nest()
    info = n.GetKernelStatus("build_info")
    return {"version": n.__version__, "build_info": {k: v for k, v in info.items() if not isinstance(v, dict)}}


def model_defaults(model: str) -> dict[str, Any]:
    n = nest()
    if model not in n.node_models and model not in n.synapse_models:
        raise UserError(f"{model}: not a NEST model of this NEST {n.__version__}")
    return n.GetDefaults(model)


@dataclass
class Network:
    """Handles to the NEST objects of one built network."""

    timing: Timing
    gen_spk_in: Any
    nrns_in: Any
    nrns_rec: Any
    nrns_out: Any
    gen_rate_target: Any
    gen_final: Any
    gen_window: Any = None  # the learning-window step_rate_generator (event-based family), or None
    recorders: dict[str, Any] = field(default_factory=dict)
    recorder_fields: dict[str, list[str]] = field(default_factory=dict)
    eprop_models: tuple[str, ...] = ()

    @property
    def populations(self) -> dict[str, Any]:
        return {"input": self.nrns_in, "recurrent": self.nrns_rec, "readout": self.nrns_out}

    @property
    def projections(self) -> dict[str, tuple[Any, Any]]:
        """(source, target) NodeCollections of each projection of projections.PROJECTIONS."""
        pops = self.populations
        return {name: (pops[p.source], pops[p.target]) for name, p in PROJECTIONS.items()}


def reset_kernel(cfg, timing: Timing) -> None:
    """A fresh NEST kernel with the run's resolution, threads, seed and e-prop settings."""
    n = nest()
    n.ResetKernel()
    k = cfg.kernel
    settings = dict(
        resolution=k.resolution,
        total_num_virtual_procs=k.total_num_virtual_procs or k.threads,
        rng_seed=cfg.seed,
        print_time=k.print_time,
    )
    if cfg.model.family == "bsshslm_2020":
        settings.update(
            eprop_learning_window=timing.ms(timing.window),
            eprop_reset_neurons_on_update=k.eprop_reset_neurons_on_update,
            eprop_update_interval=timing.ms(timing.sequence),
        )
    if k.params:
        status = n.GetKernelStatus()
        unknown = sorted(set(k.params) - set(status))
        if unknown:
            raise unknown_param_error("kernel.params", "the NEST kernel", unknown, status)
        shadowed_field("kernel", k.params)
        settings.update(OmegaConf.to_container(k.params))
    refused("kernel", lambda: n.set(**settings))


def num_virtual_procs() -> int:
    return int(nest().GetKernelStatus("total_num_virtual_procs"))


def refused(key: str, action):
    """Run `action()`; a NEST error (a bad value NEST checks itself) becomes a one-line UserError."""
    try:
        return action()
    except nest().NESTErrors.KernelException as err:
        message = " ".join(str(err).split())
        raise UserError(f"{key}: NEST refused the value: {message}")


def unknown_param_error(key: str, owner: str, unknown: list[str], known) -> UserError:
    """One line naming the config key of the first unknown NEST parameter, with close matches."""
    import difflib

    name = unknown[0]
    close = difflib.get_close_matches(name, [k for k in known if isinstance(k, str)], n=3, cutoff=0.8)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return UserError(f"{key}.{name}: {owner} has no parameter {name}{hint}")


def _checked_params(model: str, params: dict[str, Any], key: str, passthrough=()) -> dict[str, Any]:
    """Refuse parameter names the NEST model does not have, before anything is simulated.

    `passthrough` are the names that came from the `params` dict, reported as `key.params.name`.
    """
    known = model_defaults(model)
    unknown = sorted(set(params) - set(known))
    if unknown:
        where = f"{key}.params" if unknown[0] in passthrough else key
        raise unknown_param_error(where, model, unknown, known)
    for name in sorted(passthrough):
        default, value = known[name], params[name]
        numeric = isinstance(default, (int, float, np.number)) and not isinstance(default, bool)
        if numeric and (isinstance(value, (str, bool)) or not isinstance(value, (int, float))):
            raise UserError(f"{key}.params.{name}={value}: must be a number (NEST's default for {model} is {default})")
    shadowed_field(key, passthrough)
    return params


def recurrent_params(rec_cfg, flush_interval_ms: float, key: str = "neuron.rec") -> dict[str, Any]:
    """NEST parameters of one recurrent population from its config KEY (None values are left out)."""
    n = nest()
    skip = {"model", "n", "gamma", "tau_m_mean", "tau_m_std", "adapt_beta_scale", "params"}
    params = {key: value for key, value in rec_cfg.items() if key not in skip and value is not None}
    if rec_cfg.tau_m_std > 0:
        params["tau_m"] = n.random.normal(mean=rec_cfg.tau_m_mean, std=rec_cfg.tau_m_std)
    else:
        params["tau_m"] = float(rec_cfg.tau_m_mean)  # one value for all, no NEST random draw
    params.update(OmegaConf.to_container(rec_cfg.params))
    if "flush_event_send_interval" in model_defaults(rec_cfg.model):
        params.setdefault("flush_event_send_interval", flush_interval_ms)
    return _checked_params(rec_cfg.model, params, key, set(rec_cfg.params))


def readout_params(out_cfg) -> dict[str, Any]:
    params = {key: value for key, value in out_cfg.items() if key not in {"model", "params"} and value is not None}
    params.update(OmegaConf.to_container(out_cfg.params))
    return _checked_params(out_cfg.model, params, "neuron.readout", set(out_cfg.params))


def synapse_params(cfg, model: str) -> dict[str, Any]:
    """SetDefaults dictionary of the e-prop synapse model: optimizer, gradient averaging, pass-through."""
    n = nest()
    o = cfg.optimizer
    batch_size = (
        o.batch_size if o.batch_size is not None else (cfg.task.batch_size if cfg.model.family == "bsshslm_2020" else 1)
    )
    optimizer = {"type": o.type, "batch_size": batch_size, "eta": o.eta, "Wmin": o.Wmin, "Wmax": o.Wmax}
    if o.type == "adam":
        optimizer.update(beta_1=o.beta_1, beta_2=o.beta_2, epsilon=o.epsilon)
    if o.optimize_each_step is not None:
        optimizer["optimize_each_step"] = o.optimize_each_step
    if o.params:
        # The optimizer's parameter names depend on its type: ask NEST with the type set.
        probe = f"{model}_eprop_probe"
        if probe not in n.synapse_models:
            n.CopyModel(model, probe)
        n.SetDefaults(probe, {"optimizer": {"type": o.type}})
        known = set(n.GetDefaults(probe)["optimizer"]) | {"type"}
        unknown = sorted(set(o.params) - known)
        if unknown:
            raise unknown_param_error("optimizer.params", f"the {o.type} optimizer of {model}", unknown, known)
        shadowed_field("optimizer", o.params)
        optimizer.update(OmegaConf.to_container(o.params))
    params: dict[str, Any] = {"optimizer": optimizer}
    if cfg.synapse.average_gradient is not None:
        params["average_gradient"] = cfg.synapse.average_gradient
    params.update(OmegaConf.to_container(cfg.synapse.params))
    known = model_defaults(model)
    unknown = sorted(set(params) - set(known))
    if unknown:
        key = "synapse.params" if unknown[0] in cfg.synapse.params else "synapse"
        raise unknown_param_error(key, model, unknown, known)
    shadowed_field("synapse", cfg.synapse.params)
    return params


def _recordable(rec_cfg_vars, model: str, population: str) -> list[str]:
    """The requested state variables the NEST model can record; the others are skipped with a warning."""
    recordables = set(model_defaults(model)["recordables"])
    kept = [v for v in rec_cfg_vars if v in recordables]
    skipped = [v for v in rec_cfg_vars if v not in recordables]
    if skipped:
        import logging

        logging.getLogger(__name__).warning("%s: %s does not record %s; skipped", population, model, ", ".join(skipped))
    return kept


def build_network(
    cfg, timing: Timing, weights: dict[str, np.ndarray], masks: Mapping[str, np.ndarray | None] | None = None
) -> Network:
    """Create and connect the network, recorders and generators; the kernel must be fresh.

    The population sizes come from the weight matrices; `masks` gives the connected pairs of
    the sparse projections (None or absent: all to all). The generators stay empty until
    `load_generators`.
    """
    n = nest()
    n_in, n_rec, n_out = weights["in_rec"].shape[1], weights["in_rec"].shape[0], weights["rec_out"].shape[0]
    flush_ms = cfg.kernel.flush_event_send_interval or timing.ms(timing.sequence)
    populations = recurrent_populations(cfg)  # neuron.rec, then neuron.rec_extra[...]
    rec_params = [(key, pop, recurrent_params(pop, flush_ms, key)) for key, pop in populations]
    out_params = readout_params(cfg.neuron.readout)
    if sum(pop.n for _, pop, _ in rec_params) != n_rec:
        raise RuntimeError(
            f"{n_rec} recurrent neurons in the weights, {sum(pop.n for _, pop, _ in rec_params)} in the config"
        )

    gen_spk_in = n.Create("spike_generator", n_in)
    nrns_in = n.Create("parrot_neuron", n_in)
    nrns_rec = None
    for key, pop, params in rec_params:  # one NodeCollection; node ids in creation order
        created = refused(key, lambda: n.Create(pop.model, pop.n, params))
        nrns_rec = created if nrns_rec is None else nrns_rec + created
    nrns_out = refused("neuron.readout", lambda: n.Create(cfg.neuron.readout.model, n_out, out_params))
    gen_rate_target = n.Create("step_rate_generator", n_out)
    net = Network(timing, gen_spk_in, nrns_in, nrns_rec, nrns_out, gen_rate_target, None)

    wr = _create_recorders(cfg, net)
    _connect(cfg, net, weights, wr, dict(masks or {}))
    net.gen_final = n.Create("spike_generator", 1, {"spike_times": [timing.ms(timing.final_update)]})
    n.Connect(net.gen_final, nrns_in + nrns_rec, "all_to_all", {"weight": 1000.0})
    return net


def _create_recorders(cfg, net: Network):
    """Recorders as the recording config asks; returns the weight recorder or None.

    State variables the chosen NEST model lacks (e.g. V_th_adapt of a non-adaptive neuron,
    readout_signal_unnorm of eprop_readout) are skipped with a warning, so that one recording
    preset serves every neuron model; names no model has are refused by `validate`.
    """
    n = nest()
    rec_cfg = cfg.recording
    t = net.timing
    task_window = {"start": t.ms(t.total_offset), "stop": t.ms(t.total_offset + t.task)}
    static = {"synapse_model": "static_synapse", "delay": t.dt}
    rec_variables = _recordable(rec_cfg.rec_variables, cfg.neuron.rec.model, "recording.rec_variables")
    out_variables = _recordable(rec_cfg.out_variables, cfg.neuron.readout.model, "recording.out_variables")
    if rec_cfg.n_record > 0 and rec_variables:
        start = t.ms(t.offset_gen + t.delay_in_rec)
        # Ends before the final-update spike arrives (model=eprop's window would include that step,
        # where V_m jumps by ~1000 mV); the bsshslm_2020 window ends two steps earlier anyway.
        stop = min(start + t.ms(t.task), t.ms(t.final_update_arrival - 1))
        mm = n.Create(
            "multimeter",
            {"interval": rec_cfg.interval, "record_from": rec_variables, "start": start, "stop": stop},
        )
        n.Connect(mm, net.nrns_rec[: rec_cfg.n_record], "all_to_all", static)
        net.recorders["multimeter_rec"] = mm
        net.recorder_fields["multimeter_rec"] = ["senders", "times", *rec_variables]
    mm_out = n.Create("multimeter", {"interval": rec_cfg.interval, "record_from": out_variables, **task_window})
    n.Connect(mm_out, net.nrns_out, "all_to_all", static)
    net.recorders["multimeter_out"] = mm_out
    net.recorder_fields["multimeter_out"] = ["senders", "times", *out_variables]
    spiking = (net.nrns_in if rec_cfg.spikes_input else None, net.nrns_rec if rec_cfg.spikes_recurrent else None)
    spiking = [pop for pop in spiking if pop is not None]
    if spiking:
        # The final-update spike makes every input and recurrent neuron spike at
        # t.final_update_arrival (the window's last step): not activity, so not recorded.
        # Recorders do not act on the network, so this changes no weight and no loss.
        spike_window = {
            "start": task_window["start"],
            "stop": min(task_window["stop"], t.ms(t.final_update_arrival - 1)),
        }
        sr = n.Create("spike_recorder", spike_window)
        sources = spiking[0] if len(spiking) == 1 else spiking[0] + spiking[1]
        n.Connect(sources, sr, "all_to_all", static)
        net.recorders["spike_recorder"] = sr
        net.recorder_fields["spike_recorder"] = ["senders", "times"]
    wr = None
    if rec_cfg.n_record_w > 0:
        nw = rec_cfg.n_record_w
        wr = n.Create(
            "weight_recorder",
            {
                "senders": net.nrns_in[:nw] + net.nrns_rec[:nw],
                "targets": net.nrns_rec[:nw] + net.nrns_out,
                **task_window,
            },
        )
        net.recorders["weight_recorder"] = wr
        net.recorder_fields["weight_recorder"] = ["senders", "targets", "times", "weights"]
    return wr


def _synapse_models(cfg, wr) -> tuple[str, str]:
    """(plain e-prop model, model carrying the weight recorder); the same name if not split."""
    n = nest()
    base = FAMILIES[cfg.model.family]["synapse"]
    common = synapse_params(cfg, base)
    refused("synapse", lambda: n.SetDefaults(base, common))  # bad values fail here, with the config key
    if wr is None:
        return base, base
    if not cfg.kernel.weight_recorder_model:
        n.SetDefaults(base, {"weight_recorder": wr})
        return base, base
    recorded = base + "_recorded"
    n.CopyModel(base, recorded, {"weight_recorder": wr})
    return base, recorded


def _connect_pairs(pre, post, mask: np.ndarray, w: np.ndarray, syn: dict[str, Any], recorded_block=None) -> None:
    """Connect the pairs of MASK ((n_target, n_source) booleans) one to one with weights W, in
    target-major order; pairs inside `recorded_block` = (n_sources, n_targets, model) get that
    synapse model, in an earlier Connect call."""
    n = nest()
    targets, sources = np.nonzero(mask)
    pre_ids, post_ids = np.asarray(pre.tolist()), np.asarray(post.tolist())
    groups = [(np.ones(targets.size, dtype=bool), syn["synapse_model"])]
    if recorded_block is not None:
        n_src, n_tgt, model = recorded_block
        inside = (sources < n_src) & (targets < n_tgt)
        groups = [(inside, model), (~inside, syn["synapse_model"])]
    for chosen, model in groups:
        if not chosen.any():
            continue
        t, s = targets[chosen], sources[chosen]
        spec = {
            **syn,
            "synapse_model": model,
            "weight": w[t, s].astype(np.float64),
            "delay": np.full(t.size, float(syn["delay"])),
        }
        n.Connect(pre_ids[s], post_ids[t], {"rule": "one_to_one"}, spec)


def _connect(cfg, net: Network, weights: dict[str, np.ndarray], wr, masks: Mapping[str, np.ndarray | None]) -> None:
    n = nest()
    dt = net.timing.dt
    plain, recorded = _synapse_models(cfg, wr)
    net.eprop_models = tuple(sorted({plain, recorded}))
    static = {"synapse_model": "static_synapse", "delay": dt}
    n.Connect(net.gen_spk_in, net.nrns_in, {"rule": "one_to_one"}, static)  # 1
    nw = cfg.recording.n_record_w if recorded != plain else 0
    eprop = {"delay": dt}
    if "tau_m_readout" in model_defaults(plain):  # bsshslm_2020: the synapse needs the readout's tau_m
        eprop["tau_m_readout"] = cfg.neuron.readout.tau_m
    family = FAMILIES[cfg.model.family]
    receptors = model_defaults(cfg.neuron.readout.model)["receptor_types"]
    for name in ("in_rec", "rec_rec", "rec_out"):  # 2, 3, 4
        pre, post = net.projections[name]
        no_autapses = PROJECTIONS[name].source == PROJECTIONS[name].target
        w = weights[name]
        # The recorded block: the first nw senders onto the first nw targets (all readouts).
        n_post_rec = len(post) if name == "rec_out" else nw
        if masks.get(name) is not None:
            block = (nw, n_post_rec, recorded) if nw and recorded != plain else None
            _connect_pairs(pre, post, masks[name], w, {**eprop, "synapse_model": plain}, block)
            continue
        blocks = [
            (slice(0, nw), slice(0, n_post_rec), recorded),
            (slice(0, nw), slice(n_post_rec, None), plain),
            (slice(nw, None), slice(0, None), plain),
        ]
        for src, tgt, model in blocks:
            if not (len(range(*src.indices(len(pre)))) and len(range(*tgt.indices(len(post))))):
                continue
            s, t = pre[src], post[tgt]
            rule = {"rule": "all_to_all", "allow_autapses": not no_autapses}
            n.Connect(s, t, rule, {**eprop, "synapse_model": model, "weight": w[tgt, src]})
    feedback = {"synapse_model": family["learning_signal"], "delay": dt}
    if masks.get("out_rec") is not None:  # 5
        _connect_pairs(net.nrns_out, net.nrns_rec, masks["out_rec"], weights["out_rec"], feedback)
    else:
        n.Connect(
            net.nrns_out,
            net.nrns_rec,
            {"rule": "all_to_all", "allow_autapses": False},
            {**feedback, "weight": weights["out_rec"]},
        )
    n.Connect(
        net.gen_rate_target,
        net.nrns_out,
        {"rule": "one_to_one"},  # 6
        {"synapse_model": "rate_connection_delayed", "delay": dt, "receptor_type": receptors["target_signal"]},
    )
    if cfg.neuron.readout.loss == "cross_entropy":  # 8: the readouts exchange their signals for the softmax
        n.Connect(
            net.nrns_out,
            net.nrns_out,
            {"rule": "all_to_all", "allow_autapses": False},
            {
                "synapse_model": "rate_connection_delayed",
                "delay": dt,
                "receptor_type": receptors["readout_signal"],
                "weight": 1.0,
            },
        )
    if "eprop_learning_window" in receptors:  # 7: learning signals on from the first loss step
        t = net.timing
        gen_window = n.Create(
            "step_rate_generator", 1, {"amplitude_times": [t.ms(t.total_offset)], "amplitude_values": [1.0]}
        )
        net.gen_window = gen_window  # a task with a window per sequence (IterationSignals.learning_window) reloads it
        n.Connect(
            gen_window,
            net.nrns_out,
            "all_to_all",
            {
                "synapse_model": "rate_connection_delayed",
                "delay": dt,
                "receptor_type": receptors["eprop_learning_window"],
            },
        )


def load_generators(net: Network, signals: Mapping[int, IterationSignals], now_step: int) -> None:
    """Give the input and target generators the signals of the given iterations only.

    `signals` maps iteration k (of this run, from 0) to what the task plays in it. Only what
    lies ahead of the current time `now_step` is loaded (a spike at step s is emitted in the
    step ending at s, a target amplitude at step s takes effect from s on), so a generator
    never holds more than the iterations asked for and the memory does not grow with n_iter.
    Times are integer step counts in float64, multiplied by dt once.
    """
    t = net.timing
    iterations = sorted(signals)
    spike_params = []
    for i in range(len(net.gen_spk_in)):
        steps = np.concatenate([signals[k].input_steps[i] + t.offset_gen + float(k * t.iteration) for k in iterations])
        spike_params.append({"spike_times": steps[steps > now_step] * t.dt})
    net.gen_spk_in.set(spike_params)
    grid = np.arange(t.iteration, dtype=float)
    amp_steps = np.concatenate([grid + t.total_offset + float(k * t.iteration) for k in iterations])
    keep = amp_steps >= now_step
    target = np.concatenate([signals[k].target for k in iterations], axis=1)
    net.gen_rate_target.set(
        [{"amplitude_times": amp_steps[keep] * t.dt, "amplitude_values": row[keep]} for row in target]
    )
    windows = [signals[k].learning_window for k in iterations]
    if net.gen_window is not None and all(w is not None for w in windows):
        # Like the target: one amplitude per step. A step_rate_generator keeps its amplitude
        # across a new set of times, so a window open at the iteration boundary stays open.
        net.gen_window.set(
            {"amplitude_times": amp_steps[keep] * t.dt, "amplitude_values": np.concatenate(windows)[keep]}
        )


def min_delay_steps(timing: Timing) -> int:
    """NEST's min_delay in time steps: how late a multimeter receives its samples."""
    return int(round(nest().GetKernelStatus("min_delay") / timing.dt))


def simulate_until(net: Network, step: int) -> None:
    """Simulate up to `step`; an error NEST raises while simulating becomes a one-line UserError.

    Such an error comes from the parameters, not from eprop: e.g. recurrent neurons driven to
    spike from the first steps on make NEST's e-prop history fail ("Expected in neuron ... e-prop
    history entry at t=2, got t=3").
    """
    n = nest()
    now = n.GetKernelStatus("biological_time")
    try:
        n.Simulate(net.timing.ms(step) - now)
    except n.NESTErrors.KernelException as err:
        message = " ".join(str(err).split())
        raise UserError(
            f"NEST stopped the simulation between {now:g} and {net.timing.ms(step):g} ms: {message} "
            "(the network's parameters drive NEST's e-prop models where they fail, e.g. neurons spiking from the first step)"
        )


def set_learning_rate(net: Network, eta: float) -> None:
    """Give every e-prop synapse model of the network the learning rate ETA from now on (SetDefaults).

    NEST 3.10 applies a batch's step during the next batch with the rate set while the batch
    ran (docs/evidence_accumulation.md, "When a learning rate takes effect"), so the training
    loop calls this exactly at an iteration boundary.
    """
    n = nest()
    for model in net.eprop_models:
        n.SetDefaults(model, {"optimizer": {"eta": float(eta)}})


def read_and_clear(net: Network) -> dict[str, dict[str, np.ndarray]]:
    """Every recorder's events since the last call; the recorders are emptied."""
    out = {}
    for name, recorder in net.recorders.items():
        events = recorder.get("events")
        fields = {key: np.asarray(events[key]) for key in net.recorder_fields[name]}
        if name == "weight_recorder" and fields["times"].size:
            # Synapses of one time step report in storage order, which depends on how the
            # connections were grouped into models; sort into one canonical order.
            order = np.lexsort((fields["targets"], fields["senders"], fields["times"]))
            fields = {key: values[order] for key, values in fields.items()}
        out[name] = fields
        # A list of dictionaries: with a plain dictionary PyNEST's set() first reads the node's
        # whole status, events included (4 ms per iteration at batch 1, 26 ms at batch 8).
        recorder.set([{"n_events": 0}])
    return out


# Connections per status read. NEST builds every connection's whole status dictionary whatever
# keys are asked (about 3.4 kB each in Python, 10 µs to make), so reading the 39 800 recurrent
# synapses at once raised the peak memory at the end of a run by about 140 MB; blocks of 4096
# cost about 14 MB and the same time.
STATUS_BLOCK = 4096


def _blocks(conns):
    """The SynapseCollection `conns` in consecutive slices of at most STATUS_BLOCK connections."""
    for start in range(0, len(conns), STATUS_BLOCK):
        yield conns[start : start + STATUS_BLOCK]


def _read_status(conns, plastic: bool) -> dict[str, np.ndarray]:
    """source, target, weight (and the optimizer's m and v where NEST has them) of every connection, in NEST's order."""
    keys = ["source", "target", "weight", "optimizer"] if plastic else ["source", "target", "weight"]
    columns: dict[str, list[np.ndarray]] = {
        "source": [np.zeros(0, dtype=np.int64)],
        "target": [np.zeros(0, dtype=np.int64)],
        "weight": [np.zeros(0)],
    }
    for block in _blocks(conns):
        values = block.get(keys)
        for key in ("source", "target", "weight"):
            columns.setdefault(key, []).append(np.atleast_1d(np.asarray(values[key])))
        if plastic:
            moments = values["optimizer"]
            moments = [moments] if isinstance(moments, dict) else moments
            for key in ("m", "v"):
                if key in moments[0]:
                    columns.setdefault(key, []).append(np.array([entry[key] for entry in moments], dtype=np.float64))
    return {key: np.concatenate(parts) for key, parts in columns.items()}


def read_weights(net: Network) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, np.ndarray]]]:
    """Every projection's connections as NEST holds them now, and the optimizer state NEST exposes.

    Returns (weights, optimizer state), each per projection and sorted by (source, target):
    weights as source, target, weight; the state as source, target and Adam's m and v (empty
    for optimizers without readable state, such as gradient descent). One GetConnections per
    projection; the values are read in blocks of STATUS_BLOCK connections (one `get` each).
    """
    n = nest()
    weights, state = {}, {}
    for projection, (pre, post) in net.projections.items():
        status = _read_status(n.GetConnections(pre, post), PROJECTIONS[projection].plastic)
        order = np.lexsort((status["target"], status["source"]))
        source, target = status["source"][order], status["target"][order]
        weights[projection] = {"source": source, "target": target, "weight": status["weight"][order]}
        moments = [key for key in ("m", "v") if key in status]
        if moments:
            state[projection] = {"source": source, "target": target, **{key: status[key][order] for key in moments}}
    return weights, state


def set_optimizer_state(net: Network, state: dict[str, dict[str, np.ndarray]]) -> None:
    """Set the optimizer state returned by `read_weights` (same populations and connections)."""
    n = nest()
    for projection in (name for name, p in PROJECTIONS.items() if p.plastic):
        saved = state.get(projection)
        if saved is None:
            continue
        pre, post = net.projections[projection]
        conns = n.GetConnections(pre, post)
        ids = _read_status(conns, plastic=False)
        source, target = ids["source"], ids["target"]
        order = np.lexsort((target, source))
        if not (np.array_equal(saved["source"], source[order]) and np.array_equal(saved["target"], target[order])):
            raise UserError(
                f"resume: the parent's {projection} optimizer state does not match this network's connections"
            )
        keys = [k for k in ("m", "v") if k in saved]
        values = {key: np.empty(len(order)) for key in keys}
        for key in keys:
            values[key][order] = saved[key]
        for start, block in zip(range(0, len(conns), STATUS_BLOCK), _blocks(conns)):
            rows = range(start, start + len(block))
            block.set([{"optimizer": {key: float(values[key][i]) for key in keys}} for i in rows])


def apply_pending_updates(net: Network, now_step: int) -> int:
    """Make every e-prop synapse apply its pending update now, as the final-update spike does at the end.

    Used when training stops early. Returns the step the simulation has reached.
    """
    t = net.timing
    spike = now_step + 1
    net.gen_final.set({"spike_times": [t.ms(spike)]})
    end = spike + t.offset_gen + t.extension_sim
    simulate_until(net, end)
    return end

"""Creating and connecting the network of a NetworkDescription, in the seeds' order.

The order of the Create and Connect calls is the order of NEST's random draws (tau_m per
neuron): it is the seeds' and must not change. The connections are numbered as in the
package docstring (eprop/simulator/__init__.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from eprop.config.projections import PROJECTIONS
from eprop.config.timing import Timing
from eprop.simulator.description import NetworkDescription, Synapses
from eprop.simulator.kernel import model_defaults, nest, refused
from eprop.simulator.network import Network
from eprop.simulator.parameters import readout_params, recurrent_params, synapse_params
from eprop.simulator.recording import create_recorders


def build_network(
    network: NetworkDescription,
    timing: Timing,
    weights: dict[str, np.ndarray],
    masks: Mapping[str, np.ndarray | None] | None = None,
) -> Network:
    """Create and connect the network, recorders and generators; the kernel must be fresh.

    The population sizes come from the weight matrices; `masks` gives the connected pairs of
    the sparse projections (None or absent: all to all). The generators stay empty until
    `load_generators`.
    """
    n = nest()
    n_in, n_rec, n_out = weights["in_rec"].shape[1], weights["in_rec"].shape[0], weights["rec_out"].shape[0]
    flush_ms = network.kernel.flush_event_send_interval or timing.ms(timing.sequence)
    rec_params = [(pop, recurrent_params(pop, flush_ms)) for pop in network.recurrent]
    out_params = readout_params(network.readout)
    if sum(pop.n for pop in network.recurrent) != n_rec:
        raise RuntimeError(
            f"{n_rec} recurrent neurons in the weights, {sum(pop.n for pop in network.recurrent)} in the config"
        )

    gen_spk_in = n.Create("spike_generator", n_in)
    nrns_in = n.Create("parrot_neuron", n_in)
    nrns_rec = None
    for pop, params in rec_params:  # one NodeCollection; node ids in creation order
        created = refused(pop.key, lambda: n.Create(pop.model, pop.n, params))
        nrns_rec = created if nrns_rec is None else nrns_rec + created
    readout = network.readout
    nrns_out = refused(readout.key, lambda: n.Create(readout.model, n_out, out_params))
    gen_rate_target = n.Create("step_rate_generator", n_out)
    net = Network(timing, gen_spk_in, nrns_in, nrns_rec, nrns_out, gen_rate_target, None)

    wr = create_recorders(network.recording, network.recurrent[0].model, readout.model, net)
    _connect(network, net, weights, wr, dict(masks or {}))
    net.gen_final = n.Create("spike_generator", 1, {"spike_times": [timing.ms(timing.final_update)]})
    n.Connect(net.gen_final, nrns_in + nrns_rec, "all_to_all", {"weight": 1000.0})
    return net


def _synapse_models(synapses: Synapses, wr) -> tuple[str, str]:
    """(plain e-prop model, model carrying the weight recorder); the same name if not split."""
    n = nest()
    base = synapses.model
    common = synapse_params(synapses)
    refused(synapses.key, lambda: n.SetDefaults(base, common))  # bad values fail here, with the config key
    if wr is None:
        return base, base
    if not synapses.weight_recorder_model:
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


def _connect(
    network: NetworkDescription,
    net: Network,
    weights: dict[str, np.ndarray],
    wr,
    masks: Mapping[str, np.ndarray | None],
) -> None:
    n = nest()
    dt = net.timing.dt
    readout = network.readout
    plain, recorded = _synapse_models(network.synapses, wr)
    net.eprop_models = tuple(sorted({plain, recorded}))
    static = {"synapse_model": "static_synapse", "delay": dt}
    n.Connect(net.gen_spk_in, net.nrns_in, {"rule": "one_to_one"}, static)  # 1
    nw = network.recording.n_record_w if recorded != plain else 0
    eprop = {"delay": dt}
    if "tau_m_readout" in model_defaults(plain):  # bsshslm_2020: the synapse needs the readout's tau_m
        eprop["tau_m_readout"] = readout.tau_m
    receptors = model_defaults(readout.model)["receptor_types"]
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
    feedback = {"synapse_model": network.synapses.feedback_model, "delay": dt}
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
    if readout.loss == "cross_entropy":  # 8: the readouts exchange their signals for the softmax
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

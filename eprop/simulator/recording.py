"""The recorders: multimeters, spike recorder and weight recorder, and reading their events."""

from __future__ import annotations

import logging

import numpy as np

from eprop.simulator.description import Recording
from eprop.simulator.kernel import model_defaults, nest
from eprop.simulator.network import Network

log = logging.getLogger("eprop.simulator")


def recordable(variables, model: str, key: str) -> list[str]:
    """The requested state variables the NEST model can record; the others are skipped with a warning."""
    recordables = set(model_defaults(model)["recordables"])
    kept = [v for v in variables if v in recordables]
    skipped = [v for v in variables if v not in recordables]
    if skipped:
        log.warning("%s: %s does not record %s; skipped", key, model, ", ".join(skipped))
    return kept


def create_recorders(rec: Recording, rec_model: str, readout_model: str, net: Network):
    """Recorders as the recording description asks; returns the weight recorder or None.

    State variables the chosen NEST model lacks (e.g. V_th_adapt of a non-adaptive neuron,
    readout_signal_unnorm of eprop_readout) are skipped with a warning, so that one recording
    preset serves every neuron model; names no model has are refused by `validate`.
    `rec_model` is the model of the first recurrent population (neuron.rec).
    """
    n = nest()
    t = net.timing
    task_window = {"start": t.ms(t.total_offset), "stop": t.ms(t.total_offset + t.task)}
    static = {"synapse_model": "static_synapse", "delay": t.dt}
    rec_variables = recordable(rec.rec_variables, rec_model, rec.rec_variables_key)
    out_variables = recordable(rec.out_variables, readout_model, rec.out_variables_key)
    if rec.n_record > 0 and rec_variables:
        start = t.ms(t.offset_gen + t.delay_in_rec)
        # Ends before the final-update spike arrives (model=eprop's window would include that step,
        # where V_m jumps by ~1000 mV); the bsshslm_2020 window ends two steps earlier anyway.
        stop = min(start + t.ms(t.task), t.ms(t.final_update_arrival - 1))
        mm = n.Create(
            "multimeter",
            {"interval": rec.interval, "record_from": rec_variables, "start": start, "stop": stop},
        )
        n.Connect(mm, net.nrns_rec[: rec.n_record], "all_to_all", static)
        net.recorders["multimeter_rec"] = mm
        net.recorder_fields["multimeter_rec"] = ["senders", "times", *rec_variables]
    mm_out = n.Create("multimeter", {"interval": rec.interval, "record_from": out_variables, **task_window})
    n.Connect(mm_out, net.nrns_out, "all_to_all", static)
    net.recorders["multimeter_out"] = mm_out
    net.recorder_fields["multimeter_out"] = ["senders", "times", *out_variables]
    spiking = (net.nrns_in if rec.spikes_input else None, net.nrns_rec if rec.spikes_recurrent else None)
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
    if rec.n_record_w > 0:
        nw = rec.n_record_w
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

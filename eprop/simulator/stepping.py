"""Running the simulation: the generators' signals, Simulate up to a step, the learning rate, the pending updates."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from eprop.errors import UserError
from eprop.simulator.kernel import nest
from eprop.simulator.network import Network
from eprop.simulator.protocol import GeneratorSignals


def load_generators(net: Network, signals: Mapping[int, GeneratorSignals], now_step: int) -> None:
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

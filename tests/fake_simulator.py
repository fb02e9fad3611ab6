"""A fake simulator for the fast tier: the functions training.train calls, without NEST.

Like PyNN's mock backend, it keeps the interface (eprop.simulator.protocol.Simulator: it gets
the same plain NetworkDescription as NEST's simulator, never the config) and makes the events up,
deterministically, so that the training loop's logic (stops, pending updates, statuses,
resumed counters, divergence) is tested in milliseconds:

- the readout signal is the loaded target plus `errors[k]` (default 0.1 (k + 1)) over all of
  iteration k (of this run), so the loss per output of iteration k is 0.5 * sequence * errors[k]^2;
- every recurrent neuron spikes `spikes[k]` times in iteration k (default 1);
- each simulated iteration leaves one pending weight update of +1 pA on every plastic
  connection, applied when the next iteration is simulated, when the simulation reaches the
  final-update spike (the end of the last chunk), or by `apply_pending_updates` (as NEST's
  e-prop synapses do);
- `wrong` lists iterations whose readout signal favours a wrong class (every sequence: error 1);
  a classification task's iterations are otherwise all right (error 0);
- a Simulate chunk ends at a chunk end of the timing (Timing.chunk_ends); a call that stops
  earlier (the loop splits a chunk to set the learning rate at an iteration boundary) only
  moves the time;
- `on_simulate(k)` runs while chunk k is simulated (e.g. to send the process a signal);
- `calls` lists (function, arguments) of every call, for the tests to assert on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eprop.config.projections import PROJECTIONS
from eprop.config.timing import Timing
from eprop.simulator.description import KernelSettings, NetworkDescription
from eprop.simulator.protocol import GeneratorSignals, OptimizerState, Weights
from eprop.training.weights import as_connections


@dataclass
class FakeNetwork:
    timing: Timing
    weights: dict[str, np.ndarray]  # initial, (n_target, n_source) pA
    populations: dict[str, np.ndarray]
    recorder_fields: dict[str, list[str]]
    loaded: dict[int, Any] = field(default_factory=dict)  # iteration -> IterationSignals of the generators
    chunks: int = 0  # Simulate chunks done
    pending: int = 0  # weight updates not yet applied
    applied: int = 0  # weight updates applied
    optimizer_state: dict | None = None
    masks: dict[str, np.ndarray | None] = field(default_factory=dict)  # connected pairs; None: all to all
    now: int = 0  # step reached
    eta: float | None = None  # learning rate given at build or by set_learning_rate


class FakeSimulator:
    def __init__(
        self,
        errors: Mapping[int, float] | None = None,
        spikes: Mapping[int, int] | None = None,
        on_simulate: Callable[[int], None] | None = None,
        wrong: set[int] | None = None,
    ):
        self.errors = dict(errors or {})
        self.spikes = dict(spikes or {})
        self.on_simulate = on_simulate
        self.wrong = set(wrong or ())
        self.calls: list[tuple[str, Any]] = []

    # ------------------------------------------------------------ kernel and network

    def reset_kernel(self, kernel: KernelSettings, timing: Timing) -> None:
        self.calls.append(("reset_kernel", timing.n_iter))

    def nest_info(self) -> dict[str, Any]:
        return {"version": "fake", "build_info": {"have_mpi": False}}

    def num_virtual_procs(self) -> int:
        return 1

    def build_network(
        self,
        network: NetworkDescription,
        timing: Timing,
        weights: dict[str, np.ndarray],
        masks: Mapping[str, np.ndarray | None] | None = None,
    ) -> FakeNetwork:
        self.calls.append(("build_network", {name: w.shape for name, w in weights.items()}))
        n_in, n_rec, n_out = weights["in_rec"].shape[1], weights["in_rec"].shape[0], weights["rec_out"].shape[0]
        ids = np.arange(1, n_in + n_rec + n_out + 1)
        populations = {"input": ids[:n_in], "recurrent": ids[n_in : n_in + n_rec], "readout": ids[n_in + n_rec :]}
        fields = {"multimeter_out": ["senders", "times", "readout_signal", "target_signal"]}
        if network.recording.spikes_recurrent or network.recording.spikes_input:
            fields["spike_recorder"] = ["senders", "times"]
        self.calls.append(("build_eta", float(network.synapses.eta)))
        return FakeNetwork(
            timing,
            {k: np.array(w, dtype=np.float64) for k, w in weights.items()},
            populations,
            fields,
            masks=dict(masks or {}),
            eta=float(network.synapses.eta),
        )

    def set_optimizer_state(self, net: FakeNetwork, state: OptimizerState) -> None:
        self.calls.append(("set_optimizer_state", sorted(state)))
        net.optimizer_state = state

    def min_delay_steps(self, timing: Timing) -> int:
        return 1

    # ------------------------------------------------------------ simulation

    def load_generators(self, net: FakeNetwork, signals: Mapping[int, GeneratorSignals], now_step: int) -> None:
        self.calls.append(("load_generators", (sorted(signals), now_step)))
        net.loaded = dict(signals)

    def simulate_until(self, net: FakeNetwork, step: int) -> None:
        self.calls.append(("simulate_until", step))
        net.now = step
        t = net.timing
        if step < t.sim and (step - t.total_offset - self.min_delay_steps(t)) % t.iteration != 0:
            return  # inside a chunk: only the time moves
        net.applied += net.pending  # the previous iteration's update lands in this one
        net.pending = 0
        k = net.chunks
        net.chunks += 1
        if self.on_simulate is not None:
            self.on_simulate(k)
        net.pending = 1
        if step >= net.timing.sim:  # the last chunk holds the final-update spike
            net.applied += net.pending
            net.pending = 0

    def set_learning_rate(self, net: FakeNetwork, eta: float) -> None:
        self.calls.append(("set_learning_rate", (net.now, eta)))
        net.eta = eta

    def read_and_clear(self, net: FakeNetwork) -> dict[str, dict[str, np.ndarray]]:
        t = net.timing
        k = net.chunks - 1
        readout = net.populations["readout"]
        steps = t.total_offset + k * t.iteration + 1 + np.arange(t.iteration)
        target = net.loaded[k].target  # (n_out, iteration)
        error = self.errors.get(k, 0.1 * (k + 1))
        events = {
            "multimeter_out": {
                "senders": np.tile(readout, t.iteration),
                "times": np.repeat(steps * t.dt, readout.size),
                "target_signal": target.T.ravel(),
                "readout_signal": (1.0 - target.T.ravel() if k in self.wrong else target.T.ravel()) + error,
            }
        }
        if "spike_recorder" in net.recorder_fields:
            recurrent = net.populations["recurrent"]
            n = self.spikes.get(k, 1)
            events["spike_recorder"] = {
                "senders": np.repeat(recurrent, n),
                "times": np.tile(steps[:n] * t.dt, recurrent.size),
            }
        return events

    def apply_pending_updates(self, net: FakeNetwork, now_step: int) -> int:
        self.calls.append(("apply_pending_updates", now_step))
        net.applied += net.pending
        net.pending = 0
        return now_step + 1 + net.timing.offset_gen + net.timing.extension_sim

    def read_weights(self, net: FakeNetwork) -> tuple[Weights, OptimizerState]:
        now = {name: w + (net.applied if PROJECTIONS[name].plastic else 0) for name, w in net.weights.items()}
        np.fill_diagonal(now["rec_rec"], 0.0)
        weights = as_connections(now, net.populations, net.masks)
        state = {
            name: {
                "source": c["source"],
                "target": c["target"],
                "m": np.full(c["source"].size, float(net.applied)),
                "v": np.zeros(c["source"].size),
            }
            for name, c in weights.items()
            if PROJECTIONS[name].plastic
        }
        return weights, state

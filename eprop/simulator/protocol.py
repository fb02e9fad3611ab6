"""The simulator interface the training loop calls (`Simulator`), without NEST.

Two implementations: the package eprop.simulator (NEST; its functions, re-exported by
eprop/simulator/__init__.py) and tests/support/fake_simulator.py's FakeSimulator (the fast tier).
The loop calls them in this order:

    reset_kernel -> build_network -> nest_info, num_virtual_procs -> [set_optimizer_state]
    -> min_delay_steps -> per iteration: load_generators, simulate_until (twice when the
    learning rate changes at the next iteration's first step, with set_learning_rate between),
    read_and_clear -> [apply_pending_updates] -> read_weights

Times are integer time steps of the run's Timing; weights are (n_target, n_source) matrices
in pA; recorder events and connections are dicts of numpy arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from eprop.config.timing import Timing
from eprop.simulator.description import KernelSettings, NetworkDescription

Weights = dict[str, dict[str, np.ndarray]]  # per projection: source, target, weight (sorted by source, target)
OptimizerState = dict[str, dict[str, np.ndarray]]  # per plastic projection: source, target and Adam's m, v


class GeneratorSignals(Protocol):
    """What the generators play in one iteration (eprop.tasks.IterationSignals has these fields)."""

    input_steps: Sequence[np.ndarray]  # per input neuron: spike steps from the iteration's start
    target: np.ndarray  # (n_out, iteration steps) target amplitudes
    learning_window: np.ndarray | None  # (iteration steps,) 1 on / 0 off; None: on throughout


class BuiltNetwork(Protocol):
    """What the loop reads of the network object `build_network` returns (the other calls take it back)."""

    timing: Timing

    @property
    def populations(self) -> Mapping[str, Any]:
        """{"input", "recurrent", "readout"}: node ids, each with .tolist()."""

    @property
    def recorder_fields(self) -> Mapping[str, list[str]]:
        """{recorder name: [event field, ...]}, as read_and_clear returns them."""


class Simulator(Protocol):
    """What training needs from a simulator."""

    def nest_info(self) -> dict[str, Any]:
        """{"version": ..., "build_info": {...}} for the results file."""

    def num_virtual_procs(self) -> int: ...

    def reset_kernel(self, kernel: KernelSettings, timing: Timing) -> None:
        """A fresh kernel with these settings (and the timing's e-prop intervals where the family takes them)."""

    def build_network(
        self,
        network: NetworkDescription,
        timing: Timing,
        weights: dict[str, np.ndarray],
        masks: Mapping[str, np.ndarray | None] | None = None,
    ) -> BuiltNetwork:
        """Create and connect the network; one-line UserErrors name the description's config keys."""

    def set_optimizer_state(self, net: Any, state: OptimizerState) -> None:
        """Set the optimizer state `read_weights` returned (a resumed run)."""

    def min_delay_steps(self, timing: Timing) -> int:
        """How many steps late a multimeter receives its samples."""

    def load_generators(self, net: Any, signals: Mapping[int, GeneratorSignals], now_step: int) -> None:
        """Give the generators the signals of these iterations (of this run), what lies after `now_step`."""

    def simulate_until(self, net: Any, step: int) -> None: ...

    def set_learning_rate(self, net: Any, eta: float) -> None:
        """The e-prop synapses' learning rate from now on."""

    def read_and_clear(self, net: Any) -> dict[str, dict[str, np.ndarray]]:
        """Every recorder's events since the last call; the recorders are emptied."""

    def apply_pending_updates(self, net: Any, now_step: int) -> int:
        """Make every e-prop synapse apply its pending update; returns the step reached."""

    def read_weights(self, net: Any) -> tuple[Weights, OptimizerState]:
        """The connections as the simulator holds them now, and the optimizer state."""

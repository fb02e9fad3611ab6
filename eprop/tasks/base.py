"""The Task interface: what a kind of experiment draws, feeds the network each iteration, and scores.

One Task object per run, made by `tasks.task_for(cfg)`. The training loop (training/loop.py) asks it,
in this order: `check(cfg)` (from validate), `n_inputs`/`n_outputs`/`sequence_steps`,
`draw(rng)` right after the initial weights (draws 1-4) and any connection masks, `start_at(first
iteration, parent phases)`, `write_static(writer)`, then per iteration k (counted from 0 in this
run, asked in increasing k, one iteration ahead) `iteration_signals(k, phase)` with the phase of
iteration k (phases.py), and after each iteration `iteration_outcome(...)`. No NEST.

A Task names its config schema (`config_schema`): a dataclass extending config.fields.TaskConfig,
declared in the task's module, which its YAML file in conf/task/ extends (`defaults:
[_schema_<target>]`). config/store.py registers it; the schema of a config is chosen by task.target.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eprop.config.fields import TaskConfig
from eprop.config.phases import TRAINING
from eprop.config.timing import Timing


@dataclass(frozen=True)
class IterationSignals:
    """What the generators play during one iteration (Task.sequences_per_iteration sequences).

    input_steps[i]: the steps, from the iteration's start, at which input neuron i gets a spike
    from its generator (integer values; the generator fires at offset_gen + step). The spike
    times in ms are made from them with integer arithmetic and one multiplication by dt.
    target: (n_out, iteration steps) target amplitudes, step s from the iteration's first loss step.
    labels: (sequences,) class of each sequence, for classification tasks; None otherwise.
    learning_window: (iteration steps,) amplitude of the event-based readout's learning-window
    signal (1: learning signals on, 0: off), step s from the iteration's first loss step like
    `target`; None: on throughout (the bsshslm_2020 family takes its window from the kernel).
    """

    input_steps: list[np.ndarray]
    target: np.ndarray
    labels: np.ndarray | None = None
    learning_window: np.ndarray | None = None


def readout_by_sequence(
    readout: Mapping[str, np.ndarray], readout_ids: Sequence[int], timing: Timing
) -> tuple[np.ndarray, np.ndarray]:
    """The readout multimeter's events of one iteration as (readout signal, target signal) arrays of
    shape (sequence, output, step); RuntimeError if a readout lacks samples of the iteration."""
    signal, target = [], []
    for node in readout_ids:
        mine = readout["senders"] == node
        if mine.sum() != timing.iteration:
            raise RuntimeError(f"readout {node}: {mine.sum()} samples in an iteration of {timing.iteration} steps")
        signal.append(readout["readout_signal"][mine].reshape(timing.batch_size, timing.sequence))
        target.append(readout["target_signal"][mine].reshape(timing.batch_size, timing.sequence))
    return np.stack(signal, axis=1), np.stack(target, axis=1)


@dataclass(frozen=True)
class Outcome:
    """What one iteration gave: the loss per output (dimensionless) and further metrics (e.g. accuracy)."""

    loss: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)
    per_sequence: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # (sequences per iteration,) each, e.g. labels, predicted


class Task(ABC):
    """One kind of task; see the module docstring for when the training loop calls what."""

    kind: str = "regression"  # "regression" | "classification"
    config_schema: type[TaskConfig] = TaskConfig  # the task's keys: a dataclass extending TaskConfig
    metric_names: tuple[str, ...] = ()  # Outcome.metrics stored per iteration (e.g. "accuracy"), one dataset each
    per_sequence_names: tuple[str, ...] = ()  # Outcome.per_sequence stored per iteration and sequence (e.g. "labels")
    readout_loss: str = "mean_squared_error"  # the neuron.readout.loss the task needs where the readout has one

    def __init__(self, cfg) -> None:
        self.cfg = cfg

    @abstractmethod
    def check(self, cfg) -> None:
        """The task's own config checks; raises UserError with one line naming the key."""

    @property
    @abstractmethod
    def n_inputs(self) -> int:
        """Input neurons."""

    @property
    @abstractmethod
    def n_outputs(self) -> int:
        """Readout neurons."""

    @property
    @abstractmethod
    def sequence_steps(self) -> int:
        """Time steps per sequence."""

    @property
    def sequences_per_iteration(self) -> int:
        """Sequences (samples) played in one iteration, back to back: task.batch_size by default."""
        return int(self.cfg.task.batch_size)

    def check_model_family(self, cfg) -> None:
        """Refuse (UserError, one line) a model family the task cannot learn with; any family by default."""

    @property
    def learning_window_steps(self) -> int:
        """Steps at the end of each sequence in which the loss and the learning signals count
        (NEST's eprop_learning_window, bsshslm_2020 family); the whole sequence by default."""
        return self.sequence_steps

    @abstractmethod
    def draw(self, rng: np.random.RandomState) -> None:
        """The task's draws from the run's RandomState, after the initial weights, in its documented order."""

    def start_at(self, first_iteration: int, phases: Sequence[int] = ()) -> None:
        """A resumed run starts at FIRST_ITERATION: a task that draws per iteration skips the draws
        of the iterations done before (called after `draw`); PHASES are their phases (phases.py),
        for a task whose inputs depend on them. Nothing by default (frozen inputs)."""

    @abstractmethod
    def iteration_signals(self, k: int, phase: int = TRAINING) -> IterationSignals:
        """Inputs and targets of iteration k of this run, whose phase is PHASE (phases.py)."""

    @abstractmethod
    def iteration_outcome(self, readout: Mapping[str, np.ndarray], readout_ids: np.ndarray, timing: Timing) -> Outcome:
        """Loss and metrics of one iteration from the readout multimeter's events of that iteration."""

    def results_attrs(self) -> dict[str, Any]:
        """Root attributes of the results file: the kind of task and how to show it (`display`)."""
        return {"task_kind": self.kind, "display": {}}

    def write_static(self, writer) -> None:
        """What the results file holds once per run (e.g. /target); nothing by default."""

    def declare_results(self, writer) -> None:
        """Declare the per-iteration datasets of `metric_names` and `per_sequence_names` (before the first iteration)."""
        if self.metric_names or self.per_sequence_names:
            writer.declare_iteration_metrics(self.metric_names, self.per_sequence_names, self.sequences_per_iteration)

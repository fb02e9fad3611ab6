"""Trajectory tasks: frozen Poisson input noise, replayed every sequence; the readout learns a
fixed trajectory with the mean squared error (regression).

task.target chooses the trajectory:

- handwriting    the pen trajectory of NEST's chaos_handwriting.txt (2 outputs; shown y axis down)
- infinite_loop  a figure eight: x = sin(one turn), y = sin(two turns) (2 outputs)
- sine_waves     a sum of sines drawn from the run's RandomState (1 output)
- custom         task.data_file, one output per column (increments or samples)

Draws from the run's `np.random.RandomState(seed)`, after the initial weights (draws 1-4, see
weights.py) and after any connection masks (numbered as without masks):

5. input spikes   rand(sequence_steps, n_in) < input_spike_prob, step 0 cleared unless
                  task.clear_first_input_step=false
6. sine_waves only: uniform(0.5, 2.0, n_sines) amplitudes, then uniform(0, 2*pi, n_sines)
   phases (the other targets draw nothing)

Every sequence of every iteration replays the same input raster and target. The data file is
parsed once, by the Task object, which keeps it.

The four targets share one config schema, `TrajectoryConfig` (the keys of every task,
config.fields.TaskConfig, plus the input noise and the data file's keys), so that one
`check()` serves them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from eprop.config.fields import TaskConfig, param
from eprop.config.timing import Timing
from eprop.data.files import handwriting_file, load_trajectory
from eprop.errors import UserError
from eprop.tasks.base import IterationSignals, Outcome, Task


class DataFormat(StrEnum):  # how task.data_file's rows are read (custom)
    increments = "increments"
    samples = "samples"


DATA_FORMATS = tuple(f.value for f in DataFormat)
_UNSET = object()


@dataclass
class TrajectoryConfig(TaskConfig):
    """The keys of the trajectory tasks (handwriting, infinite_loop, sine_waves, custom)."""

    input_spike_prob: float = param(0.05, "spike probability per input channel and time step", probability=True)
    steps_per_data_point: int = param(
        8, "duration of one sample of the data file (handwriting)", unit="time steps", min_int=1
    )
    data_file: str | None = param(None, "trajectory file; null: the pinned download (handwriting); required for custom")
    data_format: DataFormat = param(
        DataFormat.increments, "custom: rows are increments (cumulated, as handwriting) or samples (absolute)"
    )
    sine_periods: list[int] = param(
        doc="sine_waves: one sine per period", factory=lambda: [1000, 500, 333, 200], unit="time steps"
    )
    clear_first_input_step: bool = param(
        True, "no input spike at step 0 of a sequence (bsshslm_2020 scripts: true, event-based: false)"
    )


def draw_input_spikes(
    rng: np.random.RandomState, n_in: int, sequence_steps: int, prob: float, clear_first_step: bool = True
) -> np.ndarray:
    """Frozen input noise (draw 5): a (n_in, sequence_steps) boolean raster, step 0 empty unless told otherwise."""
    spikes = (rng.rand(sequence_steps, n_in) < prob).swapaxes(0, 1)
    if clear_first_step:
        spikes[:, 0] = False
    return spikes


def sine_waves_target(rng: np.random.RandomState, sequence_steps: int, periods: list[int]) -> np.ndarray:
    """Target of the sine-waves task (draw 6): one output, a sum of sines, shape (1, sequence_steps).

    Sine k has amplitude A_k ~ U(0.5, 2), phase phi_k ~ U(0, 2 pi) (all amplitudes are drawn
    first, then all phases) and runs through `sequence_steps // T_k` whole turns of period T_k.
    The sum is shifted to start at 0 and divided by its largest absolute value (at least 1e-6).
    """
    n = len(periods)
    amplitudes = rng.uniform(0.5, 2.0, n)
    phases = rng.uniform(0.0, 2.0 * np.pi, n)
    total = np.zeros(sequence_steps)
    for amplitude, phase, period in zip(amplitudes, phases, periods):
        turns = sequence_steps // int(period)
        total = total + amplitude * np.sin(np.linspace(phase, phase + 2.0 * np.pi * turns, sequence_steps))
    total = total - total[0]
    return (total / max(np.max(np.abs(total)), 1e-6))[None, :]


def trajectory_target(data: np.ndarray, steps_per_data_point: int, cumulate: bool = True) -> np.ndarray:
    """A file trajectory as a target, one row per column of `data` (n_samples, n_out).

    Rows are increments (`cumulate`, as the handwriting file) or absolute samples. Each
    coordinate is scaled by its largest absolute value, centred on its mean and linearly
    interpolated to `steps_per_data_point` steps per sample (flat after the last sample).
    """
    n_samples = data.shape[0]
    sequence = n_samples * steps_per_data_point
    x_eval = np.arange(sequence) / steps_per_data_point
    x_data = np.arange(sequence // steps_per_data_point)
    positions = np.cumsum(data, axis=0) if cumulate else np.array(data, dtype=float)
    rows = []
    for y in positions.T:
        y /= np.max(np.abs(y))
        y -= np.mean(y)
        rows.append(np.interp(x_eval, x_data, y))
    return np.array(rows)


def handwriting_target(increments: np.ndarray, steps_per_data_point: int) -> np.ndarray:
    """Target of the handwriting task: the cumulated pen increments, one row per output.

    Each coordinate is scaled by its largest absolute value, centred on its mean and
    linearly interpolated to `steps_per_data_point` steps per sample.
    """
    return trajectory_target(increments, steps_per_data_point, cumulate=True)


def infinite_loop_target(sequence_steps: int) -> np.ndarray:
    """Target of the infinite-loop task: x = sin(one turn), y = sin(two turns) over one sequence."""
    return np.array(
        [
            np.sin(np.linspace(0.0, 2.0 * np.pi, sequence_steps)),
            np.sin(np.linspace(0.0, 4.0 * np.pi, sequence_steps)),
        ]
    )


def mean_squared_error(readout: Mapping[str, np.ndarray], readout_ids: np.ndarray, timing: Timing) -> np.ndarray:
    """Loss per output of one iteration: 0.5 * sum_t (y - y*)^2 per sequence, averaged over the batch.

    `readout` holds the readout multimeter's events of exactly this iteration.
    """
    losses = []
    for node in readout_ids:
        mine = readout["senders"] == node
        error = (readout["readout_signal"][mine] - readout["target_signal"][mine]) ** 2
        if error.size != timing.iteration:
            raise RuntimeError(f"readout {node}: {error.size} samples in an iteration of {timing.iteration} steps")
        per_sequence = 0.5 * np.add.reduceat(error, np.arange(0, timing.iteration, timing.sequence))
        losses.append(per_sequence.mean() if per_sequence.size > 1 else per_sequence[0])
    return np.array(losses)


class TrajectoryTask(Task):
    """The common part of the trajectory tasks; subclasses give the target and the data file."""

    kind = "regression"
    config_schema = TrajectoryConfig
    min_columns = 2  # of a task.data_file
    reads_data = False  # the target comes from the data file

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.task_cfg = cfg.task
        self._data = _UNSET
        self.raster: np.ndarray | None = None  # (n_in, sequence_steps) bool, after draw()
        self.target: np.ndarray | None = None  # (n_out, sequence_steps), after draw()
        self._signals: IterationSignals | None = None

    # -------------------------------------------------------------- config

    def check(self, cfg) -> None:
        t = cfg.task
        if t.data_format not in DATA_FORMATS:
            raise UserError(f"task.data_format={t.data_format}: must be one of {', '.join(DATA_FORMATS)}")
        self.check_target(t)
        if t.data_file is not None:
            self.data  # parsed here, once; errors name task.data_file
        if self.reads_data:
            if t.sequence_steps is not None and int(t.sequence_steps) != self.data_steps:
                raise UserError(
                    f"task.sequence_steps={t.sequence_steps}: the {t.target} data gives {self.data_steps} steps; leave it null"
                )
        elif t.sequence_steps is None:
            raise UserError(f"task.sequence_steps: must be set for task.target={t.target}")

    def check_target(self, t) -> None:
        """Checks of one target's own keys."""

    @property
    def data(self) -> np.ndarray | None:
        """The parsed data file (n_samples, n_columns), or None for targets without one."""
        if self._data is _UNSET:
            self._data = self.load_data()
        return self._data

    def load_data(self) -> np.ndarray | None:
        t = self.task_cfg
        if t.data_file is None:
            return None
        return load_trajectory(t.data_file, key="task.data_file", min_columns=self.min_columns)

    @property
    def data_steps(self) -> int:
        return self.data.shape[0] * int(self.task_cfg.steps_per_data_point)

    # -------------------------------------------------------------- sizes

    @property
    def n_inputs(self) -> int:
        return int(self.task_cfg.n_in)

    @property
    def n_outputs(self) -> int:
        return int(self.data.shape[1])

    @property
    def sequence_steps(self) -> int:
        t = self.task_cfg
        if t.sequence_steps is not None:
            return int(t.sequence_steps)
        if not self.reads_data:
            raise UserError(f"task.sequence_steps: must be set for task.target={t.target}")
        return self.data_steps

    # -------------------------------------------------------------- signals

    def draw(self, rng: np.random.RandomState) -> None:
        t = self.task_cfg
        self.raster = draw_input_spikes(
            rng, self.n_inputs, self.sequence_steps, t.input_spike_prob, t.clear_first_input_step
        )
        self.target = self.make_target(rng)
        self._signals = None

    def make_target(self, rng: np.random.RandomState) -> np.ndarray:
        """The target (n_out, sequence_steps) of every sequence (draw 6 for sine_waves)."""
        raise NotImplementedError

    def iteration_signals(self, k: int, phase: int = 0) -> IterationSignals:
        """The same frozen raster and target for every iteration: batch_size sequences back to back."""
        if self._signals is None:
            steps, batch = self.sequence_steps, int(self.task_cfg.batch_size)
            grid = np.arange(steps, dtype=float)
            starts = np.arange(batch, dtype=float) * steps
            input_steps = [(grid[row][None, :] + starts[:, None]).ravel() for row in self.raster]
            self._signals = IterationSignals(input_steps, np.tile(self.target, batch))
        return self._signals

    def iteration_outcome(self, readout, readout_ids, timing) -> Outcome:
        return Outcome(mean_squared_error(readout, readout_ids, timing))

    def write_static(self, writer) -> None:
        writer.write_array("target", self.target)


class Handwriting(TrajectoryTask):
    reads_data = True

    def load_data(self) -> np.ndarray:
        if self.task_cfg.data_file is not None:
            return super().load_data()
        return load_trajectory(handwriting_file(), key="handwriting data")

    def make_target(self, rng) -> np.ndarray:
        return handwriting_target(self.data, int(self.task_cfg.steps_per_data_point))

    def results_attrs(self) -> dict:
        return {**super().results_attrs(), "display": {"y_axis_down": True}}  # pen coordinates: y grows downwards


class Custom(TrajectoryTask):
    reads_data = True
    min_columns = 1

    def check_target(self, t) -> None:
        if t.data_file is None:
            raise UserError("task.data_file: must be set for task.target=custom (a text file, one column per output)")

    def load_data(self) -> np.ndarray:
        t = self.task_cfg
        data = super().load_data()
        positions = np.cumsum(data, axis=0) if t.data_format == "increments" else data
        flat = np.flatnonzero(np.max(np.abs(positions), axis=0) == 0)
        if flat.size:
            raise UserError(
                f"task.data_file={t.data_file}: column {flat[0] + 1} is zero throughout "
                f"(as task.data_format={t.data_format}); it cannot be normalized"
            )
        return data

    def make_target(self, rng) -> np.ndarray:
        t = self.task_cfg
        return trajectory_target(self.data, int(t.steps_per_data_point), cumulate=t.data_format == "increments")


class InfiniteLoop(TrajectoryTask):
    @property
    def n_outputs(self) -> int:
        return 2

    def make_target(self, rng) -> np.ndarray:
        return infinite_loop_target(self.sequence_steps)


class SineWaves(TrajectoryTask):
    def check_target(self, t) -> None:
        if not t.sine_periods:
            raise UserError("task.sine_periods=[]: give at least one period (time steps)")
        for period in t.sine_periods:
            if period is None or period < 1:
                raise UserError(f"task.sine_periods={period}: must be an integer >= 1")

    @property
    def n_outputs(self) -> int:
        return 1

    def make_target(self, rng) -> np.ndarray:
        return sine_waves_target(rng, self.sequence_steps, list(self.task_cfg.sine_periods))

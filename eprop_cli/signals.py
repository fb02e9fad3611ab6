"""Task timing, random draws and target signals: everything computed before NEST is touched.

Randomness. All draws come from one `np.random.RandomState(seed)`, never the global numpy
state, in the order of the seed tutorials, which is what makes them reproducible bit for bit:

1. initial weights in->rec   randn(n_in, n_rec).T / sqrt(n_in)
2. initial weights rec->rec  randn(n_rec, n_rec).T / sqrt(n_rec), diagonal set to 0 (no autapses)
3. initial weights rec->out  randn(n_rec, n_out).T / sqrt(n_rec)
4. feedback weights out->rec randn(n_rec, n_out) / sqrt(n_rec)
5. input spikes              rand(sequence_steps, n_in) < input_spike_prob, step 0 cleared
6. a random target, for tasks that have one (none of the seed tasks do)

The per-neuron membrane time constants are drawn by NEST's own generator (`rng_seed`), as
in the seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import handwriting_file, load_trajectory
from .errors import UserError


@dataclass(frozen=True)
class Timing:
    """The seeds' timing block, in time steps; `dt` is the resolution in ms."""

    dt: float  # ms
    sequence: int  # steps per sequence (one training example)
    batch_size: int  # sequences per iteration (weight update)
    n_iter: int  # iterations
    offset_gen: int
    delay_in_rec: int
    delay_rec_out: int
    delay_out_norm: int
    extension_sim: int

    @property
    def iteration(self) -> int:
        """Steps per iteration."""
        return self.sequence * self.batch_size

    @property
    def task(self) -> int:
        return self.n_iter * self.iteration

    @property
    def delays(self) -> int:
        return self.delay_in_rec + self.delay_rec_out + self.delay_out_norm

    @property
    def total_offset(self) -> int:
        return self.offset_gen + self.delays

    @property
    def sim(self) -> int:
        return self.task + self.total_offset + self.extension_sim

    def ms(self, steps: int) -> float:
        return steps * self.dt

    def chunk_ends(self, lag: int = 1) -> list[int]:
        """Step at which each iteration's Simulate chunk ends.

        Iteration k's readout samples carry the times (total_offset + k*iteration,
        total_offset + (k+1)*iteration], and NEST hands a multimeter its samples `lag` steps
        late (the min_delay), so the chunk runs `lag` steps past the last sample. The last
        chunk also covers the extension that closes the simulated interval.
        """
        ends = [self.total_offset + (k + 1) * self.iteration + lag for k in range(self.n_iter)]
        ends[-1] = max(ends[-1], self.sim)
        return ends


def make_timing(task_cfg, dt: float, sequence_steps: int) -> Timing:
    return Timing(
        dt=dt,
        sequence=sequence_steps,
        batch_size=task_cfg.batch_size,
        n_iter=task_cfg.n_iter,
        offset_gen=task_cfg.offset_gen,
        delay_in_rec=task_cfg.delay_in_rec,
        delay_rec_out=task_cfg.delay_rec_out,
        delay_out_norm=task_cfg.delay_out_norm,
        extension_sim=task_cfg.extension_sim,
    )


def draw_weights(rng: np.random.RandomState, n_in: int, n_rec: int, n_out: int, dtype: str = "float32") -> dict[str, np.ndarray]:
    """Initial weights (draws 1-4), each as a (n_target, n_source) matrix in pA."""
    w_in_rec = np.array(rng.randn(n_in, n_rec).T / np.sqrt(n_in), dtype=dtype)
    w_rec_rec = np.array(rng.randn(n_rec, n_rec).T / np.sqrt(n_rec), dtype=dtype)
    np.fill_diagonal(w_rec_rec, 0.0)
    w_rec_out = np.array(rng.randn(n_rec, n_out).T / np.sqrt(n_rec), dtype=dtype)
    w_out_rec = np.array(rng.randn(n_rec, n_out) / np.sqrt(n_rec), dtype=dtype)
    return {"in_rec": w_in_rec, "rec_rec": w_rec_rec, "rec_out": w_rec_out, "out_rec": w_out_rec}


def draw_input_spikes(rng: np.random.RandomState, n_in: int, sequence_steps: int, prob: float) -> np.ndarray:
    """Frozen input noise (draw 5): a (n_in, sequence_steps) boolean raster, step 0 empty."""
    spikes = (rng.rand(sequence_steps, n_in) < prob).swapaxes(0, 1)
    spikes[:, 0] = False
    return spikes


def handwriting_target(increments: np.ndarray, steps_per_data_point: int) -> np.ndarray:
    """Target of the handwriting task: the cumulated pen increments, one row per output.

    Each coordinate is scaled by its largest absolute value, centred on its mean and
    linearly interpolated to `steps_per_data_point` steps per sample.
    """
    n_samples = increments.shape[0]
    sequence = n_samples * steps_per_data_point
    x_eval = np.arange(sequence) / steps_per_data_point
    x_data = np.arange(sequence // steps_per_data_point)
    rows = []
    for y in np.cumsum(increments, axis=0).T:
        y /= np.max(np.abs(y))
        y -= np.mean(y)
        rows.append(np.interp(x_eval, x_data, y))
    return np.array(rows)


def infinite_loop_target(sequence_steps: int) -> np.ndarray:
    """Target of the infinite-loop task: x = sin(one turn), y = sin(two turns) over one sequence."""
    return np.array(
        [
            np.sin(np.linspace(0.0, 2.0 * np.pi, sequence_steps)),
            np.sin(np.linspace(0.0, 4.0 * np.pi, sequence_steps)),
        ]
    )


def load_task_data(task_cfg) -> np.ndarray | None:
    """The task's data file as an array, or None for tasks without one."""
    if task_cfg.target != "handwriting":
        return None
    if task_cfg.data_file:
        return load_trajectory(task_cfg.data_file, key="task.data_file")
    return load_trajectory(handwriting_file(), key="handwriting data")


def sequence_steps(task_cfg, data: np.ndarray | None) -> int:
    """Time steps per sequence: from the config, or data length × steps per data point."""
    if task_cfg.sequence_steps is not None:
        return int(task_cfg.sequence_steps)
    if data is None:
        raise UserError(f"task.sequence_steps: must be set for task.target={task_cfg.target}")
    return data.shape[0] * int(task_cfg.steps_per_data_point)


def target_signal(task_cfg, data: np.ndarray | None, steps: int, rng: np.random.RandomState) -> np.ndarray:
    """The target (n_out, steps) of one sequence. `rng` is for random targets (draw 6)."""
    if task_cfg.target == "handwriting":
        target = handwriting_target(data, int(task_cfg.steps_per_data_point))
        if target.shape[1] != steps:
            raise UserError(
                f"task.sequence_steps={task_cfg.sequence_steps}: the handwriting data gives {target.shape[1]} steps; leave it null"
            )
        return target
    if task_cfg.target == "infinite_loop":
        return infinite_loop_target(steps)
    raise UserError(f"task.target={task_cfg.target}: unknown target")

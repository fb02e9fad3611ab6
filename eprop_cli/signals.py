"""Task timing, random draws and target signals: everything computed before NEST is touched.

Randomness. All draws come from one `np.random.RandomState(seed)`, never the global numpy
state, in the order of the seed tutorials, which is what makes them reproducible bit for bit:

1. initial weights in->rec   randn(n_in, n_rec).T / sqrt(n_in)
2. initial weights rec->rec  randn(n_rec, n_rec).T / sqrt(n_rec), diagonal set to 0 (no autapses)
3. initial weights rec->out  randn(n_rec, n_out).T / sqrt(n_rec)
4. feedback weights out->rec randn(n_rec, n_out) / sqrt(n_rec)
5. input spikes              rand(sequence_steps, n_in) < input_spike_prob, step 0 cleared
                             unless task.clear_first_input_step=false
6. a random target, for tasks that have one: sine_waves draws uniform(0.5, 2.0, n_sines)
   amplitudes, then uniform(0, 2*pi, n_sines) phases (the other tasks draw nothing)

The weight scalings (`weights.<projection>.scale`, `.divide_by`) are applied after all
draws, in the weight dtype; weights loaded with `weights.load` replace the drawn ones, which
are still drawn so that the input spikes and targets stay the same.

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
    def final_update(self) -> int:
        """Step of the final-update spike: the generator fires at task + delays, as in the seeds."""
        return self.task + self.delays

    @property
    def final_update_arrival(self) -> int:
        """Step at which the final-update spike (delay one step) makes every input and recurrent neuron spike."""
        return self.final_update + 1

    @property
    def sim(self) -> int:
        return self.task + self.total_offset + self.extension_sim

    def ms(self, steps: int) -> float:
        # Rounded to 1e-9 ms (far below NEST's 0.001 ms tic): 1824 * 0.3 = 547.1999999999999,
        # which NEST compares against its grid value 547.2 and refuses as an e-prop interval.
        # Exact products (dt = 1.0, 0.5, ...) are unchanged.
        return round(steps * self.dt, 9)

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


def scale_weights(weights: dict[str, np.ndarray], init_cfg) -> dict[str, np.ndarray]:
    """Multiply each drawn projection by `scale`, then divide by `divide_by`, in its own dtype.

    Both are done in the weight dtype (a python float meets a float32 array as float32), so
    a scale of 1 leaves the weights bit for bit unchanged, and `divide_by: x` equals the NEST
    scripts' `w /= x`, which `scale: 1/x` would not.
    """
    scaled = {}
    for name, w in weights.items():
        cfg = init_cfg[name]
        scaled[name] = (w * float(cfg.scale)) / float(cfg.divide_by)
    return scaled


def draw_input_spikes(rng: np.random.RandomState, n_in: int, sequence_steps: int, prob: float, clear_first_step: bool = True) -> np.ndarray:
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


def load_task_data(task_cfg) -> np.ndarray | None:
    """The task's data file as an array, or None for tasks without one."""
    if task_cfg.target == "custom":
        data = load_trajectory(task_cfg.data_file, key="task.data_file", min_columns=1)
        positions = np.cumsum(data, axis=0) if task_cfg.data_format == "increments" else data
        flat = np.flatnonzero(np.max(np.abs(positions), axis=0) == 0)
        if flat.size:
            raise UserError(
                f"task.data_file={task_cfg.data_file}: column {flat[0] + 1} is zero throughout "
                f"(as task.data_format={task_cfg.data_format}); it cannot be normalized"
            )
        return data
    if task_cfg.target != "handwriting":
        return None
    if task_cfg.data_file:
        return load_trajectory(task_cfg.data_file, key="task.data_file")
    return load_trajectory(handwriting_file(), key="handwriting data")


def n_outputs(task_cfg, data: np.ndarray | None) -> int:
    """Readout neurons of the task: one per data column, 2 for infinite_loop, 1 for sine_waves."""
    if data is not None:
        return int(data.shape[1])
    return {"infinite_loop": 2, "sine_waves": 1}[task_cfg.target]


def sequence_steps(task_cfg, data: np.ndarray | None) -> int:
    """Time steps per sequence: from the config, or data length × steps per data point."""
    if task_cfg.sequence_steps is not None:
        return int(task_cfg.sequence_steps)
    if data is None:
        raise UserError(f"task.sequence_steps: must be set for task.target={task_cfg.target}")
    return data.shape[0] * int(task_cfg.steps_per_data_point)


def target_signal(task_cfg, data: np.ndarray | None, steps: int, rng: np.random.RandomState | None) -> np.ndarray:
    """The target (n_out, steps) of one sequence. `rng` is for random targets (draw 6)."""
    if task_cfg.target in ("handwriting", "custom"):
        cumulate = task_cfg.target == "handwriting" or task_cfg.data_format == "increments"
        target = trajectory_target(data, int(task_cfg.steps_per_data_point), cumulate=cumulate)
        if target.shape[1] != steps:
            raise UserError(
                f"task.sequence_steps={task_cfg.sequence_steps}: the {task_cfg.target} data gives {target.shape[1]} steps; leave it null"
            )
        return target
    if task_cfg.target == "infinite_loop":
        return infinite_loop_target(steps)
    if task_cfg.target == "sine_waves":
        return sine_waves_target(rng, steps, list(task_cfg.sine_periods))
    raise UserError(f"task.target={task_cfg.target}: unknown target")


def draw_signals(cfg, data: np.ndarray | None, steps: int, rng: np.random.RandomState) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Initial weights, input spikes and target of a run, drawn from `rng` in the documented order.

    Returns (weights as (n_target, n_source) matrices in pA, input raster (n_in, steps),
    target (n_out, steps)).
    """
    t = cfg.task
    n_out = n_outputs(t, data)
    weights = draw_weights(rng, t.n_in, cfg.neuron.rec.n, n_out, cfg.synapse.weight_dtype)
    input_spikes = draw_input_spikes(rng, t.n_in, steps, t.input_spike_prob, t.clear_first_input_step)
    target = target_signal(t, data, steps, rng)
    weights = scale_weights(weights, cfg.weights)
    if cfg.weights.load is not None:
        from .weights import load_final_weights

        loaded = load_final_weights(cfg.weights.load)
        for name, w in loaded.items():
            if w.shape != weights[name].shape:
                raise UserError(
                    f"weights.load={cfg.weights.load}: {name} is {w.shape[0]}x{w.shape[1]} (targets x sources), "
                    f"this network needs {weights[name].shape[0]}x{weights[name].shape[1]}"
                )
        weights = loaded
    return weights, input_spikes, target

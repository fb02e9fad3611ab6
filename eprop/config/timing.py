"""The timing of a run in time steps: sequences, iterations, delays, Simulate chunks (`Timing`).

Every time is an integer number of steps; `Timing.ms` turns one into ms (the resolution `dt`
times the steps, rounded onto NEST's grid). No NEST, no randomness.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """The seeds' timing block, in time steps; `dt` is the resolution in ms."""

    dt: float  # ms
    sequence: int  # steps per sequence (one training example)
    batch_size: int  # sequences per iteration (Task.sequences_per_iteration: task.batch_size, nmnist's group_size)
    n_iter: int  # iterations
    offset_gen: int
    delay_in_rec: int
    delay_rec_out: int
    delay_out_norm: int
    extension_sim: int
    learning_window: int = (
        0  # steps at the end of each sequence that the loss counts (bsshslm_2020); 0: the whole sequence
    )

    @property
    def window(self) -> int:
        """Steps of the learning window (NEST's eprop_learning_window), at the end of every sequence."""
        return self.learning_window or self.sequence

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

    def chunk_end(self, k: int, lag: int = 1) -> int:
        """Step at which iteration k's Simulate chunk ends.

        Iteration k's readout samples carry the times (total_offset + k*iteration,
        total_offset + (k+1)*iteration], and NEST hands a multimeter its samples `lag` steps
        late (the min_delay), so the chunk runs `lag` steps past the last sample. The last
        chunk also covers the extension that closes the simulated interval. Computed per
        iteration, so that nothing is held per requested iteration (task.n_iter can be huge).
        """
        end = self.total_offset + (k + 1) * self.iteration + lag
        return max(end, self.sim) if k == self.n_iter - 1 else end

    def chunk_ends(self, lag: int = 1) -> list[int]:
        """chunk_end(k) of every iteration (a list of n_iter steps: for tests and short runs only)."""
        return [self.chunk_end(k, lag) for k in range(self.n_iter)]


def make_timing(
    task_cfg, dt: float, sequence_steps: int, learning_window_steps: int = 0, sequences_per_iteration: int | None = None
) -> Timing:
    """The timing of task config TASK_CFG; an iteration holds `sequences_per_iteration` sequences
    (the Task's; None: task.batch_size)."""
    return Timing(
        learning_window=learning_window_steps,
        dt=dt,
        sequence=sequence_steps,
        batch_size=task_cfg.batch_size if sequences_per_iteration is None else sequences_per_iteration,
        n_iter=task_cfg.n_iter,
        offset_gen=task_cfg.offset_gen,
        delay_in_rec=task_cfg.delay_in_rec,
        delay_rec_out=task_cfg.delay_rec_out,
        delay_out_norm=task_cfg.delay_out_norm,
        extension_sim=task_cfg.extension_sim,
    )

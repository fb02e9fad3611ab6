"""The recording schedule: which training iterations' recorder events are written to the file.

NEST records every iteration (the loss, the divergence check and the task's metrics need the
readout signals and spikes of each one), but only the iterations of the schedule have their
events appended to /events; /loss and the other per-iteration datasets are written for every
iteration. `/events_recorded` in the file says which iterations kept their events.

Iterations are numbered 1..task.n_iter over the whole training, a resumed run's parents
included, so a resumed run keeps the schedule of the uninterrupted one. An iteration is written
if one of these holds (recording.events_*):

- it is among the first `events_first` iterations;
- it is among the last `events_last` of task.n_iter iterations (a run stopped earlier never
  reaches them; the validation, early-stopping and test iterations of a phase schedule that run
  after iteration task.n_iter are not among them);
- `events_every` = k > 0 and the iteration's number is a multiple of k (k = 1: every iteration,
  the default; the tutorial recording keeps every event);
- it is the run's last iteration: the last of task.n_iter, or the one after which the run stops
  early (a signal that arrived before its events were written, a divergence). So the file ends
  with an iteration that has events, whatever stopped the run (except SIGKILL and a second
  signal, which lose the iteration in progress anyway).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventSchedule:
    every: int = 1  # every k-th iteration (1-based); 0: none
    first: int = 0  # the first N iterations
    last: int = 0  # the last N of n_iter iterations
    n_iter: int = 0  # task.n_iter: iterations of the whole training

    @classmethod
    def from_config(cls, cfg) -> EventSchedule:
        rec = cfg.recording
        return cls(int(rec.events_every), int(rec.events_first), int(rec.events_last), int(cfg.task.n_iter))

    def records(self, iteration: int) -> bool:
        """True if the events of `iteration` (0-based over the whole training) are written by the schedule."""
        number = iteration + 1
        return (
            number <= self.first
            or self.n_iter - self.last < number <= self.n_iter
            or (self.every > 0 and number % self.every == 0)
        )

    def count(self) -> int:
        """Iterations whose events a complete run writes (the schedule plus the last iteration)."""
        return sum(self.records(i) or i == self.n_iter - 1 for i in range(self.n_iter))

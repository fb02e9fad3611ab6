"""The phase schedule of NEST's evidence-accumulation example: which phase the next iteration has.

Phases (codes stored per iteration): 0 training, 1 validation, 2 early stopping, 3 test. The
schedule, with k counting training iterations from 0 (docs/evidence_accumulation.md, "The
example's phases"):

1. if `validate_every` > 0 and k is a multiple of it: one validation iteration;
   if moreover k > 0 and the current error is below `stop_criterion`: `n_early_stop`
   early-stopping iterations; the run stops if the mean of their errors is below it;
2. one training iteration; k += 1; repeat while k < `n_train` and the run has not stopped;
3. `n_test` test iterations.

The example scores an iteration only after the first 5 ms of the next one; its decisions
therefore use, counted in iterations: the current error = the error of the iteration before the
validation (the last training iteration), and the early-stopping mean = the errors of the
validation and the first n_early_stop - 1 early-stopping iterations. `next_phase` reproduces
that from the errors of the iterations done, so it needs no state: a resumed run passes its
parents' phases and errors.

No NEST here. The learning rate of a phase is the training one in training and 0 otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

PHASE_NAMES = ("training", "validation", "early_stopping", "test")
TRAINING, VALIDATION, EARLY_STOPPING, TEST = range(len(PHASE_NAMES))


@dataclass(frozen=True)
class PhaseSchedule:
    """The example's schedule; see the module docstring."""

    n_train: int  # training iterations at most
    validate_every: int  # training iterations between validations; 0: no validation, no early stopping
    n_early_stop: int  # early-stopping iterations per check (>= 1 when validate_every > 0)
    stop_criterion: float  # error (fraction of sequences, 0-1) below which training stops
    n_test: int  # test iterations after training

    def _phases(self, errors: Sequence[float]) -> Iterator[int]:
        """The phases in order; reads errors[i] only for iterations i already yielded and done."""
        i = 0  # iterations yielded so far
        k, stopped = 0, False
        while k < self.n_train and not stopped:
            if self.validate_every > 0 and k % self.validate_every == 0:
                validation = i
                yield VALIDATION
                i += 1
                if k > 0 and errors[validation - 1] < self.stop_criterion:
                    for _ in range(self.n_early_stop):
                        yield EARLY_STOPPING
                        i += 1
                    stopped = bool(np.mean(errors[validation : validation + self.n_early_stop]) < self.stop_criterion)
            yield TRAINING
            i += 1
            k += 1
        for _ in range(self.n_test):
            yield TEST

    @classmethod
    def from_config(cls, cfg) -> PhaseSchedule:
        """The schedule of a run config: `task.n_iter` training iterations at most and the `phases.*` keys."""
        p = cfg.phases
        return cls(
            n_train=int(cfg.task.n_iter),
            validate_every=int(p.validate_every),
            n_early_stop=int(p.n_early_stop),
            stop_criterion=float(p.stop_error),
            n_test=int(p.n_test),
        )

    @property
    def trains_only(self) -> bool:
        """True if every iteration is training (no validation, no test phase): the loop of a run without phases."""
        return self.validate_every == 0 and self.n_test == 0

    def next_phase(self, phases: Sequence[int], errors: Sequence[float]) -> int | None:
        """Phase of iteration len(phases), given the phases and errors of the iterations done; None when the run is over.

        `errors` may lack the error of the last iteration done: the schedule never needs it (the
        example decides with errors one iteration old), which lets the training loop decide the
        phase of iteration k + 1 before iteration k is scored. Raises ValueError if `phases` is
        not what this schedule gives for these errors (e.g. a parent run made with another schedule).
        """
        if not len(phases) - 1 <= len(errors) <= len(phases):
            raise ValueError(f"{len(phases)} phases but {len(errors)} errors")
        if self.trains_only:  # every iteration training: no need to replay the schedule (long runs)
            for i, phase in enumerate(phases[: self.n_train]):
                if phase != TRAINING:
                    raise ValueError(
                        f"iteration {i} has phase {PHASE_NAMES[phase]}, this schedule gives {PHASE_NAMES[TRAINING]}"
                    )
            return TRAINING if len(phases) < self.n_train else None
        for i, phase in enumerate(self._phases(errors)):
            if i == len(phases):
                return phase
            if phases[i] != phase:
                raise ValueError(
                    f"iteration {i} has phase {PHASE_NAMES[phases[i]]}, this schedule gives {PHASE_NAMES[phase]}"
                )
        return None

    def max_iterations(self, phases: Sequence[int] = (), errors: Sequence[float] = ()) -> int:
        """The most iterations the run can have after these (consistent) phases and errors.

        The longest continuation: every later check finds the last training error below the
        criterion (0) and every early-stopping mean above it (1), so each check runs its
        early-stopping iterations and none stops the run. With no history: n_train +
        validations + (validations - 1) * n_early_stop + n_test.
        """
        if self.trains_only:
            self.next_phase(phases, list(errors) + [np.nan] * (len(phases) - len(errors)))  # checks the phases
            return max(self.n_train, len(phases))
        kinds: list[int] = []  # the phases as the schedule gives them, history first

        class Worst:  # the errors known, then the worst case for every later (or unscored) iteration
            def __getitem__(self, i):
                if isinstance(i, slice):
                    return [self[j] for j in range(i.start, i.stop)]
                if i < len(errors):
                    return errors[i]
                return 0.0 if kinds[i] == TRAINING else 1.0

        for phase in self._phases(Worst()):
            kinds.append(phase)
        if kinds[: len(phases)] != list(phases):
            raise ValueError("the phases done are not what this schedule gives for their errors")
        return len(kinds)


def learning_rate(phase: int, eta: float) -> float:
    """The learning rate of an iteration of PHASE: `eta` in training, 0 otherwise."""
    return eta if phase == TRAINING else 0.0

"""The phase schedule (eprop_cli/phases.py) against the example's loop as the oracle runs it.

The oracle's runs (tests/test_oracle_evidence_accumulation.py, NEST tier) give, at batch 1
and `--n-iter-train 6 --validate-every 3 --n-early-stop 2 --n-test 2`, the errors
1 1 0 0 1 0 0 1 0 0 and the phases 1 0 0 0 1 2 2 0 3 3 (`--stop-crit 0.6`) and
1 0 0 0 1 2 2 0 0 0 3 3 (`--stop-crit 0.5`, errors of iterations 8-11 not needed here).
"""

from __future__ import annotations

import pytest

from eprop_cli.phases import EARLY_STOPPING, TEST, TRAINING, VALIDATION, PhaseSchedule, learning_rate

ORACLE_ERRORS = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def run(schedule: PhaseSchedule, errors: list[float]) -> list[int]:
    """All phases, scoring iteration i with errors[i] once it is done."""
    phases: list[int] = []
    while (phase := schedule.next_phase(phases, errors[:len(phases)])) is not None:
        phases.append(phase)
    return phases


@pytest.mark.parametrize("stop_criterion, expected", [
    (0.6, [1, 0, 0, 0, 1, 2, 2, 0, 3, 3]),
    (0.5, [1, 0, 0, 0, 1, 2, 2, 0, 0, 0, 3, 3]),
])
def test_schedule_gives_the_oracles_phases(stop_criterion, expected):
    schedule = PhaseSchedule(n_train=6, validate_every=3, n_early_stop=2, stop_criterion=stop_criterion, n_test=2)
    assert run(schedule, ORACLE_ERRORS) == expected


def test_current_error_is_that_of_the_last_training_iteration():
    schedule = PhaseSchedule(n_train=6, validate_every=3, n_early_stop=2, stop_criterion=0.6, n_test=1)
    # the validation itself (iteration 4) is above the criterion, the training iteration before it is not
    assert run(schedule, [1, 1, 1, 0.5, 1, 0, 0, 0, 0, 0, 0, 0])[:6] == [1, 0, 0, 0, 1, 2]
    # the last training iteration is above the criterion: no early stopping, training goes on
    assert run(schedule, [1, 1, 1, 0.6, 0, 0, 0, 0, 0, 0]) == [1, 0, 0, 0, 1, 0, 0, 0, 3]


def test_example_defaults_stop_at_the_first_check_when_every_error_is_zero():
    schedule = PhaseSchedule(n_train=50, validate_every=10, n_early_stop=8, stop_criterion=0.07, n_test=4)
    phases = run(schedule, [0.0] * 100)
    assert phases == [VALIDATION] + [TRAINING] * 10 + [VALIDATION] + [EARLY_STOPPING] * 8 + [TRAINING] + [TEST] * 4
    # never below the criterion: 5 validations, 50 training iterations, the test phase
    phases = run(schedule, [0.5] * 100)
    assert phases == ([VALIDATION] + [TRAINING] * 10) * 5 + [TEST] * 4


def test_without_validation_only_training_and_test():
    schedule = PhaseSchedule(n_train=3, validate_every=0, n_early_stop=8, stop_criterion=0.07, n_test=2)
    assert run(schedule, [0.0] * 10) == [TRAINING] * 3 + [TEST] * 2


def test_a_resumed_run_continues_the_schedule_and_a_foreign_history_is_refused():
    schedule = PhaseSchedule(n_train=6, validate_every=3, n_early_stop=2, stop_criterion=0.6, n_test=2)
    full = run(schedule, ORACLE_ERRORS)
    for done in range(len(full)):  # interrupted after `done` iterations, e.g. in the validation phase (done = 4)
        assert schedule.next_phase(full[:done], ORACLE_ERRORS[:done]) == full[done]
    assert schedule.next_phase(full, ORACLE_ERRORS[:len(full)]) is None
    with pytest.raises(ValueError, match="^iteration 1 has phase test, this schedule gives training$"):
        schedule.next_phase([VALIDATION, TEST], [1.0, 1.0])
    # the error of the last iteration done may be missing (the loop decides before scoring it), no other
    assert schedule.next_phase(full[:5], ORACLE_ERRORS[:4]) == full[5]
    with pytest.raises(ValueError, match="^3 phases but 1 errors$"):
        schedule.next_phase([VALIDATION, TRAINING, TRAINING], [1.0])


def test_learning_rate_is_zero_outside_training():
    assert [learning_rate(p, 5e-3) for p in (TRAINING, VALIDATION, EARLY_STOPPING, TEST)] == [5e-3, 0.0, 0.0, 0.0]

"""The phase schedule (eprop/config/phases.py) against the example's loop as the oracle runs it.

The oracle's runs (tests/nest/test_oracle_evidence_accumulation.py, NEST tier) give, at batch 1
and `--n-iter-train 6 --validate-every 3 --n-early-stop 2 --n-test 2`, the errors
1 1 0 0 1 0 0 1 0 0 and the phases 1 0 0 0 1 2 2 0 3 3 (`--stop-crit 0.6`) and
1 0 0 0 1 2 2 0 0 0 3 3 (`--stop-crit 0.5`, errors of iterations 8-11 not needed here).
"""

from __future__ import annotations

import signal

import numpy as np
import pytest

from eprop.config.phases import EARLY_STOPPING, TEST, TRAINING, VALIDATION, PhaseSchedule, learning_rate

ORACLE_ERRORS = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def run(schedule: PhaseSchedule, errors: list[float]) -> list[int]:
    """All phases, scoring iteration i with errors[i] once it is done."""
    phases: list[int] = []
    while (phase := schedule.next_phase(phases, errors[: len(phases)])) is not None:
        phases.append(phase)
    return phases


@pytest.mark.parametrize(
    "stop_criterion, expected",
    [
        (0.6, [1, 0, 0, 0, 1, 2, 2, 0, 3, 3]),
        (0.5, [1, 0, 0, 0, 1, 2, 2, 0, 0, 0, 3, 3]),
    ],
)
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
    assert schedule.next_phase(full, ORACLE_ERRORS[: len(full)]) is None
    with pytest.raises(ValueError, match="^iteration 1 has phase test, this schedule gives training$"):
        schedule.next_phase([VALIDATION, TEST], [1.0, 1.0])
    # the error of the last iteration done may be missing (the loop decides before scoring it), no other
    assert schedule.next_phase(full[:5], ORACLE_ERRORS[:4]) == full[5]
    with pytest.raises(ValueError, match="^3 phases but 1 errors$"):
        schedule.next_phase([VALIDATION, TRAINING, TRAINING], [1.0])


def test_learning_rate_is_zero_outside_training():
    assert [learning_rate(p, 5e-3) for p in (TRAINING, VALIDATION, EARLY_STOPPING, TEST)] == [5e-3, 0.0, 0.0, 0.0]


def test_the_longest_schedule_bounds_the_run():
    schedule = PhaseSchedule(n_train=50, validate_every=10, n_early_stop=8, stop_criterion=0.07, n_test=4)
    assert schedule.max_iterations() == 50 + 5 + 4 * 8 + 4  # every check runs its early stopping, none stops
    schedule = PhaseSchedule(n_train=6, validate_every=3, n_early_stop=2, stop_criterion=0.6, n_test=2)
    full = run(schedule, ORACLE_ERRORS)
    assert [schedule.max_iterations(full[:n], ORACLE_ERRORS[:n]) for n in (0, 4, 5, 7, 10)] == [12, 12, 12, 10, 10]
    assert PhaseSchedule(5, 0, 8, 0.07, 0).max_iterations([TRAINING] * 2, [float("nan")] * 2) == 5


# ---------------------------------------------------------------------------- the training loop (fake simulator)

from eprop.analysis.classification import classification_summary  # noqa: E402
from eprop.analysis.figures.classification import classification_loss_figure  # noqa: E402
from eprop.config.validation import validate  # noqa: E402
from eprop.errors import Interrupted, UserError  # noqa: E402
from eprop.results import open_results  # noqa: E402
from eprop.training.loop import train  # noqa: E402
from eprop.training.resume import resume_config  # noqa: E402
from tests.support.fake_simulator import FakeSimulator  # noqa: E402

# Sequences of 6 steps (1 cue of 2 ms after 1 ms, 1 ms of noise, a recall window of 2 ms): with
# batch 1 iteration k is steps [6k, 6k + 6), its chunk ends at 4 + 6(k + 1) + 1 = 6k + 11.
TINY = (
    "experiment=nest_bsshslm_2020_evidence_accumulation",
    "task.n_cues=1",
    "task.cue_ms=2",
    "task.spacing_ms=1",
    "task.bg_noise_ms=1",
    "task.recall_ms=2",
    "recording.saturated_rate=1.0",
    "progress=false",
)  # 1 fake spike per 6 ms
PHASES = (
    "task.n_iter=6",
    "phases.validate_every=3",
    "phases.n_early_stop=2",
    "phases.n_test=2",
    "phases.stop_error=0.6",
)
WRONG = {0, 1, 4, 7}  # the fake misclassifies these iterations: the oracle's errors 1 1 0 0 1 0 0 1 0 0
ETA = 5e-3


def rate_calls(sim: FakeSimulator) -> list[tuple]:
    return [
        c for c in sim.calls if c[0] in ("build_eta", "simulate_until", "set_learning_rate", "apply_pending_updates")
    ]


def test_the_loop_runs_the_schedule_and_sets_the_rate_at_the_iteration_boundaries(compose, tmp_path):
    sim = FakeSimulator(wrong=WRONG)
    seen = []
    train(compose(*TINY, *PHASES), tmp_path, sim=sim, on_iteration=lambda k, loss, total: seen.append((k, total)))
    # phases 1 0 0 0 1 2 2 0 3 3: the rate changes before iterations 1, 4, 7 and 8, at steps 6, 24, 42, 48;
    # the first phase is a validation, so the synapses are built with rate 0
    chunk = [6 * k + 11 for k in range(10)]
    assert rate_calls(sim) == [
        ("build_eta", 0.0),
        ("simulate_until", 6),
        ("set_learning_rate", (6, ETA)),
        ("simulate_until", chunk[0]),
        ("simulate_until", chunk[1]),
        ("simulate_until", chunk[2]),
        ("simulate_until", 24),
        ("set_learning_rate", (24, 0.0)),
        ("simulate_until", chunk[3]),
        ("simulate_until", chunk[4]),
        ("simulate_until", chunk[5]),
        ("simulate_until", 42),
        ("set_learning_rate", (42, ETA)),
        ("simulate_until", chunk[6]),
        ("simulate_until", 48),
        ("set_learning_rate", (48, 0.0)),
        ("simulate_until", chunk[7]),
        ("simulate_until", chunk[8]),
        ("simulate_until", chunk[9]),
        ("apply_pending_updates", chunk[9]),  # the schedule ended before its longest (12 iterations)
    ]
    # the progress bar's total: 12 at most until the early-stopping mean (errors of iterations 4 and 5) is known
    assert seen == [(0, 12), (1, 12), (2, 12), (3, 12), (4, 12), (5, 10), (6, 10), (7, 10), (8, 10), (9, 10)]
    with open_results(tmp_path) as res:
        assert (res.status, res.n_iter_done) == ("complete", 10)
        assert res.phases().tolist() == [1, 0, 0, 0, 1, 2, 2, 0, 3, 3]
        assert res.phase_names == ["training", "validation", "early_stopping", "test"]
        assert (1.0 - res.accuracy).tolist() == [1, 1, 0, 0, 1, 0, 0, 1, 0, 0]


def test_without_phases_the_loop_is_unchanged(compose, tmp_path):
    sim = FakeSimulator()
    train(compose(*TINY, "task.n_iter=3"), tmp_path, sim=sim)
    assert rate_calls(sim) == [
        ("build_eta", ETA),
        ("simulate_until", 11),
        ("simulate_until", 17),
        ("simulate_until", 23),
    ]
    with open_results(tmp_path) as res:  # a classification file says its phases all the same
        assert (res.status, res.phases().tolist()) == ("complete", [0, 0, 0])


def test_a_regression_file_has_no_phase_and_reads_as_training(compose, tmp_path):
    train(
        compose(
            "task=sine_waves",
            "task.sequence_steps=20",
            "task.sine_periods=[10]",
            "task.n_in=4",
            "neuron.rec.n=5",
            "recording=minimal",
            "progress=false",
            "task.n_iter=2",
        ),
        tmp_path,
        sim=FakeSimulator(),
    )
    with open_results(tmp_path) as res:
        assert "phase" not in res.file and res.phases().tolist() == [0, 0]


@pytest.mark.slow
def test_a_run_interrupted_in_validation_resumes_into_the_schedule(compose, tmp_path):
    def sigint_in_validation(k: int) -> None:
        if k == 4:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(Interrupted) as info:
        train(
            compose(*TINY, *PHASES),
            tmp_path / "parent",
            sim=FakeSimulator(wrong=WRONG, on_simulate=sigint_in_validation),
        )
    assert str(info.value) == (
        f"SIGINT after 5 of at most 12 iterations; results kept in {tmp_path / 'parent'}; "
        f"continue with: eprop run resume={tmp_path / 'parent'}"
    )
    cfg, parent = resume_config(compose(*TINY, f"resume={tmp_path / 'parent'}"), [])
    assert (parent.n_iter_done, parent.phases.tolist(), parent.errors.tolist()) == (5, [1, 0, 0, 0, 1], [1, 1, 0, 0, 1])
    sim = FakeSimulator(wrong={7 - 5})  # the fake counts this run's iterations from 0
    train(cfg, tmp_path / "child", parent=parent, sim=sim)
    # early stopping first: rate 0 at the build, the training rate for iteration 7 (this run's 2), 0 for the test
    assert [c for c in rate_calls(sim) if c[0] in ("build_eta", "set_learning_rate")] == [
        ("build_eta", 0.0),
        ("set_learning_rate", (12, ETA)),
        ("set_learning_rate", (18, 0.0)),
    ]
    with open_results(tmp_path / "parent") as res:
        parent_accuracy = res.accuracy.tolist()
    with open_results(tmp_path / "child") as res:
        assert (res.status, res.first_iteration, res.phases().tolist()) == ("complete", 5, [2, 2, 0, 3, 3])
        # eval counts the whole training, the parent's five iterations first (as it does the loss)
        summary = classification_summary(res)
        assert summary["phase"] == [
            "validation",
            "training",
            "training",
            "training",
            "validation",
            "early_stopping",
            "early_stopping",
            "training",
            "test",
            "test",
        ]
        assert summary["accuracy"] == parent_accuracy + res.accuracy.tolist()
        assert summary["n_iter_per_phase"] == {"training": 4, "validation": 2, "early_stopping": 2, "test": 2}
        assert summary["accuracy_per_phase"]["validation"] == (parent_accuracy[0] + parent_accuracy[4]) / 2
        assert summary["final_accuracy_from"] == "test phase, 2 iterations"
        assert summary["final_accuracy"] == float(res.accuracy[3:].mean())
        fig = classification_loss_figure(res)  # the loss_error figure shows the same ten iterations
        points = np.concatenate([c.get_offsets()[:, 0] for c in fig.axes[0].collections])
        assert sorted(points.tolist()) == list(range(1, 11))
        assert [line.get_xdata()[0] for line in fig.axes[0].lines[1:]] == [5.5]  # the resume
    # resumed again: the chain's schedule is over
    with pytest.raises(UserError) as info:
        resume_config(compose(*TINY, f"resume={tmp_path / 'child'}"), [])
    assert str(info.value) == (
        f"resume={tmp_path / 'child'}: the parent runs have finished their phase schedule "
        "(10 iterations, the test phase included); nothing is left to run"
    )
    # another schedule does not fit the parent's phases
    with pytest.raises(UserError) as info:
        resume_config(compose(*TINY, f"resume={tmp_path / 'parent'}"), ["phases.validate_every=2"])
    assert str(info.value) == (
        f"resume={tmp_path / 'parent'}: the parent runs' phases do not follow this schedule "
        "(task.n_iter=6, phases.*): iteration 3 has phase training, this schedule gives validation"
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ("task=sine_waves", "phases.validate_every=10"),
            "phases.validate_every=10: phases need a classification task (validation and early stopping decide on the error, "
            "1 - accuracy); task sine_waves is a regression task, leave it 0",
        ),
        (
            ("task=sine_waves", "phases.n_test=4"),
            "phases.n_test=4: phases need a classification task (validation and early stopping decide on the error, "
            "1 - accuracy); task sine_waves is a regression task, leave it 0",
        ),
        (
            (*TINY, "phases.validate_every=3", "phases.n_early_stop=0"),
            "phases.n_early_stop=0: must be an integer >= 1 when phases.validate_every > 0 "
            "(training stops on the mean error of the early-stopping iterations)",
        ),
        ((*TINY, "phases.stop_error=1.5"), "phases.stop_error=1.5: must be a probability in [0, 1]"),
        ((*TINY, "phases.validate_every=-1"), "phases.validate_every=-1: must be an integer >= 0"),
        ((*TINY, "phases.n_test=-2"), "phases.n_test=-2: must be an integer >= 0"),
    ],
)
def test_refusals(compose, overrides, message):
    with pytest.raises(UserError) as info:
        validate(compose(*overrides))
    assert str(info.value) == message


def test_presets_hold_the_examples_settings(compose):
    cfg = compose("experiment=evidence_accumulation")
    validate(cfg)
    assert (cfg.task.n_iter, cfg.task.batch_size, cfg.optimizer.eta, cfg.seed) == (50, 32, 5e-3, 1)
    assert dict(cfg.phases) == {"validate_every": 10, "n_early_stop": 8, "stop_error": 0.07, "n_test": 4}
    assert PhaseSchedule.from_config(cfg).max_iterations() == 91
    long = compose("experiment=evidence_accumulation_long")
    assert (long.task.n_iter, long.task.batch_size, dict(long.phases)) == (500, 32, dict(cfg.phases))
    # NEST's test stays without phases
    nest = compose("experiment=nest_bsshslm_2020_evidence_accumulation")
    assert PhaseSchedule.from_config(nest).trains_only and nest.task.n_iter == 5


@pytest.mark.slow
def test_a_chain_of_resumed_runs_continues_the_schedule_and_needs_every_file(compose, tmp_path):
    def sigint_in(iteration: int):
        def hook(k: int) -> None:
            if k == iteration:
                signal.raise_signal(signal.SIGINT)

        return hook

    with pytest.raises(Interrupted):  # after iteration 2: training
        train(compose(*TINY, *PHASES), tmp_path / "a", sim=FakeSimulator(wrong=WRONG, on_simulate=sigint_in(2)))
    cfg, parent = resume_config(compose(*TINY, f"resume={tmp_path / 'a'}"), [])
    with pytest.raises(Interrupted):  # after iteration 5 (this run's 2): early stopping
        train(cfg, tmp_path / "b", parent=parent, sim=FakeSimulator(wrong={4 - 3}, on_simulate=sigint_in(2)))
    cfg, parent = resume_config(compose(*TINY, f"resume={tmp_path / 'b'}"), [])
    assert (parent.n_iter_done, parent.phases.tolist(), parent.errors.tolist()) == (
        6,
        [1, 0, 0, 0, 1, 2],
        [1, 1, 0, 0, 1, 0],
    )
    train(cfg, tmp_path / "c", parent=parent, sim=FakeSimulator(wrong={7 - 6}))
    with open_results(tmp_path / "c") as res:
        assert (res.status, res.first_iteration, res.phases().tolist()) == ("complete", 6, [2, 0, 3, 3])
    (tmp_path / "a" / "results.h5").rename(tmp_path / "a" / "moved.h5.bak")
    with pytest.raises(UserError) as info:
        resume_config(compose(*TINY, f"resume={tmp_path / 'b'}"), [])
    assert str(info.value) == (
        f"resume: {tmp_path / 'b' / 'results.h5'} continued {tmp_path / 'a'}, whose results file is "
        "missing (or repeats in the chain); the phase schedule needs the phases of every earlier iteration"
    )


def test_a_schedule_of_training_only_checks_the_history_without_replaying_it():
    schedule = PhaseSchedule(n_train=3, validate_every=0, n_early_stop=8, stop_criterion=0.07, n_test=0)
    assert schedule.trains_only and run(schedule, [0.0] * 5) == [TRAINING] * 3
    assert schedule.max_iterations([TRAINING], [0.5]) == 3
    with pytest.raises(ValueError, match="^iteration 1 has phase validation, this schedule gives training$"):
        schedule.next_phase([TRAINING, VALIDATION], [0.5])


@pytest.mark.slow
def test_eval_of_a_resumed_classification_run_counts_its_schedule_not_task_n_iter(compose, tmp_path, capsys):
    """Issue 19, item 13: a resumed run with phases said "iterations done: 13 of 8" (task.n_iter counts
    training iterations only)."""
    from eprop.analysis.jobs import summarize_runs
    from eprop.cli import report

    def sigint_in_validation(k: int) -> None:
        if k == 4:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(Interrupted):
        train(
            compose(*TINY, *PHASES),
            tmp_path / "parent",
            sim=FakeSimulator(wrong=WRONG, on_simulate=sigint_in_validation),
        )
    cfg, parent = resume_config(compose(*TINY, f"resume={tmp_path / 'parent'}"), [])
    train(cfg, tmp_path / "child", parent=parent, sim=FakeSimulator(wrong={7 - 5}))
    (s,) = summarize_runs([tmp_path / "child"])
    assert (s["status"], s["n_iter_done"], s["n_iter"], s["n_iter_bound"]) == ("complete", 10, 6, 10)

    def iterations_row(summary) -> str:
        table = report.run_table(summary)
        row = table.columns[0]._cells.index("iterations done")
        return table.columns[1]._cells[row]

    assert iterations_row(s) == "10, the end of the phase schedule (task.n_iter = 6 training iterations at most)"
    (tmp_path / "parent" / "results.h5").unlink()  # the schedule's start is gone: no bound, and never "10 of 6"
    (s,) = summarize_runs([tmp_path / "child"])
    assert (s["n_iter_done"], s["n_iter_bound"]) == (10, None)
    assert iterations_row(s) == "10 (task.n_iter = 6 training iterations, validation, early stopping and test)"

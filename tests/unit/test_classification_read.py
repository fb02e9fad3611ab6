"""Fast tier: eval, sweep summary and figures of classification runs with phases (no NEST).

The files are synthetic (tests/support/synthetic_results.py, `write_classification_run`): 10 iterations of 4
sequences with the phases 1 0 0 0 1 2 2 0 3 3 (validation, training x3, validation, early stopping x2,
training, test x2) and 1 2 3 4 2 3 4 4 3 1 sequences predicted right, so every number below is
counted by hand from those two lists.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from eprop import sweep
from eprop.analysis.figures import FIGURES, confusion_figure, dynamics_figure
from eprop.analysis.figures.classification import classification_loss_figure, readout_probabilities_figure
from eprop.analysis.figures.style import PALETTE
from eprop.analysis.jobs import summarize_runs, table_rows
from eprop.analysis.plot import plot_path
from eprop.analysis.summary import summarize_run
from eprop.errors import UserError
from eprop.results import open_results
from tests.conftest import run_eprop_in_process
from tests.support import synthetic_results as syn

A, B = -np.log(0.8), -np.log(0.2)  # cross-entropy of a sequence predicted right, wrong


def loss(correct: int) -> float:
    return (correct * A + (4 - correct) * B) / 4


@pytest.fixture
def phased(tmp_path):
    return syn.write_classification_run(tmp_path / "run" / "results.h5")


@pytest.fixture
def unphased(tmp_path):
    """No /phase (every iteration training), 12 iterations: the first two all wrong, then CORRECT."""
    return syn.write_classification_run(tmp_path / "plain" / "results.h5", correct=[0, 0] + syn.CORRECT, phases=None)


# ---------------------------------------------------------------- the reader and the numbers


def test_phases_are_read_from_the_file_and_zeros_without_phase(phased, unphased):
    with open_results(phased) as res:
        phases = res.phases()
        assert phases.tolist() == [1, 0, 0, 0, 1, 2, 2, 0, 3, 3] and phases.dtype.kind == "i"
    with open_results(unphased) as res:
        assert res.phases().tolist() == [0] * 12


def test_accuracy_per_phase_is_the_mean_over_that_phases_iterations(phased):
    with open_results(phased) as res:
        s = summarize_run(res)
    # training: iterations 2, 3, 4, 8 (1-based): 2 + 3 + 4 + 4 of 16; validation 1, 5: 1 + 2 of 8;
    # early stopping 6, 7: 3 + 4 of 8; test 9, 10: 3 + 1 of 8
    assert s["accuracy_per_phase"] == {"training": 13 / 16, "validation": 3 / 8, "early_stopping": 7 / 8, "test": 4 / 8}
    assert s["error_per_phase"] == {"training": 3 / 16, "validation": 5 / 8, "early_stopping": 1 / 8, "test": 4 / 8}
    assert s["n_iter_per_phase"] == {"training": 4, "validation": 2, "early_stopping": 2, "test": 2}
    assert s["loss_per_phase"] == pytest.approx(
        {
            "training": (loss(2) + loss(3) + loss(4) + loss(4)) / 4,
            "validation": (loss(1) + loss(2)) / 2,
            "early_stopping": (loss(3) + loss(4)) / 2,
            "test": (A + B) / 2,
        },
        rel=1e-12,
    )
    assert (s["final_accuracy"], s["final_error"], s["test_accuracy"], s["test_error"]) == (0.5, 0.5, 0.5, 0.5)
    assert s["final_accuracy_phase"] == "test" and s["final_accuracy_iterations"] == 2
    assert s["final_accuracy_from"] == "test phase, 2 iterations"
    assert s["phase"] == [
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
    assert s["loss"] == pytest.approx([loss(c) for c in syn.CORRECT], rel=1e-12)
    assert s["loss_recomputed_max_rel_diff"] < 1e-12  # the stored readout signals give the stored loss


def test_without_a_test_phase_the_final_accuracy_is_the_last_10_training_iterations(unphased):
    with open_results(unphased) as res:
        s = summarize_run(res)
    assert s["final_accuracy"] == 27 / 40  # CORRECT sums to 27 of 40; the two all-wrong iterations are left out
    assert s["final_error"] == 1 - 27 / 40
    assert s["test_accuracy"] is None and s["test_error"] is None
    assert s["final_accuracy_phase"] == "training" and s["final_accuracy_iterations"] == 10
    assert s["final_accuracy_from"] == "last 10 training iterations (no test phase)"
    assert s["accuracy_per_phase"] == {"training": 27 / 48}


def test_eval_json_has_the_classification_keys(phased):
    proc = run_eprop_in_process("eval", str(phased), "--json")
    s = json.loads(proc.stdout)
    assert {
        "accuracy",
        "phase",
        "final_accuracy",
        "final_error",
        "final_accuracy_phase",
        "final_accuracy_iterations",
        "final_accuracy_from",
        "test_accuracy",
        "test_error",
        "accuracy_per_phase",
        "error_per_phase",
        "loss_per_phase",
        "n_iter_per_phase",
        "max_accuracy",
        "max_accuracy_iteration",
    } <= set(s)
    assert s["task_kind"] == "classification" and s["test_accuracy"] == 0.5


def test_eval_table_names_where_the_final_accuracy_comes_from(phased, unphased):
    out = run_eprop_in_process("eval", str(phased)).stdout
    lines = [" ".join(line.replace("│", " ").split()) for line in out.splitlines()]
    assert "final accuracy (error): test phase, 2 iterations 0.500 (0.500)" in lines
    assert (
        "training phase (4 iterations): mean accuracy (error); mean loss E 0.812 (0.188); "
        f"{(loss(2) + loss(3) + 2 * loss(4)) / 4:.4g}" in lines
    )
    assert f"test phase (2 iterations): mean accuracy (error); mean loss E 0.500 (0.500); {(A + B) / 2:.4g}" in lines
    out = run_eprop_in_process("eval", str(unphased)).stdout
    lines = [" ".join(line.replace("│", " ").split()) for line in out.splitlines()]
    assert "final accuracy (error): last 10 training iterations (no test phase) 0.675 (0.325)" in lines


def test_regression_summary_has_no_classification_keys(tmp_path):
    path = syn.write_run(tmp_path / "r" / "results.h5")
    with open_results(path) as res:
        s = summarize_run(res)
        assert res.phases().tolist() == [0, 0, 0]
    assert not {"accuracy", "phase", "final_accuracy", "accuracy_per_phase", "test_accuracy"} & set(s)


# ---------------------------------------------------------------- tables, CSV, summary.csv

REGRESSION_SUMMARY_COLUMNS = [
    "job",
    "overrides",
    "status",
    "final_loss",
    "final_accuracy",
    "final_error",
    "runtime_s",
    "n_iter_done",
    "n_iter",
    "dir",
    "error",
    "optimizer.eta",
]  # as before classification phases
REGRESSION_EVAL_COLUMNS = [
    "job",
    "status",
    "optimizer.eta",
    "n_iter_done",
    "n_iter",
    "final_loss",
    "min_loss",
    "min_loss_iteration",
    "first_loss",
    "relative_loss_reduction",
    "final_loss_0",
    "final_loss_1",
    "rate_mean",
    "rate_min",
    "rate_median",
    "rate_max",
    "f_target",
    "weight_change_in_rec",
    "weight_change_rec_rec",
    "weight_change_rec_out",
    "weight_change_out_rec",
    "runtime_s",
    "peak_rss_mb",
    "loss_recomputed_max_rel_diff",
]


def test_regression_columns_are_unchanged(tmp_path):
    root = tmp_path / "m"
    syn.write_run(root / "0" / "results.h5", overrides=["optimizer.eta=0.001"])
    syn.write_run(root / "1" / "results.h5", overrides=["optimizer.eta=0.01"])
    assert sweep.summarize_sweep(root)[0] == REGRESSION_SUMMARY_COLUMNS
    assert table_rows(summarize_runs([root]))[0] == REGRESSION_EVAL_COLUMNS


@pytest.fixture
def classification_sweep(tmp_path):
    """Job 0 with phases (test accuracy 0.5), job 1 without (last 10 training iterations: 0.675)."""
    root = tmp_path / "sweep"
    syn.write_classification_run(root / "0" / "results.h5", overrides=["optimizer.eta=0.001"])
    syn.write_classification_run(
        root / "1" / "results.h5", correct=[0, 0] + syn.CORRECT, phases=None, overrides=["optimizer.eta=0.01"]
    )
    return root


def test_summary_csv_has_the_accuracy_columns(classification_sweep):
    path = sweep.write_summary(classification_sweep)
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == [
        "job",
        "overrides",
        "status",
        "final_loss",
        "final_accuracy",
        "final_error",
        "final_accuracy_phase",
        "final_accuracy_from",
        "test_accuracy",
        "test_error",
        "accuracy_training",
        "accuracy_validation",
        "accuracy_early_stopping",
        "accuracy_test",
        "runtime_s",
        "n_iter_done",
        "n_iter",
        "dir",
        "error",
        "optimizer.eta",
    ]
    assert [
        (r["final_accuracy"], r["final_accuracy_phase"], r["final_accuracy_from"], r["test_accuracy"]) for r in rows
    ] == [
        ("0.5", "test", "test phase, 2 iterations", "0.5"),
        ("0.675", "training", "last 10 training iterations (no test phase)", ""),
    ]
    assert [
        (r["accuracy_training"], r["accuracy_validation"], r["accuracy_early_stopping"], r["accuracy_test"])
        for r in rows
    ] == [("0.8125", "0.375", "0.875", "0.5"), (str(27 / 48), "", "", "")]


def test_eval_of_a_classification_multirun_shows_and_sorts_by_accuracy(classification_sweep, tmp_path):
    # regression test: the several-jobs table never showed the accuracy (the rows lacked final_accuracy)
    out = run_eprop_in_process(
        "eval", str(classification_sweep), "--sort", "final_accuracy", "--descending", "--csv", str(tmp_path / "t.csv")
    ).stdout
    header = next(line for line in out.splitlines() if "final accuracy" in line)
    assert "final error" in header and "accuracy of" in header
    rows = [line for line in out.splitlines() if line.startswith(("│ 0", "│ 1"))]
    assert [row.split()[1] for row in rows] == ["1", "0"]  # 0.675 before 0.5
    with (tmp_path / "t.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [(r["job"], r["final_accuracy"], r["accuracy_test"]) for r in table] == [
        ("1", "0.675", ""),
        ("0", "0.5", "0.5"),
    ]


# ---------------------------------------------------------------- the sweep's objective


def test_a_classification_job_returns_its_final_accuracy(phased, unphased):
    classification = OmegaConf.create({"task": {"target": "evidence_accumulation"}})
    assert sweep.job_objective(classification, phased, final_loss=1.26) == 0.5
    assert sweep.job_objective(classification, unphased, final_loss=1.26) == 27 / 40
    assert sweep.job_objective(OmegaConf.create({"task": {"target": "handwriting"}}), phased, final_loss=1.26) == 1.26


def test_hparams_search_evidence_accumulation_maximizes(compose):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [sweep] extra")
    cfg = compose(
        "experiment=nest_bsshslm_2020_evidence_accumulation",
        "hparams_search=evidence_accumulation",
        return_hydra_config=True,
    )
    assert cfg.hydra.sweeper.direction == "maximize" and cfg.hydra.sweeper.study_name == "evidence_accumulation"
    assert set(cfg.hydra.sweeper.params) == {"optimizer.eta", "neuron.rec.c_reg"}
    sweep.check_direction(cfg)  # accepted
    sweep.check_direction(compose("hparams_search=eta_creg", return_hydra_config=True))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ("experiment=nest_bsshslm_2020_evidence_accumulation", "hparams_search=eta_creg"),
            "hydra.sweeper.direction=minimize: task.target=evidence_accumulation is a classification task, whose jobs return "
            "the final accuracy; use hydra.sweeper.direction=maximize (hparams_search=evidence_accumulation does)",
        ),
        (
            ("hparams_search=evidence_accumulation",),
            "hydra.sweeper.direction=maximize: task.target=handwriting is a regression task, whose jobs return the final "
            "loss; use hydra.sweeper.direction=minimize (hparams_search=eta_creg does)",
        ),
    ],
)
def test_a_search_in_the_wrong_direction_is_refused(compose, overrides, message):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [sweep] extra")
    with pytest.raises(UserError) as err:
        sweep.check_direction(compose(*overrides, return_hydra_config=True))
    assert str(err.value) == message


@pytest.mark.slow
def test_a_search_in_the_wrong_direction_is_one_line_before_any_job(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [sweep] extra")
    sweep_dir = tmp_path / "sweep"
    proc = run_eprop_in_process(
        "run",
        "-m",
        "experiment=nest_bsshslm_2020_evidence_accumulation",
        "hparams_search=eta_creg",
        f"hydra.sweep.dir={sweep_dir}",
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "eprop: error: hydra.sweeper.direction=minimize: task.target=evidence_accumulation is a classification task, "
        "whose jobs return the final accuracy; use hydra.sweeper.direction=maximize "
        "(hparams_search=evidence_accumulation does)"
    )
    assert not list(sweep_dir.rglob("*.h5"))


# ---------------------------------------------------------------- figures


@pytest.mark.slow
def test_the_registry_draws_the_figures_of_the_task_kind_without_warnings(phased, tmp_path):
    report = plot_path(phased, out_dir=tmp_path / "figs", dpi=50)
    assert sorted(p.stem for p in report.written) == sorted(
        ["loss_error", "confusion", "readout_probabilities", "dynamics_first", "dynamics_last"]
    )
    # not drawn and not reported: the regression figures; reported: the weight figures the file has no data for
    assert [name for name, _ in report.skipped] == ["weight_courses", "weight_matrices"]
    regression = syn.write_run(tmp_path / "r" / "results.h5")
    report = plot_path(regression, out_dir=tmp_path / "rfigs", dpi=50)
    assert {p.stem for p in report.written} >= {"pattern", "loss"}
    assert not {p.stem for p in report.written} & {"loss_error", "confusion", "readout_probabilities"}
    assert report.skipped == []
    kinds = {name: spec.kinds for name, spec in FIGURES.items()}
    assert kinds["loss_error"] == kinds["confusion"] == kinds["readout_probabilities"] == ("classification",)
    assert kinds["loss"] == kinds["pattern"] == ("regression",)


def test_loss_error_marks_every_phase(phased):
    with open_results(phased) as res:
        fig = classification_loss_figure(res)
    top, bottom = fig.axes[:2]
    assert [t.get_text() for t in top.get_legend().get_texts()] == [
        "training (4)",
        "validation (2)",
        "early stopping (2)",
        "test (2)",
    ]
    points = {c.get_label(): c.get_offsets() for c in bottom.collections}
    assert points["test (2)"].tolist() == [[9.0, 0.25], [10.0, 0.75]]  # iteration (1-based), error
    assert points["validation (2)"].tolist() == [[1.0, 0.75], [5.0, 0.5]]
    assert [tuple(p) for p in points["training (4)"]] == [(2.0, 0.5), (3.0, 0.25), (4.0, 0.0), (8.0, 0.0)]


def test_confusion_counts_the_test_phase(phased, unphased):
    with open_results(phased) as res:
        ax = confusion_figure(res).axes[0]
    # test iterations 9, 10: labels 0 1 0 1, predicted 1 1 0 1 and 1 0 1 1
    assert [t.get_text() for t in ax.texts] == ["1", "3", "1", "3"]  # (left, left), (left, right), (right, left), ...
    assert ax.get_title(loc="left") == "test phase, 2 iterations:\n8 sequences, accuracy 0.500"
    with open_results(unphased) as res:
        ax = confusion_figure(res).axes[0]
    assert ax.get_title(loc="left") == "last 10 training iterations (no test phase):\n40 sequences, accuracy 0.675"
    assert sum(int(t.get_text()) for t in ax.texts) == 40


def test_dynamics_groups_the_inputs_and_shades_the_recall_window(phased):
    with open_results(phased) as res:
        fig = dynamics_figure(res, -1)
        probabilities = readout_probabilities_figure(res)
    raster = fig.axes[0]
    assert [t.get_text() for t in raster.get_yticklabels()] == ["left cue", "right cue", "recall", "noise"]
    assert raster.get_yticks().tolist() == [0.5, 2.5, 4.5, 6.5]
    # iteration 10, sequence 1 (steps 0-9 from 360 ms, which the figure shows as 0 ms, the iteration's start):
    # input spikes of step i at 1 + i ms, readout samples at 5 + i ms (delays 1 + 1 + 1 and the multimeter's step);
    # the window is the last 3 steps
    assert raster.get_xlim() == (0.0, 14.0)
    spikes = [t for line in raster.lines if line.get_marker() == "|" for t in line.get_xdata()]
    assert [line.get_color() for line in raster.lines if line.get_marker() == "|"] == list(PALETTE[:4])  # by population
    assert sorted(spikes) == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]  # input neuron i at step i + 1
    for ax in fig.axes:
        spans = [p for p in ax.patches]
        assert len(spans) == 1 and spans[0].get_x() == 11.0 and spans[0].get_width() == 3.0
    assert fig.axes[-1].get_xlabel() == "$t$ since iteration start (ms)"
    window = probabilities.axes[0].patches[0]
    assert (window.get_x(), window.get_width()) == (11.0, 3.0)  # the same window, the same clock
    assert fig._suptitle.get_text() == "iteration 10 of 10 (test phase), sequence 1 of 4"
    assert probabilities.axes[0].get_title(loc="left") == (
        "iteration 10 (test phase), first sequence;\ntargets $\\pi^*_k$ dashed; "
        "where curves coincide, the wider lies beneath"
    )
    assert [t.get_text() for t in probabilities.axes[0].get_legend().get_texts()] == [
        "$\\pi_\\mathrm{left}$",
        "$\\pi_\\mathrm{right}$",
        "recall window",
    ]


def test_readout_probabilities_that_coincide_stay_visible_and_the_figure_says_so(phased):
    """Issue 19, 17: pi_left and pi_right, both 0 before the recall window, hid one another without a hint."""
    with open_results(phased) as res:
        ax = readout_probabilities_figure(res).axes[0]
    left, left_target, right, right_target = ax.get_lines()
    np.testing.assert_array_equal(left.get_ydata()[:1], right.get_ydata()[:1])  # both 0 before the window
    assert left.get_linewidth() > right.get_linewidth()  # the one beneath is wider: a rim of it shows
    assert left_target.get_linewidth() > right_target.get_linewidth()
    assert ax.get_title(loc="left").endswith("; where curves coincide, the wider lies beneath")
    handles = ax.get_legend().legend_handles
    assert [h.get_linewidth() for h in handles[:2]] == [left.get_linewidth(), right.get_linewidth()]


def test_an_empty_confusion_cell_says_0(tmp_path):
    """Issue 19, 17: a cell without sequences printed nothing instead of 0."""
    path = syn.write_classification_run(tmp_path / "r" / "results.h5", correct=[4] * 10)  # every sequence right
    with open_results(path) as res:
        ax = confusion_figure(res).axes[0]
    cells = {tuple(int(v) for v in t.get_position()): t.get_text() for t in ax.texts}
    assert cells == {(0, 0): "4", (1, 0): "0", (0, 1): "0", (1, 1): "4"}  # (predicted, label) of the 2 test iterations


def test_the_confusion_figure_counts_ties_wrong_and_says_how_many(tmp_path):
    """A tie (predicted -1, issue 19 item 4) has no cell; the title counts it, the accuracy counts it wrong
    (as eval does), and the colour stays the fraction of all of the label's sequences."""
    import h5py

    path = syn.write_classification_run(tmp_path / "r" / "results.h5", correct=[4] * 10)  # every sequence right
    with h5py.File(path, "r+") as f:
        f["predicted"][9, 0] = -1  # the last test iteration's first sequence (label 0): a tie
    with open_results(path) as res:
        ax = confusion_figure(res).axes[0]
    cells = {tuple(int(v) for v in t.get_position()): t.get_text() for t in ax.texts}
    assert cells == {(0, 0): "3", (1, 0): "0", (0, 1): "0", (1, 1): "4"}
    assert ax.get_title(loc="left") == (
        "test phase, 2 iterations:\n8 sequences (1 tie: no prediction, no cell), accuracy 0.875"
    )
    assert ax.images[0].get_array()[0, 0] == pytest.approx(3 / 4)  # of label 0's 4 sequences, the tie too


def test_eval_counts_the_iterations_of_a_phased_run_against_its_schedule(phased):
    """With phases.* the iteration count is the schedule's, not task.n_iter: the synthetic phases
    1 0 0 0 1 2 2 0 3 3 are those of validate_every 3, n_early_stop 2, stop_error 0.6, n_test 2
    (errors 0 before the second validation, early-stopping mean 0.375: training stops after one
    more iteration), so the schedule is over after 10 iterations."""
    import h5py
    import yaml

    with h5py.File(phased, "r+") as f:
        config = yaml.safe_load(f.attrs["config_yaml"])
        config["task"]["n_iter"] = 6
        config["phases"] = {"validate_every": 3, "n_early_stop": 2, "stop_error": 0.6, "n_test": 2}
        f.attrs["config_yaml"] = yaml.safe_dump(config)
        f.attrs["n_iter"] = 6  # as eprop writes it: task.n_iter
    with open_results(phased) as res:
        summary = summarize_run(res)
    assert summary["n_iter_bound"] == 10
    assert [r for r in run_table_rows(summary) if r[0] == "iterations done"] == [
        ("iterations done", "10, the end of the phase schedule (task.n_iter = 6 training iterations at most)")
    ]


def run_table_rows(summary: dict) -> list[tuple[str, str]]:
    from eprop.cli.report import run_table

    table = run_table(summary)
    return list(zip(*(list(column.cells) for column in table.columns)))

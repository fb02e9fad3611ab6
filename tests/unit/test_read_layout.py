"""The read side's shape: one door to the HDF5 file, the schema table, the figure registry by
task kind, and the status of diverged jobs and renamed parent files (no NEST)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from eprop.analysis.figures import FIGURES, pattern_figure
from eprop.analysis.plot import plot_path
from eprop.cli import report
from eprop.config.projections import PROJECTIONS
from eprop.errors import UserError
from eprop.results import SCHEMA, open_results, schema_markdown
from eprop.sweep import write_summary
from eprop.training.resume import load_parent
from tests.support import synthetic_results as syn

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "eprop"


def test_docs_schema_table_is_the_one_results_py_declares():
    page = (REPO / "docs" / "results.md").read_text()
    section = page[page.index("## HDF5 schema") : page.index("\n## ", page.index("## HDF5 schema") + 1)]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    assert table == schema_markdown()
    assert [row[0] for row in SCHEMA][:3] == ["`/loss`", "`/loss_per_output`", "`/target`"]


def test_only_results_py_knows_the_hdf5_layout():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(PACKAGE / "results"):
            continue
        text = path.read_text()
        if re.search(r"^\s*(import h5py|from h5py)", text, re.M) or re.search(r"\.file\[|\bres(ults)?\.file\b", text):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_no_copy_of_the_projection_table_on_the_read_side():
    for name in (
        "analysis/metrics.py",
        "analysis/classification.py",
        "analysis/summary.py",
        "analysis/jobs.py",
        "analysis/plot.py",
        "cli/report.py",
        "training/resume.py",
        "training/weights.py",
        *(str(path.relative_to(PACKAGE)) for path in sorted((PACKAGE / "results").glob("*.py"))),
    ):
        assert '("in_rec", "rec_rec", "rec_out"' not in (PACKAGE / name).read_text(), name
    assert {n: (p.source, p.target, p.plastic) for n, p in PROJECTIONS.items()} == {
        "in_rec": ("input", "recurrent", True),
        "rec_rec": ("recurrent", "recurrent", True),
        "rec_out": ("recurrent", "readout", True),
        "out_rec": ("readout", "recurrent", False),
    }


@pytest.mark.slow
def test_figures_that_do_not_apply_to_the_task_kind_are_neither_drawn_nor_skipped(tmp_path):
    path = syn.write_run(tmp_path / "run" / "results.h5", attrs={"task_kind": "classification"})
    report_ = plot_path(path, out_dir=tmp_path / "figs", dpi=40)
    drawn = {p.stem for p in report_.written}
    assert drawn == {"dynamics_first", "dynamics_last", "weight_courses", "weight_matrices", "readout_probabilities"}
    # the synthetic file has no /accuracy, /labels: the classification figures that need them say so
    assert {name for name, _ in report_.skipped} == {"loss_error", "confusion"}
    assert {name for name, spec in FIGURES.items() if "classification" not in spec.kinds} == {"pattern", "loss"}
    assert {name for name, spec in FIGURES.items() if "regression" not in spec.kinds} == {
        "loss_error",
        "confusion",
        "readout_probabilities",
        "input_frames",
    }


def test_a_file_without_task_kind_is_regression(tmp_path):
    with open_results(syn.write_run(tmp_path / "results.h5")) as res:
        assert res.task_kind == "regression"
        assert {name for name, spec in FIGURES.items() if spec.applies_to(res)} == {
            name for name, spec in FIGURES.items() if "regression" in spec.kinds
        }
        assert not FIGURES["confusion"].applies_to(res)


@pytest.mark.parametrize(
    "task, display, down",
    [
        ("infinite_loop", {"y_axis_down": True}, True),  # the display attribute decides ...
        ("handwriting", {"y_axis_down": False}, False),  # ... not the task's name
        ("handwriting", None, True),  # old files without display: handwriting points down
    ],
)
def test_pattern_y_axis_follows_the_display_attribute(tmp_path, task, display, down):
    attrs = {} if display is None else {"display": json.dumps(display)}
    with open_results(syn.write_run(tmp_path / "results.h5", task=task, attrs=attrs)) as res:
        bottom, top = pattern_figure(res).axes[0].get_ylim()
    assert (bottom > top) == down


DIVERGED = "diverged at iteration 2 of 3: the loss is nan; results kept in DIR"


def test_a_diverged_job_is_listed_as_diverged_with_its_error_line(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    syn.write_run(sweep / "0" / "results.h5", overrides=["optimizer.eta=0.001"])
    syn.write_run(
        sweep / "1" / "results.h5", overrides=["optimizer.eta=10"], status="diverged", attrs={"error": DIVERGED}
    )
    (sweep / "1" / "error.txt").write_text(f"Traceback ...\neprop: error: {DIVERGED}\n")
    write_summary(sweep)
    with (sweep / "summary.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["job"], r["status"], r["error"]) for r in rows] == [("0", "complete", ""), ("1", "diverged", DIVERGED)]
    capsys.readouterr()  # write_summary's log line (Hydra's logging of an earlier in-process test may print more)
    code = report.eval_main([str(sweep), "--sort", "job"])
    out, err = capsys.readouterr()
    assert code == 0
    assert err == f"eprop: warning: job 1: diverged: {DIVERGED}\n"
    assert "diverged" in out


def test_resume_finds_a_parent_file_of_another_name(tmp_path):
    parent = syn.write_run(tmp_path / "parent" / "other.h5")
    loaded = load_parent(tmp_path / "parent")
    assert (loaded.results_file, loaded.run_dir, loaded.n_iter_done) == (
        parent.resolve(),
        parent.parent.resolve(),
        syn.N_ITER,
    )
    assert loaded.optimizer_state == {}
    assert load_parent(parent).results_file == parent.resolve()


def test_resume_of_a_directory_without_any_results_file_names_it(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"resume=.*empty: the directory holds no results.h5"):
        load_parent(tmp_path / "empty")


def test_plot_help_reads_the_registry(capsys):
    assert report.plot_main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "names: pattern, loss, loss_error, confusion, readout_probabilities, input_frames, dynamics_first, "
        "dynamics_last, weight_courses, weight_matrices, loss_all_jobs (a figure that does not apply to the run's task "
        "kind is not drawn: pattern, loss: regression only; loss_error, confusion, readout_probabilities, input_frames: "
        "classification only; readout_probabilities: only with softmax (cross-entropy) readouts; input_frames: only "
        "with event-camera inputs (display.input_image_shape, e.g. N-MNIST))"
    ) in text


def _schema_globs() -> list[str]:
    """SCHEMA's paths as fnmatch patterns: `<name>` is any one level, `{a,b}` one of a and b."""
    globs = []
    for path, _, _ in SCHEMA:
        path = path.strip("`").lstrip("/")
        variants = [""]
        for part in re.split(r"(\{[^}]*\}|<[^>]*>)", path):
            options = part[1:-1].split(",") if part.startswith("{") else ["*"] if part.startswith("<") else [part]
            variants = [v + o for v in variants for o in options]
        globs.extend(variants)
    return globs


def test_every_dataset_the_writer_makes_is_in_the_schema_table_with_units(tmp_path):
    import fnmatch

    import h5py
    import numpy as np

    from eprop.results import ResultsWriter

    path = syn.write_run(tmp_path / "results.h5")
    globs = _schema_globs()
    found = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.append((name, dict(obj.attrs))) if isinstance(obj, h5py.Dataset) else None)
    optimizer = tmp_path / "optimizer.h5"  # the optimizer group, which the synthetic run lacks
    writer = ResultsWriter(optimizer, n_out=1, attrs={})
    writer.write_optimizer_state(
        {"rec_rec": {"source": np.arange(2), "target": np.arange(2), "m": np.zeros(2), "v": np.zeros(2)}}
    )
    writer.close()
    with h5py.File(optimizer, "r") as f:
        f.visititems(lambda name, obj: found.append((name, dict(obj.attrs))) if isinstance(obj, h5py.Dataset) else None)
    assert len(found) > 40
    uncovered = [name for name, _ in found if not any(fnmatch.fnmatchcase(name, g) for g in globs)]
    assert uncovered == []
    assert [name for name, attrs in found if not {"units", "description"} <= set(attrs)] == []


def test_a_figure_asked_for_by_name_that_does_not_apply_says_why(tmp_path):
    path = syn.write_run(tmp_path / "run" / "results.h5")  # a regression run
    report_ = plot_path(path, out_dir=tmp_path / "figs", only={"confusion", "loss"}, dpi=40)
    assert [p.name for p in report_.written] == ["loss.png"]
    assert report_.skipped == [("confusion", f"{path} is a regression run; confusion is drawn for classification runs")]
    classification = syn.write_run(tmp_path / "cls" / "results.h5", attrs={"task_kind": "classification"})
    report_ = plot_path(classification, out_dir=tmp_path / "figs2", only={"pattern", "input_frames"}, dpi=40)
    assert report_.written == []
    assert report_.skipped == [
        ("pattern", f"{classification} is a classification run; pattern is drawn for regression runs"),
        (
            "input_frames",
            f"{classification}: input_frames needs event-camera inputs (display.input_image_shape, e.g. N-MNIST)",
        ),
    ]

"""`eprop eval` and the evaluation functions, on synthetic results files with known numbers (no NEST)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from eprop.analysis.jobs import sort_rows, summarize_runs
from eprop.analysis.metrics import firing_rates, parse_overrides, recompute_loss, summarize_run
from eprop.cli import report
from eprop.errors import UserError
from eprop.results import open_results

from . import synthetic_results as syn

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_file(tmp_path):
    return syn.write_run(tmp_path / "run" / "results.h5", overrides=["optimizer.eta=0.001"])


@pytest.fixture
def multirun_dir(tmp_path):
    """Two jobs: job 0 (eta 0.001) ends with twice job 1's (eta 0.01) loss."""
    root = tmp_path / "multirun"
    syn.write_run(root / "0" / "results.h5", overrides=["optimizer.eta=0.001", "task.n_iter=3"], loss_scale=2.0)
    syn.write_run(root / "1" / "results.h5", overrides=["optimizer.eta=0.01", "task.n_iter=3"])
    return root


def run_eval(argv, capsys):
    code = report.eval_main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- pure functions


def test_recompute_loss_equals_half_sum_of_squared_errors(run_file):
    with open_results(run_file) as results:
        np.testing.assert_allclose(recompute_loss(results), syn.EXPECTED_LOSS_PER_OUTPUT, rtol=1e-12)


def test_firing_rates_count_recurrent_spikes_per_iteration_duration(run_file):
    with open_results(run_file) as results:
        np.testing.assert_allclose(firing_rates(results), syn.EXPECTED_LAST_RATES)  # [200, 0, 100, 500] spikes/s
        np.testing.assert_allclose(firing_rates(results, iteration=0), syn.SPIKE_COUNTS[0] / 0.01)
        np.testing.assert_allclose(firing_rates(results, iteration=1), [300, 0, 200, 100])


def test_summarize_run_reports_known_values(run_file):
    with open_results(run_file) as results:
        s = summarize_run(results)
    assert s["status"] == "complete"
    assert s["n_iter_done"] == 3 and s["n_iter"] == 3
    assert s["task"] == "handwriting"
    assert s["overrides"] == ["optimizer.eta=0.001"]
    assert s["loss"] == pytest.approx([25.0, 6.25, 0.25])
    assert s["first_loss"] == pytest.approx(25.0)
    assert s["final_loss"] == pytest.approx(0.25)
    assert s["min_loss"] == pytest.approx(0.25)
    assert s["min_loss_iteration"] == 3  # 1-based
    assert s["relative_loss_reduction"] == pytest.approx(1 - 0.25 / 25.0)
    assert s["final_loss_per_output"] == pytest.approx([0.05, 0.2])
    assert s["rate_mean"] == pytest.approx(200.0)
    assert (s["rate_min"], s["rate_median"], s["rate_max"]) == pytest.approx((0.0, 150.0, 500.0))
    assert s["n_silent"] == 1 and s["n_recurrent"] == 4
    assert s["rate_iteration"] == 3
    assert s["f_target"] == 20.0
    assert s["weight_change"]["in_rec"]["change"] == pytest.approx(0.1 * np.sqrt(12))
    assert s["weight_change"]["rec_rec"]["change"] == pytest.approx(0.05 * np.sqrt(12))
    assert s["weight_change"]["rec_out"]["change"] == pytest.approx(0.2 * np.sqrt(8))
    assert s["weight_change"]["out_rec"]["change"] == 0.0
    assert s["runtime_s"] == pytest.approx(12.0)
    assert s["peak_rss_mb"] == 321.0
    assert s["loss_recomputed_max_rel_diff"] < 1e-12


def test_loss_check_detects_a_stored_loss_that_disagrees(run_file):
    with h5py.File(run_file, "r+") as f:
        f["loss"][1] = 6.25 * 1.1
    with open_results(run_file) as results:
        s = summarize_run(results)
    assert s["loss_recomputed_max_rel_diff"] == pytest.approx(0.1 / 1.1)


def test_minimal_recording_counts_only_recurrent_neurons(tmp_path):
    path = syn.write_run(tmp_path / "results.h5", recording="minimal")
    with open_results(path) as results:
        s = summarize_run(results)
    assert s["rate_mean"] == pytest.approx(200.0)
    assert s["loss_recomputed_max_rel_diff"] < 1e-12


def test_running_file_without_final_weights(tmp_path):
    path = syn.write_run(tmp_path / "results.h5", status="running", n_iter_done=2)
    with open_results(path) as results:
        s = summarize_run(results)
    assert s["status"] == "running" and s["n_iter_done"] == 2
    assert s["final_loss"] == pytest.approx(6.25)
    assert s["weight_change"] == {}
    assert s["rate_iteration"] == 2 and s["rate_mean"] == pytest.approx(np.mean([300, 0, 200, 100]))


def test_run_without_iterations_has_no_losses(tmp_path):
    path = syn.write_run(tmp_path / "results.h5", status="failed", n_iter_done=0)
    with open_results(path) as results:
        s = summarize_run(results)
    assert s["status"] == "failed"
    assert s["final_loss"] is None and s["loss"] == [] and s["loss_recomputed_max_rel_diff"] is None


def test_parse_overrides():
    assert parse_overrides(["optimizer.eta=0.001", "+extra=a=b", "~gone"]) == {
        "optimizer.eta": "0.001",
        "extra": "a=b",
        "gone": "",
    }


def test_sort_rows_numbers_then_missing_and_descending():
    rows = [{"job": "a", "x": 2.0}, {"job": "b", "x": None}, {"job": "c", "x": 1.0}]
    assert [r["job"] for r in sort_rows(rows, "x")] == ["c", "a", "b"]
    assert [r["job"] for r in sort_rows(rows, "-x")] == ["a", "c", "b"]
    with pytest.raises(UserError, match=r"--sort y: no such column; valid: job, x"):
        sort_rows(rows, "y")


# ---------------------------------------------------------------- eprop eval, one run


def test_eval_table_for_one_run(run_file, capsys):
    code, out, err = run_eval([run_file.parent], capsys)
    assert code == 0 and err == ""
    assert "final loss E" in out and "0.25" in out
    assert "minimum loss E (iteration, 1-based)" in out and "0.25 (3)" in out
    assert "99.0 %" in out
    assert "mean 200; min 0" in out and "silent 1 of 4" in out


def test_eval_json_for_one_run(run_file, capsys):
    code, out, _ = run_eval([run_file, "--json"], capsys)
    assert code == 0
    s = json.loads(out)
    assert s["loss"] == pytest.approx(list(syn.EXPECTED_LOSS))
    assert s["final_loss"] == pytest.approx(0.25)
    assert s["loss_recomputed_max_rel_diff"] < 1e-12
    assert s["weight_change"]["rec_out"]["change"] == pytest.approx(0.2 * np.sqrt(8))


# ---------------------------------------------------------------- eprop eval, several jobs


def test_eval_multirun_sorted_by_final_loss(multirun_dir, capsys):
    code, out, _ = run_eval([multirun_dir, "--json"], capsys)
    assert code == 0
    jobs = json.loads(out)
    assert [j["job"] for j in jobs] == ["1", "0"]
    assert [j["final_loss"] for j in jobs] == pytest.approx([0.25, 0.5])
    assert jobs[1]["overrides_parsed"] == {"optimizer.eta": "0.001", "task.n_iter": "3"}


def test_eval_sort_by_override_and_descending(multirun_dir, capsys):
    _, out, _ = run_eval([multirun_dir, "--json", "--sort", "optimizer.eta"], capsys)
    assert [j["job"] for j in json.loads(out)] == ["0", "1"]
    _, out, _ = run_eval([multirun_dir, "--json", "--sort", "final_loss", "--descending"], capsys)
    assert [j["job"] for j in json.loads(out)] == ["0", "1"]
    _, out, _ = run_eval([multirun_dir, "--json", "--sort=-final_loss"], capsys)
    assert [j["job"] for j in json.loads(out)] == ["0", "1"]


def test_eval_unknown_sort_key_is_a_user_error(multirun_dir, capsys):
    code, out, err = run_eval([multirun_dir, "--sort", "nonsense"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("eprop: error: --sort nonsense: no such column; valid: ") and err.count("\n") == 1


def test_eval_csv_one_row_per_job_with_override_columns(multirun_dir, tmp_path, capsys):
    table = tmp_path / "table.csv"
    code, out, _ = run_eval([multirun_dir, "--csv", table], capsys)
    assert code == 0
    assert "optimizer.eta" in out  # the rich table shows overrides as columns
    with table.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["job"] for r in rows] == ["1", "0"]
    assert [r["optimizer.eta"] for r in rows] == ["0.01", "0.001"]
    assert [float(r["final_loss"]) for r in rows] == pytest.approx([0.25, 0.5])
    assert [float(r["final_loss_1"]) for r in rows] == pytest.approx([0.2, 0.4])
    assert [r["status"] for r in rows] == ["complete", "complete"]
    assert float(rows[0]["rate_mean"]) == pytest.approx(200.0)


def test_eval_several_paths_give_one_row_each(multirun_dir, capsys):
    _, out, _ = run_eval([multirun_dir / "0", multirun_dir / "1" / "results.h5", "--json"], capsys)
    jobs = json.loads(out)
    assert [Path(j["path"]).parent.name for j in jobs] == ["1", "0"]


def test_eval_keeps_failed_interrupted_and_unreadable_jobs(multirun_dir, capsys):
    syn.write_run(
        multirun_dir / "2" / "results.h5", overrides=["optimizer.eta=0.1"], status="interrupted", n_iter_done=1
    )
    failed = multirun_dir / "3"
    (failed / ".hydra").mkdir(parents=True)
    (failed / ".hydra" / "overrides.yaml").write_text("- optimizer.eta=1.0\n")
    (failed / "error.txt").write_text("Traceback ...\nValueError: weights exploded\n")
    broken = multirun_dir / "4"
    broken.mkdir()
    (broken / "results.h5").write_bytes(b"not an hdf5 file")
    code, out, err = run_eval([multirun_dir, "--json"], capsys)
    assert code == 0
    jobs = {j["job"]: j for j in json.loads(out)}
    assert set(jobs) == {"0", "1", "2", "3", "4"}
    assert jobs["2"]["status"] == "interrupted" and jobs["2"]["final_loss"] == pytest.approx(25.0)
    assert jobs["3"]["status"] == "failed"
    assert jobs["3"]["error"] == "error.txt: ValueError: weights exploded"
    assert jobs["3"]["overrides_parsed"] == {"optimizer.eta": "1.0"}
    assert jobs["4"]["status"] == "unreadable"
    assert [j["job"] for j in json.loads(out)][-2:] in (["3", "4"], ["4", "3"])  # no loss: sorted last
    assert "eprop: warning: job 3: failed: error.txt: ValueError: weights exploded" in err
    code, out, _ = run_eval([multirun_dir], capsys)
    assert code == 0 and "interrupted" in out and "failed" in out and "unreadable" in out


def test_summarize_runs_on_a_single_failed_job_directory(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    (job / "error.log").write_text("RuntimeError: NEST died\n")
    (summary,) = summarize_runs([job])
    assert summary["status"] == "failed" and summary["error"] == "error.log: RuntimeError: NEST died"


# ---------------------------------------------------------------- bad input: one line, exit 2


def bad_files(tmp_path, run_file):
    """(path, expected message) for a missing, a non-HDF5, a truncated and two wrong-schema files."""
    missing = tmp_path / "missing.h5"
    text = tmp_path / "notes.h5"
    text.write_text("this is not HDF5\n")
    truncated = tmp_path / "truncated.h5"
    data = run_file.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    future = tmp_path / "future.h5"
    with h5py.File(future, "w") as f:
        f.attrs["schema_version"] = 2
        f["loss"] = np.zeros(1)
    return [
        (missing, f"{missing}: no such file or directory"),
        (text, f"{text}: not a readable HDF5 results file (truncated, or not HDF5)"),
        (truncated, f"{truncated}: not a readable HDF5 results file (truncated, or not HDF5)"),
        (foreign, f"{foreign}: not an eprop results file (no schema_version or /loss)"),
        (future, f"{future}: schema_version 2 is not supported; this eprop reads version 1"),
    ]


def test_eval_bad_input_is_one_line_naming_the_file(tmp_path, run_file, capsys):
    for path, message in bad_files(tmp_path, run_file):
        code, out, err = run_eval([path], capsys)
        assert (code, out, err) == (2, "", f"eprop: error: {message}\n"), path


def test_plot_bad_input_is_one_line_naming_the_file(tmp_path, run_file, capsys):
    for path, message in bad_files(tmp_path, run_file):
        code = report.plot_main([str(path)])
        out, err = capsys.readouterr()
        assert (code, out, err) == (2, "", f"eprop: error: {message}\n"), path


def test_missing_directory_is_one_line(tmp_path, capsys):
    code, _, err = run_eval([tmp_path / "nowhere"], capsys)
    assert code == 2 and err == f"eprop: error: {tmp_path / 'nowhere'}: no such file or directory\n"
    code = report.plot_main([str(tmp_path / "nowhere")])
    assert code == 2
    assert capsys.readouterr().err == f"eprop: error: {tmp_path / 'nowhere'}: no such file or directory\n"


def test_damaged_dataset_is_a_user_error(tmp_path, capsys):
    path = syn.write_run(tmp_path / "results.h5")
    with h5py.File(path, "r+") as f:
        del f["events"]["spike_recorder"]["iteration_start"]
    code, _, err = run_eval([path], capsys)
    assert code == 2 and err.startswith(f"eprop: error: {path}: damaged or not following the results schema")
    assert err.count("\n") == 1


# ---------------------------------------------------------------- no NEST


@pytest.mark.slow
def test_plot_and_eval_never_import_nest(run_file, tmp_path):
    script = (
        "import sys\n"
        "from eprop.cli import report\n"
        f"assert report.eval_main([{str(run_file)!r}, '--json']) == 0\n"
        f"assert report.plot_main([{str(run_file)!r}, '--out', {str(tmp_path / 'fig')!r}, '--dpi', '40']) == 0\n"
        "assert 'nest' not in sys.modules, 'nest was imported'\n"
        "assert not any(m.startswith('pynest') for m in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "fig").glob("*.png"))) == 6


# ---------------------------------------------------------------- a recording schedule: iterations without events


def test_eval_of_a_scheduled_file_uses_the_recorded_iterations_only(tmp_path, capsys):
    """Iteration 3 has no events (the schedule left it out): the rates are iteration 2's, said so."""
    path = syn.write_run(tmp_path / "run" / "results.h5", recorded=(0, 1))
    with open_results(path) as results:
        assert results.recorded_iterations("spike_recorder").tolist() == [0, 1]
        recomputed = recompute_loss(results)
        np.testing.assert_allclose(recomputed[:, :2], syn.EXPECTED_LOSS_PER_OUTPUT[:, :2], rtol=1e-12)
        assert np.isnan(recomputed[:, 2]).all()  # not 0: nothing to recompute from
        s = summarize_run(results)
    assert s["loss"] == pytest.approx(list(syn.EXPECTED_LOSS))  # /loss of every iteration
    assert (s["rate_iteration"], s["events_iterations"], s["iterations_in_file"]) == (2, 2, 3)
    assert s["rate_mean"] == pytest.approx(np.mean([300, 0, 200, 100])) and s["n_silent"] == 1
    assert s["loss_recomputed_max_rel_diff"] < 1e-12
    code, out, err = run_eval([path.parent], capsys)
    assert code == 0 and err == ""
    assert "iterations with recorder events" in out and "2 of the 3 in this file" in out
    assert "recurrent firing rate, iteration 2 (spikes/s)" in out


def test_eval_of_an_unscheduled_file_reports_every_iteration_with_events(run_file, capsys):
    with open_results(run_file) as results:
        s = summarize_run(results)
    assert (s["events_iterations"], s["iterations_in_file"], s["rate_iteration"]) == (3, 3, 3)
    code, out, _ = run_eval([run_file], capsys)
    assert "iterations with recorder events" not in out


def test_a_file_without_events_recorded_has_every_iteration_recorded(run_file):
    """Files written before the schedule existed have no /events_recorded: every iteration has events."""
    with h5py.File(run_file, "r+") as f:
        del f["events_recorded"]
    with open_results(run_file) as results:
        assert results.recorded_iterations("multimeter_out").tolist() == [0, 1, 2] and results.events_complete
        assert summarize_run(results)["loss_recomputed_max_rel_diff"] < 1e-12


def test_eval_of_a_run_with_nan_final_weights_is_a_table_not_a_traceback(tmp_path, capsys):
    """Issue 19, item 1: NaN weights made the run table divide None by a float."""
    path = syn.write_run(tmp_path / "results.h5")
    with h5py.File(path, "r+") as f:
        weight = f["weights"]["final"]["in_rec"]["weight"]
        weight[...] = np.nan
    code, out, err = run_eval([path], capsys)
    assert (code, err) == (0, "")
    assert "‖W_final − W_initial‖_F, in_rec (pA)" in out and "not finite (NaN or inf weights)" in out


def test_eval_of_a_regression_and_a_classification_run_never_ranks_their_losses_together(tmp_path, capsys):
    """Issue 19, item 12: one "final loss" column sorted a cross-entropy against a squared error, and the
    task column showed "—" for the run whose command line did not name its task."""
    regression = syn.write_run(tmp_path / "reg" / "results.h5", overrides=["optimizer.eta=0.001"])
    classification = syn.write_classification_run(
        tmp_path / "cls" / "results.h5", overrides=["task=evidence_accumulation"]
    )
    regression_2 = syn.write_run(tmp_path / "reg2" / "results.h5", overrides=["optimizer.eta=0.01"], loss_scale=0.5)
    summaries = summarize_runs([regression.parent, classification.parent, regression_2.parent])
    from eprop.analysis.jobs import override_columns, sort_summaries, table_rows

    ordered = sort_summaries(summaries, "final_loss")
    kinds = [s["loss_function"] for s in ordered]
    assert kinds in (
        ["mean_squared_error", "mean_squared_error", "cross_entropy"],
        ["cross_entropy", "mean_squared_error", "mean_squared_error"],
    )  # the two squared errors next to each other, in order
    squared = [s["final_loss"] for s in ordered if s["loss_function"] == "mean_squared_error"]
    assert squared == sorted(squared)
    assert override_columns(summaries)[0] == "task"
    _, rows = table_rows(summaries)
    assert [row["task"] for row in rows] == ["handwriting", "evidence_accumulation", "handwriting"]
    code, out, err = run_eval([regression.parent, classification.parent, regression_2.parent], capsys)
    assert code == 0
    cells = [line.split("│") for line in out.splitlines() if line.startswith("│")]
    assert sorted(cell[6].strip() for cell in cells) == ["CE", "MSE", "MSE"]  # the loss column beside the final loss
    assert sorted(cell[3].strip()[:4] for cell in cells) == ["evid", "hand", "hand"]  # the file's task, never "—"


def test_a_loss_that_is_nan_throughout_has_no_minimum():
    from eprop.analysis.metrics import loss_summary

    s = loss_summary(np.array([np.nan, np.nan]))
    assert (s["min_loss"], s["min_loss_iteration"]) == (None, None)  # not "iteration 1"
    s = loss_summary(np.array([3.0, np.inf, 2.0, np.nan]), first_iteration=4)
    assert (s["min_loss"], s["min_loss_iteration"]) == (2.0, 7)

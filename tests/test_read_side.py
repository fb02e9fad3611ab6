"""Issue 9, the reading side: live files, results files of any name, resumed runs' history,
bad files among good ones, units in the file, and the figures of long runs (no NEST)."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
import yaml

from eprop.analysis.figures import RUN_FIGURES, loss_figure, pattern_figure, spans_decades, weight_matrices_figure
from eprop.analysis.jobs import summarize_runs
from eprop.analysis.plot import plot_path
from eprop.cli import report
from eprop.results import STARTING_SUFFIX, ResultsWriter, find_result_files, open_results, units_of

from . import synthetic_results as syn


@pytest.fixture
def run_file(tmp_path):
    return syn.write_run(tmp_path / "run" / "results.h5", overrides=["optimizer.eta=0.001"])


def run_cli(main, argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- 9: live files


def test_the_file_gets_its_name_only_when_live_and_its_end_replaces_it_at_once(tmp_path):
    path = tmp_path / "results.h5"
    writer = ResultsWriter(path, n_out=1, attrs={"n_iter": 2})
    writer.write_neurons({"recurrent": [1, 2]})
    writer.declare_recorder("spike_recorder", {"senders": "i8", "times": "f8"})
    assert not path.exists() and (tmp_path / f"results.h5{STARTING_SUFFIX}").exists()  # no reader sees the set-up
    writer.append_iteration(np.array([2.0]), {"spike_recorder": {"senders": np.array([1]), "times": np.array([0.5])}})
    assert path.exists() and not (tmp_path / f"results.h5{STARTING_SUFFIX}").exists()
    probe = (
        "from eprop.results import open_results as o; r = o(%r); "
        "print(r.file.swmr_mode, r.status, r.n_iter_done, r.weight_stages)"
    ) % str(path)
    read = lambda: subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split(None, 3)
    assert read() == ["True", "running", "1", "[]\n"]  # a SWMR reader of the live file
    writer.write_weights("final", {"rec_rec": {"source": [1], "target": [2], "weight": [0.5]}})
    writer.finish("complete", {"timing_total_s": 1.0})
    assert read() == ["False", "running", "1", "[]\n"]  # the end of the run goes into a copy; the live file ...
    writer.close()
    assert read() == ["False", "complete", "1", "['final']\n"]  # ... is closed, until the copy replaces it in one step
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.h5"]


def test_a_reader_takes_one_snapshot_of_the_finished_iterations(tmp_path):
    path = tmp_path / "results.h5"
    writer = ResultsWriter(path, n_out=1, attrs={})
    writer.declare_recorder("spike_recorder", {"senders": "i8", "times": "f8"})
    writer.append_iteration(
        np.array([3.0]), {"spike_recorder": {"senders": np.array([1, 1]), "times": np.array([1.0, 2.0])}}
    )
    code = (
        "from eprop.results import open_results as o; import sys; r = o(%r); print(r.n_iter_done, flush=True); "
        "sys.stdin.readline(); print(r.n_iter_done, r.loss.tolist(), r.events('spike_recorder')['times'].tolist(), "
        "r.recorded_iterations('spike_recorder').tolist())"
    ) % str(path)
    reader = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().split() == ["1"]
    writer.append_iteration(np.array([1.0]), {"spike_recorder": {"senders": np.array([1]), "times": np.array([3.0])}})
    out, _ = reader.communicate("go\n", timeout=60)
    assert out.strip() == "1 [3.0] [1.0, 2.0] [0]"  # the second iteration came after the reader opened the file
    writer.close()


# ---------------------------------------------------------------- 8: any results file name


def test_a_run_directory_is_enough_whatever_the_file_name(tmp_path, capsys):
    run = tmp_path / "run"
    syn.write_run(run / "res.h5")
    (run / ".hydra").mkdir()
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"output": {"file": "res.h5"}}))
    code, out, err = run_cli(report.eval_main, [run, "--json"], capsys)
    assert (code, err) == (0, "") and json.loads(out)["path"] == str(run / "res.h5")
    code, out, _ = run_cli(report.plot_main, [run, "--only", "loss"], capsys)
    assert code == 0 and out.split() == [str(run / "figures" / "loss.png")]
    bare = tmp_path / "bare"  # no .hydra: the only eprop file among the *.h5
    syn.write_run(bare / "mine.h5")
    with h5py.File(bare / "other.h5", "w") as f:
        f["x"] = 1
    assert find_result_files(bare) == [bare / "mine.h5"]
    with open_results(bare) as res:
        assert res.path == bare / "mine.h5"


def test_a_multirun_of_renamed_files_is_found(tmp_path, capsys):
    root = tmp_path / "multirun"
    for job, scale in (("0", 2.0), ("1", 1.0)):
        syn.write_run(root / job / "res.h5", overrides=[f"seed={job}"], loss_scale=scale)
        (root / job / ".hydra").mkdir()
        (root / job / ".hydra" / "config.yaml").write_text("output:\n  file: res.h5\n")
    assert find_result_files(root) == [root / "0" / "res.h5", root / "1" / "res.h5"]
    code, out, err = run_cli(report.eval_main, [root, "--json"], capsys)
    assert code == 0 and [s["job"] for s in json.loads(out)] == ["1", "0"]  # sorted by final loss
    assert plot_path(root, only={"loss_all_jobs"}).best_job == root / "1" / "res.h5"


def test_two_results_files_in_one_run_directory_are_named(tmp_path, capsys):
    syn.write_run(tmp_path / "run" / "a.h5")
    syn.write_run(tmp_path / "run" / "b.h5")
    code, out, err = run_cli(report.eval_main, [tmp_path / "run"], capsys)
    assert (code, out) == (2, "")
    assert err == f"eprop: error: {tmp_path / 'run'}: holds several results files (a.h5, b.h5); name the one to read\n"


# ---------------------------------------------------------------- 6, 7: plot options


def test_plot_dpi_that_would_exhaust_memory_is_one_line(run_file, capsys):
    code, out, err = run_cli(report.plot_main, [run_file, "--dpi", "100000", "--only", "loss"], capsys)
    assert (code, out) == (2, "")
    assert err == (
        "eprop: error: --dpi 100000: figure loss (3.50 x 2.40 in) would be 350000 x 240000 pixels; "
        "valid for it: 1 to 2857 (at most 10000 pixels a side)\n"
    )
    code, _, err = run_cli(report.plot_main, [run_file, "--dpi", "100000"], capsys)
    assert code == 2 and err.startswith("eprop: error: --dpi 100000: figure pattern (") and err.count("\n") == 1
    assert not (run_file.parent / "figures").exists()  # nothing written before the check


def test_loss_all_jobs_of_a_single_run_is_one_line(run_file, capsys):
    code, out, err = run_cli(report.plot_main, [run_file.parent, "--only", "loss_all_jobs"], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"eprop: error: --only loss_all_jobs: this figure compares the jobs of a multirun, and "
        f"{run_file.parent} holds one run; give a multirun directory, or choose from: "
        "pattern, loss, loss_error, confusion, readout_probabilities, input_frames, dynamics_first, "
        "dynamics_last, weight_courses, weight_matrices\n"
    )
    assert not (run_file.parent / "figures").exists()


# ---------------------------------------------------------------- 10: resumed runs


def resumed_pair(tmp_path, keep_parent=True):
    parent = tmp_path / "parent"
    syn.write_run(parent / "results.h5", status="interrupted")
    child = tmp_path / "child"
    syn.write_run(child / "results.h5", loss_scale=0.5)
    with h5py.File(child / "results.h5", "r+") as f:
        f.attrs["first_iteration"] = syn.N_ITER
        f.attrs["parent_run"] = str(parent)
        f.attrs["n_iter"] = 2 * syn.N_ITER
    if not keep_parent:
        (parent / "results.h5").unlink()
    return parent, child


def test_eval_of_a_resumed_run_counts_and_shows_the_whole_history(tmp_path, capsys):
    parent, child = resumed_pair(tmp_path)
    (s,) = summarize_runs([child])
    assert (s["n_iter_done"], s["n_iter"], s["iterations_in_file"], s["first_iteration"]) == (6, 6, 3, 0)
    assert s["loss"] == pytest.approx([*syn.EXPECTED_LOSS, *(0.5 * syn.EXPECTED_LOSS)])
    assert (s["first_loss"], s["final_loss"], s["min_loss_iteration"]) == pytest.approx((25.0, 0.125, 6))
    assert s["parent_runs"] == [str(parent / "results.h5")] and s["history_note"] == ""
    assert s["rate_iteration"] == 6
    code, out, _ = run_cli(report.eval_main, [child], capsys)
    assert code == 0
    assert "│ iterations done " in out and "6 of 6" in out
    assert "iterations in this file" in out and "3 (iterations 4–6)" in out


def test_a_missing_parent_is_a_note_not_a_crash(tmp_path, capsys):
    parent, child = resumed_pair(tmp_path, keep_parent=False)
    (s,) = summarize_runs([child])
    assert (s["n_iter_done"], s["first_iteration"]) == (6, 3)
    assert s["loss"] == pytest.approx(0.5 * syn.EXPECTED_LOSS)
    assert s["min_loss_iteration"] == 6
    assert s["history_note"].startswith(f"parent run {parent} is not readable (") and s["history_note"].endswith(
        "history starts at iteration 4"
    )
    code, _, err = run_cli(report.eval_main, [child, "--json"], capsys)
    assert code == 0 and err == f"eprop: warning: {child / 'results.h5'}: {s['history_note']}\n"
    with open_results(child) as res:
        ax = loss_figure(res).axes[0]
    np.testing.assert_array_equal(ax.get_lines()[-1].get_xdata(), [4, 5, 6])
    assert ax.get_title(loc="left") == "earlier iterations unavailable (parent run file missing or unreadable)"


def test_plots_of_a_resumed_run_number_iterations_over_the_whole_training(tmp_path):
    _, child = resumed_pair(tmp_path)
    with open_results(child) as res:
        fig = loss_figure(res)
        assert [ax.get_title() for ax in pattern_figure(res).axes] == ["iteration 4 of 6", "iteration 6 of 6"]
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["$E$"].get_xdata(), np.arange(1, 7))
    np.testing.assert_allclose(lines["$E$"].get_ydata(), [*syn.EXPECTED_LOSS, *(0.5 * syn.EXPECTED_LOSS)])
    np.testing.assert_array_equal(lines["resumed"].get_xdata(), [3.5, 3.5])
    assert ax.get_xlim() == (1, 6)


# ---------------------------------------------------------------- 16: a bad file among good ones


def test_eval_reports_a_bad_file_as_a_row_and_still_prints_the_good_one(run_file, tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_text("not HDF5")
    code, out, err = run_cli(report.eval_main, [run_file, bad, "--json"], capsys)
    assert code == 2
    assert err == f"eprop: error: {bad}: not a readable HDF5 results file (truncated, or not HDF5)\n"
    rows = json.loads(out)
    assert [(r["path"], r["status"]) for r in rows] == [(str(run_file), "complete"), (str(bad), "unreadable")]
    assert rows[1]["error"] == f"{bad}: not a readable HDF5 results file (truncated, or not HDF5)"
    code, out, err = run_cli(report.eval_main, [run_file, bad, tmp_path / "nowhere"], capsys)
    assert code == 2 and "unreadable" in out and str(run_file.parent) in out
    assert err.splitlines() == [
        f"eprop: error: {bad}: not a readable HDF5 results file (truncated, or not HDF5)",
        f"eprop: error: {tmp_path / 'nowhere'}: no such file or directory",
    ]


# ---------------------------------------------------------------- 17: units in the file


def dataset_units(path):
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: (
                found.__setitem__(name, (obj.attrs.get("units"), obj.attrs.get("description")))
                if isinstance(obj, h5py.Dataset)
                else None
            )
        )
    return found


def test_every_dataset_carries_units_and_a_description(run_file):
    found = dataset_units(run_file)
    assert len(found) > 30
    assert all(units and description for units, description in found.values()), found
    assert found["events/spike_recorder/times"][0] == "ms"
    assert found["events/multimeter_rec/V_m"][0] == "mV"
    assert found["events/multimeter_rec/learning_signal"][0] == "pA"
    assert found["events/multimeter_rec/surrogate_gradient"][0] == "1"
    assert found["events/weight_recorder/weights"][0] == "pA"
    assert found["events/weight_recorder/targets"][0] == "node id"
    assert found["weights/final/rec_out/weight"] == (
        "pA",
        "synaptic weight at the end of training (pending updates applied)",
    )
    assert found["neurons/recurrent"][0] == "node id"
    assert found["loss"][0] == "mV^2"
    assert units_of("/events/multimeter_out/V_m") == ("mV", "membrane voltage v_k of the readout neuron")


# ---------------------------------------------------------------- 15, 18: figures


def test_weight_matrix_panels_carry_their_own_axis_labels(run_file):
    with open_results(run_file) as res:
        fig = weight_matrices_figure(res)
    panels = [ax for ax in fig.axes if ax.get_images()]
    labels = [(ax.get_title(loc="left"), ax.get_xlabel(), ax.get_ylabel()) for ax in panels]
    assert labels == [
        ("input → recurrent", "input neuron (presyn.)", "recurrent neuron\n(postsyn.)"),
        ("input → recurrent", "input neuron (presyn.)", "recurrent neuron\n(postsyn.)"),
        ("recurrent → recurrent", "recurrent neuron (presyn.)", "recurrent neuron\n(postsyn.)"),
        ("recurrent → recurrent", "recurrent neuron (presyn.)", "recurrent neuron\n(postsyn.)"),
        ("recurrent → readout", "recurrent neuron (presyn.)", "readout neuron\n(postsyn.)"),
        ("recurrent → readout", "recurrent neuron (presyn.)", "readout neuron\n(postsyn.)"),
    ]
    assert panels[0].get_images()[0].get_array().shape == (len(syn.RECURRENT), len(syn.INPUT))  # (post, pre)


def test_one_outlier_weight_does_not_wash_out_the_colour_scale(run_file):
    with h5py.File(run_file, "r+") as f:
        f["weights/final/rec_rec/weight"][0] = -100.0  # pA, one outlier synapse
    with open_results(run_file) as res:
        fig = weight_matrices_figure(res)
        matrices = [
            res.weight_matrix(stage, p) for p in ("in_rec", "rec_rec", "rec_out") for stage in ("initial", "final")
        ]
    values = np.concatenate([np.abs(m[m != 0]) for m in matrices])
    p99 = np.percentile(values, 99, method="lower")
    assert p99 < 1.0  # every other weight is below 1 pA
    for image in (i for ax in fig.axes for i in ax.get_images()):
        assert image.get_clim() == pytest.approx((-p99, p99))
    (colorbar,) = [ax for ax in fig.axes if not ax.get_images() and ax.get_ylabel().startswith("weight")]
    assert colorbar.get_ylabel() == f"weight (pA), clipped at p99 = {p99:.3g} pA\ngrey: no connection"


def test_pattern_draws_the_readout_as_samples_not_a_stroke_from_the_origin(run_file):
    with open_results(run_file) as res:
        ax = pattern_figure(res).axes[0]
    target, readout = ax.get_lines()
    assert target.get_linestyle() == "-"
    assert (readout.get_linestyle(), readout.get_marker()) == ("None", ".")
    assert readout.get_label() == "readout $y$ (one dot per sample;\nstarts at 0 in each sequence)"


def test_loss_axis_is_chosen_from_the_data(run_file):
    assert spans_decades(np.array([25.0, 0.25])) and not spans_decades(np.array([25.0, 1.0]))
    with open_results(run_file) as res:  # 25 -> 0.25: two decades
        assert RUN_FIGURES["loss"](res, None).axes[0].get_yscale() == "log"
        assert RUN_FIGURES["loss"](res, False).axes[0].get_yscale() == "linear"
    flat = syn.write_run(run_file.parent.parent / "flat" / "results.h5")
    with h5py.File(flat, "r+") as f:
        f["loss"][:] = [3.0, 2.0, 1.0]
    with open_results(flat) as res:
        assert RUN_FIGURES["loss"](res, None).axes[0].get_yscale() == "linear"


def test_plot_log_and_linear_are_exclusive(run_file, capsys):
    # issue 19 item 10: one line, not argparse's usage block
    assert report.plot_main([str(run_file), "--log", "--linear"]) == 2
    assert capsys.readouterr().err == (
        "eprop: error: --log --linear: not allowed together; valid: one of them, or neither (chosen from the data)\n"
    )


def test_files_written_before_swmr_in_the_old_hdf5_format_still_read(run_file, tmp_path):
    old = tmp_path / "old" / "results.h5"
    old.parent.mkdir()
    with h5py.File(run_file, "r") as new, h5py.File(old, "w", libver="earliest") as f:  # the format eprop wrote before
        for key, value in new.attrs.items():
            f.attrs[key] = value
        for name in new:
            new.copy(new[name], f, name=name)
        for name in f["events"]["spike_recorder"]:
            for key in list(f["events"]["spike_recorder"][name].attrs):  # no units attributes then
                del f["events"]["spike_recorder"][name].attrs[key]
    with h5py.File(old, "r") as f:
        assert f.id.get_create_plist().get_version()[0] == 0  # superblock version 0: no SWMR possible
    (s,) = summarize_runs([old])
    assert (s["status"], s["n_iter_done"]) == ("complete", syn.N_ITER)
    assert s["loss"] == pytest.approx(syn.EXPECTED_LOSS.tolist())
    assert s["rate_max"] == pytest.approx(500.0)

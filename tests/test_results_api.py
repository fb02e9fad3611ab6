"""Fast tier: `eprop.results` as a library: the reading API of `Results` (to_pandas, spikes, readout
signals, weight matrices, config, provenance) against the numbers of the synthetic files and of
`eprop eval`, the reader's own error `ResultsError`, and what the package does not import (no NEST)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from omegaconf import DictConfig

from eprop.analysis.metrics import summarize_run
from eprop.cli import report
from eprop.cli.boundary import exit_status
from eprop.errors import EpropError, ResultsError, UserError
from eprop.results import ReadoutSignals, Spikes, open_results

from . import synthetic_results as syn

PACKAGE = Path(__file__).resolve().parents[1] / "eprop"


@pytest.fixture
def run_file(tmp_path):
    return syn.write_run(tmp_path / "run" / "results.h5")


def resumed_pair(tmp_path, keep_parent=True, parent_writer=None):
    """A parent run of N_ITER iterations and its child that continued from it (loss halved)."""
    parent = tmp_path / "parent"
    (parent_writer or (lambda p: syn.write_run(p, status="interrupted")))(parent / "results.h5")
    child = tmp_path / "child"
    syn.write_run(child / "results.h5", loss_scale=0.5)
    with h5py.File(child / "results.h5", "r+") as f:
        f.attrs["first_iteration"] = syn.N_ITER
        f.attrs["parent_run"] = str(parent)
    if not keep_parent:
        (parent / "results.h5").unlink()
    return parent, child


# ---------------------------------------------------------------- to_pandas


def test_the_frame_of_a_run_is_its_loss_per_iteration(run_file):
    with open_results(run_file) as res:
        frame = res.to_pandas()
        loss, per_output = res.loss, res.loss_per_output
    assert isinstance(frame, pd.DataFrame)
    assert frame.index.name == "iteration" and frame.index.tolist() == [1, 2, 3]
    assert frame.columns.tolist() == ["loss", "loss_0", "loss_1"]
    np.testing.assert_array_equal(frame["loss"].to_numpy(), loss)
    np.testing.assert_array_equal(frame[["loss_0", "loss_1"]].to_numpy().T, per_output)
    np.testing.assert_allclose(frame["loss"].to_numpy(), syn.EXPECTED_LOSS)
    np.testing.assert_allclose(frame["loss_1"].to_numpy(), syn.EXPECTED_LOSS_PER_OUTPUT[1])
    assert frame.attrs == {"path": str(run_file), "parent_runs": [], "history_note": ""}


def test_the_frame_of_a_resumed_run_is_the_whole_training_as_eval_reports_it(tmp_path):
    parent, child = resumed_pair(tmp_path)
    with open_results(child) as res:
        frame = res.to_pandas()
        summary = summarize_run(res, check_loss=False)
    assert frame.index.tolist() == [1, 2, 3, 4, 5, 6]
    assert frame["loss"].tolist() == summary["loss"]
    np.testing.assert_allclose(frame["loss"].to_numpy(), [*syn.EXPECTED_LOSS, *(0.5 * syn.EXPECTED_LOSS)])
    assert frame["loss"].idxmin() == summary["min_loss_iteration"] == 6
    with open_results(child) as res:
        assert repr(res).endswith(": handwriting, status complete, 3 iterations after 3 of its parent runs>")
    assert frame.attrs["parent_runs"] == summary["parent_runs"] == [str(parent / "results.h5")]


def test_a_missing_parent_starts_the_frame_where_eval_starts(tmp_path):
    _, child = resumed_pair(tmp_path, keep_parent=False)
    with open_results(child) as res:
        frame = res.to_pandas()
        summary = summarize_run(res, check_loss=False)
    assert frame.index.tolist() == [4, 5, 6]
    assert frame["loss"].tolist() == summary["loss"]
    assert frame.attrs["history_note"] == summary["history_note"] != ""
    assert frame.attrs["history_note"].endswith("history starts at iteration 4")


def test_a_classification_frame_has_accuracy_and_phase_names(tmp_path):
    path = syn.write_classification_run(tmp_path / "cls" / "results.h5")
    with open_results(path) as res:
        frame = res.to_pandas()
        summary = summarize_run(res, check_loss=False)
    assert frame.columns.tolist() == ["loss", "loss_0", "loss_1", "accuracy", "phase"]
    assert frame.index.tolist() == list(range(1, len(syn.CORRECT) + 1))
    np.testing.assert_allclose(frame["accuracy"].to_numpy(), np.array(syn.CORRECT) / syn.BATCH)
    assert frame["phase"].tolist() == [syn.PHASE_NAMES[p] for p in syn.PHASES]
    assert frame["phase"].tolist() == summary["phase"] and frame["accuracy"].tolist() == summary["accuracy"]
    np.testing.assert_allclose(frame["loss"].to_numpy(), [syn.classification_loss(c) for c in syn.CORRECT])
    test = frame[frame["phase"] == "test"]
    assert test.index.tolist() == [9, 10] and test["accuracy"].mean() == summary["final_accuracy"]


def test_a_classification_run_without_phases_is_all_training(tmp_path):
    path = syn.write_classification_run(tmp_path / "cls" / "results.h5", phases=None)
    with open_results(path) as res:
        frame = res.to_pandas()
    assert set(frame["phase"]) == {"training"}


def test_a_resumed_classifier_whose_parent_has_no_accuracy_aligns_it_with_eval(tmp_path):
    parent = tmp_path / "parent"
    syn.write_run(parent / "results.h5", status="interrupted")  # a file without /accuracy
    child = syn.write_classification_run(tmp_path / "child" / "results.h5")
    with h5py.File(child, "r+") as f:
        f.attrs["first_iteration"] = syn.N_ITER
        f.attrs["parent_run"] = str(parent)
    with open_results(child) as res:
        frame = res.to_pandas()
        summary = summarize_run(res, check_loss=False)
    n = syn.N_ITER + len(syn.CORRECT)
    assert frame.index.tolist() == list(range(1, n + 1)) and frame["loss"].tolist() == summary["loss"]
    assert frame["accuracy"].iloc[: syn.N_ITER].isna().all()
    assert frame["accuracy"].dropna().tolist() == summary["accuracy"]
    assert frame["phase"].iloc[syn.N_ITER :].tolist() == summary["phase"]


# ---------------------------------------------------------------- spikes, readout signals


def test_spikes_of_the_recurrent_and_the_input_population(run_file):
    with open_results(run_file) as res:
        recurrent = res.spikes("recurrent", iteration=-1)
        everything = res.spikes()
        inputs = res.spikes("input", iteration=0)
        with pytest.raises(ValueError, match="spikes are recorded of input and recurrent"):
            res.spikes("readout")
    assert isinstance(recurrent, Spikes)
    counts = [int(np.sum(recurrent.senders == n)) for n in syn.RECURRENT]
    assert counts == syn.SPIKE_COUNTS[-1].tolist()
    t0 = syn.OFFSET_MS + (syn.N_ITER - 1) * syn.STEPS * syn.RESOLUTION_MS
    last = syn.RECURRENT[-1]  # 5 spikes at t0 + 1, ..., t0 + 5 ms
    np.testing.assert_array_equal(recurrent.times[recurrent.senders == last], t0 + 1 + np.arange(5))
    assert len(everything.senders) == syn.SPIKE_COUNTS.sum() and set(everything.senders) <= set(syn.RECURRENT)
    assert inputs.senders.tolist() == [syn.INPUT[0]] * syn.INPUT_SPIKES_PER_ITERATION
    np.testing.assert_array_equal(inputs.times, syn.OFFSET_MS + np.arange(syn.INPUT_SPIKES_PER_ITERATION))


def test_readout_signals_are_one_row_per_readout(run_file):
    with open_results(run_file) as res:
        one = res.readout_signals(iteration=1)
        every = res.readout_signals()
    assert isinstance(one, ReadoutSignals)
    assert one.senders.tolist() == syn.READOUT and one.readout.shape == one.target.shape == (2, syn.STEPS)
    np.testing.assert_array_equal(one.times, syn.OFFSET_MS + syn.STEPS * syn.RESOLUTION_MS + np.arange(syn.STEPS))
    for j in range(2):
        np.testing.assert_allclose(one.target[j], syn.target_signal(j))
        np.testing.assert_allclose(one.readout[j] - one.target[j], syn.OFFSETS[j, 1])
    assert every.readout.shape == (2, syn.N_ITER * syn.STEPS) and every.times.size == syn.N_ITER * syn.STEPS
    # the loss is the readouts' squared error: the signals give back /loss_per_output
    np.testing.assert_allclose(0.5 * ((one.readout - one.target) ** 2).sum(axis=1), syn.EXPECTED_LOSS_PER_OUTPUT[:, 1])


def test_readout_signals_need_the_readout_multimeter(tmp_path):
    path = tmp_path / "results.h5"
    syn.write_run(path)
    with h5py.File(path, "r+") as f:
        del f["events/multimeter_out/target_signal"]
    with open_results(path) as res:
        with pytest.raises(ResultsError) as info:
            res.readout_signals()
    assert str(info.value) == f"{path}: multimeter_out with readout_signal and target_signal is not recorded"


# ---------------------------------------------------------------- weights


def test_weights_are_dense_pA_matrices_with_nan_where_no_synapse(run_file):
    with open_results(run_file) as res:
        w0 = res.weights("in_rec", when="initial")
        w1 = res.weights("in_rec")  # final by default
        rec = res.weights("rec_rec", when="initial")
        mask = res.connected("initial", "rec_rec")
        stored = res.weights("final", "in_rec")  # the older form: the connections as stored
        listed = res.connections("in_rec", when="final")
    assert w0.shape == (len(syn.RECURRENT), len(syn.INPUT))  # (target, source)
    source, target = np.meshgrid(syn.INPUT, syn.RECURRENT)
    np.testing.assert_allclose(w0, 0.01 * source + 0.001 * target)
    np.testing.assert_allclose(w1 - w0, syn.WEIGHT_DELTA["in_rec"])
    assert np.isnan(np.diag(rec)).all() and not np.isnan(rec[~np.eye(len(syn.RECURRENT), dtype=bool)]).any()
    np.testing.assert_array_equal(mask, ~np.isnan(rec))
    assert stored.keys() == listed.keys() == {"source", "target", "weight"}
    np.testing.assert_array_equal(stored["weight"], listed["weight"])
    np.testing.assert_allclose(np.sort(w1.ravel()), np.sort(stored["weight"]))


def test_weights_refusals(tmp_path):
    path = syn.write_run(tmp_path / "results.h5", status="running")  # no final weights
    with open_results(path) as res:
        with pytest.raises(ResultsError) as info:
            res.weights("rec_rec")
        assert str(info.value) == f"{path}: holds no final weights of rec_rec (status running)"
        with pytest.raises(ValueError, match="when='middle': valid: initial, final"):
            res.weights("rec_rec", when="middle")
        with pytest.raises(ValueError, match="projection 'rec': valid: in_rec, rec_rec, rec_out, out_rec"):
            res.weights("rec")
        assert res.weights("rec_rec", when="initial").shape == (4, 4)


# ---------------------------------------------------------------- config, provenance, units


def test_config_provenance_and_units(run_file):
    with open_results(run_file) as res:
        config, provenance = res.config, res.provenance
        units = (res.units("loss"), res.units("events/spike_recorder/times"), res.units("weights/final/in_rec/weight"))
    assert isinstance(config, DictConfig) and config.task.n_iter == syn.N_ITER
    assert config == syn.config()
    assert provenance == {
        "seed": 1,
        "nest_version": "3.10",
        "total_num_virtual_procs": 1,
        "overrides": [],
        "timing_build_s": 1.5,
        "timing_simulate_s": 10.0,
        "timing_write_s": 0.5,
        "peak_rss_mb": 321.0,
    }
    assert units == ("mV^2", "ms", "pA")
    assert repr(res) == f"<Results {str(run_file)!r} (closed)>"
    res = open_results(run_file)
    assert repr(res) == f"<Results {str(run_file)!r}: handwriting, status complete, 3 iterations>"
    res.close()


def test_provenance_decodes_the_json_attributes(tmp_path):
    versions = {"eprop": "0.1.0", "numpy": "2.0"}
    path = syn.write_run(
        tmp_path / "results.h5",
        attrs={"package_versions": json.dumps(versions), "git_commit": "abc", "started": "2026-01-01T12:00:00"},
    )
    with open_results(path) as res:
        provenance = res.provenance
    assert provenance["package_versions"] == versions
    assert (provenance["git_commit"], provenance["started"]) == ("abc", "2026-01-01T12:00:00")


# ---------------------------------------------------------------- ResultsError


def test_results_error_is_an_eprop_error_but_not_a_user_error():
    assert issubclass(ResultsError, EpropError) and issubclass(UserError, EpropError)
    assert not issubclass(ResultsError, UserError)
    assert exit_status(ResultsError("/x/results.h5: no such results file")) == (
        "eprop: error: /x/results.h5: no such results file",
        2,
    )


def test_a_damaged_file_is_a_results_error_with_the_line_the_cli_prints(tmp_path, capsys):
    good = syn.write_run(tmp_path / "good.h5")
    damaged = tmp_path / "run" / "results.h5"
    damaged.parent.mkdir()
    damaged.write_bytes(good.read_bytes()[:1000])
    line = f"{damaged}: not a readable HDF5 results file (truncated, or not HDF5)"
    with pytest.raises(ResultsError) as info:
        open_results(damaged)
    assert str(info.value) == line
    assert report.eval_main([str(damaged)]) == 2
    assert capsys.readouterr().err == f"eprop: error: {line}\n"
    assert report.plot_main([str(damaged), "--out", str(tmp_path / "figures")]) == 2
    assert capsys.readouterr().err == f"eprop: error: {line}\n"


def test_a_missing_file_is_a_results_error(tmp_path):
    missing = tmp_path / "missing.h5"
    with pytest.raises(ResultsError) as info:
        open_results(missing)
    assert str(info.value) == f"{missing}: no such results file"
    with pytest.raises(ResultsError) as info:
        open_results(tmp_path)  # a directory without a results file
    assert str(info.value) == f"{tmp_path / 'results.h5'}: no such results file"


# ---------------------------------------------------------------- what the package imports


def test_the_package_imports_nothing_of_the_simulator_training_analysis_or_cli():
    allowed = ("eprop.errors", "eprop.config.", "eprop.results")
    for path in sorted((PACKAGE / "results").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name == "eprop" or name.startswith("eprop."):
                    assert name.startswith(allowed), f"{path.name} imports {name}"
                assert name.split(".")[0] != "nest", f"{path.name} imports {name}"


def test_reading_a_file_loads_no_nest_simulator_training_or_cli(run_file):
    script = (
        "import sys\n"
        "from eprop.results import open_results\n"
        f"with open_results({str(run_file)!r}) as res:\n"
        "    res.loss; res.spikes(); res.readout_signals(); res.weights('rec_rec'); res.config; res.provenance\n"
        "    print('pandas' in sys.modules)  # only to_pandas imports it\n"
        "    res.to_pandas()\n"
        "bad = ('nest', 'eprop.simulator', 'eprop.training', 'eprop.cli', 'eprop.analysis', 'eprop.sweep')\n"
        "print(sorted(m for m in sys.modules if m in bad or any(m.startswith(b + '.') for b in bad)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "[]"]

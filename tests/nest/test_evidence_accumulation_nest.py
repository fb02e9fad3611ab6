"""NEST tier: `eprop run task=evidence_accumulation` gives NEST's classification numbers.

- experiment=nest_bsshslm_2020_evidence_accumulation reproduces the reference losses of NEST
  3.10's test_eprop_bsshslm_2020_plasticity.py::test_eprop_classification at batch sizes 1 and 2
  (rtol 1e-8), from the config alone;
- on top of it, seed=, task.n_iter=, task.batch_size= and optimizer.eta= give what the NEST
  oracle (tests/oracle/evidence_accumulation.py, checked against the same reference losses in
  tests/nest/test_oracle_evidence_accumulation.py) gives for the same setup: losses, labels,
  predictions, accuracy and final weights;
- /accuracy equals the accuracy recomputed here from the stored readout events and /labels.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from eprop.results import open_results
from tests.conftest import run_eprop
from tests.nest.test_oracle_evidence_accumulation import CLASSIFICATION_NEST, run_evidence_oracle

pytestmark = pytest.mark.nest

PRESET = "nest_bsshslm_2020_evidence_accumulation"


def run_preset(run_dir, *overrides: str) -> h5py.File:
    run_eprop("run", f"experiment={PRESET}", "progress=false", f"hydra.run.dir={run_dir}", *overrides)
    return h5py.File(run_dir / "results.h5", "r")


@pytest.mark.parametrize("batch_size", [1, 2])
def test_preset_gives_nest_classification_reference_losses(tmp_path, batch_size):
    with run_preset(tmp_path / "run", f"task.batch_size={batch_size}") as f:
        assert f.attrs["task_kind"] == "classification" and f.attrs["status"] == "complete"
        assert np.allclose(f["loss"][:], CLASSIFICATION_NEST[batch_size], rtol=1e-8)
        assert f["labels"].shape == (5, batch_size) and f["accuracy"].shape == (5,)
        if batch_size == 2:  # docs/evidence_accumulation.md: the labels of NEST's run
            assert f["labels"][:].tolist() == [[1, 0], [1, 1], [1, 1], [0, 1], [0, 0]]
    if batch_size == 2:  # plot: the classification figures, no regression-only figure, no warning
        proc = run_eprop("plot", str(tmp_path / "run"), "--out", str(tmp_path / "figs"), "--dpi", "50")
        # recording=minimal has no weight recorder (as for regression); nothing about pattern or target
        assert (
            proc.stderr
            == f"eprop: skipped weight_courses: {tmp_path / 'run' / 'results.h5'}: weight_recorder was not recorded\n"
        )
        assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
            "confusion.png",
            "dynamics_first.png",
            "dynamics_last.png",
            "loss_error.png",
            "readout_probabilities.png",
            "weight_matrices.png",
        ]


def recomputed_accuracy(f: h5py.File, window_steps: int, sequence_steps: int) -> np.ndarray:
    """Accuracy per iteration from /events/multimeter_out and /labels (the example's rule)."""
    ev = f["events/multimeter_out"]
    starts = ev["iteration_start"][:]
    readouts = f["neurons/readout"][:]
    labels = f["labels"][:]
    accuracy = []
    for k in range(len(starts) - 1):
        senders = ev["senders"][starts[k] : starts[k + 1]]
        signal = ev["readout_signal"][starts[k] : starts[k + 1]]
        per_readout = np.stack([signal[senders == node].reshape(-1, sequence_steps) for node in readouts], axis=1)
        predicted = np.argmax(per_readout[..., -window_steps:].mean(axis=-1), axis=1)
        accuracy.append(np.mean(predicted == labels[k]))
    return np.array(accuracy)


def test_overrides_give_what_the_oracle_gives_and_accuracy_is_recomputable(tmp_path):
    overrides = {"seed": 7, "n_iter": 3, "batch_size": 3, "eta": 0.02}
    oracle = run_evidence_oracle(
        tmp_path / "oracle.npz", "--seed", "7", "--n-iter", "3", "--batch-size", "3", "--eta", "0.02"
    )
    with run_preset(
        tmp_path / "run",
        f"seed={overrides['seed']}",
        f"task.n_iter={overrides['n_iter']}",
        f"task.batch_size={overrides['batch_size']}",
        f"optimizer.eta={overrides['eta']}",
    ) as f:
        np.testing.assert_allclose(f["loss"][:], oracle["loss"], rtol=1e-12, atol=0)
        assert np.array_equal(f["labels"][:], oracle["labels"])
        assert np.array_equal(f["predicted"][:], oracle["predicted"])
        assert np.array_equal(f["accuracy"][:], oracle["accuracy"])
        assert np.array_equal(recomputed_accuracy(f, 150, 2250), f["accuracy"][:])
    proc = run_eprop("eval", str(tmp_path / "run"), "--json")
    summary = json.loads(proc.stdout)
    assert summary["task_kind"] == "classification"
    assert summary["accuracy"] == oracle["accuracy"].tolist()
    # no test phase: the final accuracy is the mean over the (at most 10) last training iterations, here all 3
    assert summary["final_accuracy"] == np.mean(oracle["accuracy"]) and summary["final_error"] == 1.0 - np.mean(
        oracle["accuracy"]
    )
    assert summary["final_accuracy_from"] == "last 3 training iterations (no test phase)"
    assert summary["accuracy_per_phase"] == {"training": np.mean(oracle["accuracy"])}
    assert summary["loss_recomputed_max_rel_diff"] < 1e-12  # the cross-entropy rescored from the events
    with open_results(tmp_path / "run") as res:  # the same node ids: the same creation order
        for projection in ("in_rec", "rec_rec", "rec_out"):
            ours = res.weights("final", projection)
            src, tgt, w = (oracle[f"final/{projection}/{key}"] for key in ("source", "target", "weight"))
            order = np.lexsort((tgt, src))
            assert np.array_equal(ours["source"], src[order]) and np.array_equal(ours["target"], tgt[order])
            assert np.array_equal(ours["weight"], w[order]), projection

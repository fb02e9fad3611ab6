"""NEST tier: the evidence-accumulation oracle gives NEST's classification reference losses.

The reference losses are copied from the test file that the nest-simulator 3.10 wheel installs
(nest/share/nest/testsuite/pytests/synapses/test_eprop_bsshslm_2020_plasticity.py,
test_eprop_classification, rtol 1e-8). That test computes, per iteration, the cross-entropy
-sum_k target_k log(readout_k) averaged over the batch and the 150 steps of the recall window.

The oracle (tests/oracle/evidence_accumulation.py) runs in its own process, as the seed oracle
does; its draws are also compared here with eprop's task module, which the fast tier cannot do
against NEST's numbers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eprop.tasks import evidence_accumulation as task
from tests.conftest import eprop_env

pytestmark = pytest.mark.nest

ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "evidence_accumulation.py"

# test_eprop_bsshslm_2020_plasticity.py::test_eprop_classification, keyed by batch size
CLASSIFICATION_NEST = {
    1: [0.741152550006, 0.740388187700, 0.665785233177, 0.663644193322, 0.729428962844],
    2: [0.702163370672, 0.735555303152, 0.740354864111, 0.683882815282, 0.707841122268],
}


def run_evidence_oracle(out: Path, *args: str) -> dict[str, np.ndarray]:
    """Run the evidence-accumulation oracle with ARGS; returns its saved arrays."""
    proc = subprocess.run(
        [sys.executable, str(ORACLE), str(out), *args], env=eprop_env(), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as saved:
        return dict(saved)


@pytest.mark.parametrize("schedule", ["test", "example"])
@pytest.mark.parametrize("batch_size", [1, 2])
def test_oracle_gives_nest_classification_reference_losses(tmp_path, batch_size, schedule):
    res = run_evidence_oracle(tmp_path / "ea.npz", "--batch-size", str(batch_size), "--schedule", schedule)
    assert res["loss"].shape == (5,)
    assert np.allclose(res["loss"], CLASSIFICATION_NEST[batch_size], rtol=1e-8)
    # the stored recall-window signals give the stored loss, accuracy and predictions
    window = np.ones(task.EvidenceAccumulationParams().recall_steps, dtype=bool)
    for i in range(5):
        one_hot = res["target_window"][i][:, :, 0]
        assert np.array_equal(np.argmax(one_hot, axis=1), res["labels"][i])
        assert task.cross_entropy_loss(res["readout_window"][i], res["target_window"][i], window) == pytest.approx(
            res["loss"][i], rel=1e-12
        )
        assert np.array_equal(task.predicted_class(res["readout_window"][i], window), res["predicted"][i])
        assert task.accuracy(res["predicted"][i], res["labels"][i]) == res["accuracy"][i]


def test_oracle_draws_equal_task_module_draws_and_reach_nest(tmp_path):
    """Labels and input spike times the oracle handed to NEST are what the task module draws."""
    res = run_evidence_oracle(tmp_path / "ea.npz", "--batch-size", "3", "--n-iter", "2", "--seed", "7")
    params = task.EvidenceAccumulationParams()
    rng = np.random.RandomState(7)
    task.draw_initial_weights(rng, n_in=40, n_rec=100, n_out=2)
    senders, times, labels = [], [], []
    for i in range(2):
        draw = task.draw_iteration(rng, 3, params)
        labels.append(draw.labels)
        s, t = task.spike_times(draw.spikes, first_time_ms=i * 3 * params.sequence_ms + 1.0)
        senders.append(s)
        times.append(t)
    senders, times = np.concatenate(senders), np.concatenate(times)
    order = np.lexsort((times, senders))
    assert np.array_equal(np.array(labels), res["labels"])
    assert np.array_equal(senders[order], res["input/senders"])
    assert np.array_equal(times[order], res["input/times"])
    # and the initial weights NEST reports are the drawn ones
    rng = np.random.RandomState(7)
    w = task.draw_initial_weights(rng, n_in=40, n_rec=100, n_out=2)
    src, tgt = res["initial/rec_out/source"], res["initial/rec_out/target"]
    n_in, n_rec = 40, 100
    first_rec, first_out = 2 * n_in + 1, 2 * n_in + n_rec + 1
    assert np.array_equal(res["initial/rec_out/weight"], w["rec_out"][tgt - first_out, src - first_rec])


def test_learning_rate_of_a_batch_is_the_one_in_force_while_it_ran(tmp_path):
    """NEST 3.10 applies the step of iteration j's batch during iteration j + 1, with the learning
    rate that was set while iteration j ran; a synapse's very first step uses the first learning
    rate ever set (here 5e-3, before Connect). Phases (eta = 0 outside training) depend on this."""
    constant = run_evidence_oracle(tmp_path / "b.npz", "--schedule", "example", "--n-iter", "4")
    first_zero = run_evidence_oracle(
        tmp_path / "a.npz", "--schedule", "example", "--n-iter", "4", "--eta-per-iteration", "0,5e-3,5e-3,5e-3"
    )
    second_zero = run_evidence_oracle(
        tmp_path / "c.npz", "--schedule", "example", "--n-iter", "4", "--eta-per-iteration", "5e-3,0,5e-3,5e-3"
    )
    assert np.array_equal(first_zero["loss"], constant["loss"])
    assert np.array_equal(second_zero["loss"][:2], constant["loss"][:2])
    assert np.allclose(second_zero["loss"][2:], [0.65721062, 0.65893024], rtol=1e-7)
    assert np.allclose(constant["loss"][2:], [0.66578523, 0.66364419], rtol=1e-7)


# --schedule phases at batch 1: validation every 3 training iterations, 2 early-stopping
# iterations, 6 training iterations at most, 2 test iterations. Codes: 0 training,
# 1 validation, 2 early stopping, 3 test. The errors of this run (seed 1) are
# 1 1 0 0 1 0 0 1 0 0: at the check before training iteration 3 the current error is that of
# iteration 3 (the last training iteration; 0) and the early-stopping mean is that of
# iterations 4 and 5 (the validation and the first early-stopping iteration; 0.5).
PHASE_ARGS = (
    "--schedule",
    "phases",
    "--batch-size",
    "1",
    "--n-iter-train",
    "6",
    "--validate-every",
    "3",
    "--n-early-stop",
    "2",
    "--n-test",
    "2",
)


@pytest.mark.parametrize(
    "stop_crit, phases",
    [
        ("0.6", [1, 0, 0, 0, 1, 2, 2, 0, 3, 3]),  # 0.5 < 0.6: stop, after one more training iteration
        ("0.5", [1, 0, 0, 0, 1, 2, 2, 0, 0, 0, 3, 3]),  # 0.5 is not below 0.5: train on to 6 iterations
    ],
)
def test_oracle_phases_follow_the_example_schedule(tmp_path, stop_crit, phases):
    res = run_evidence_oracle(tmp_path / "ph.npz", *PHASE_ARGS, "--stop-crit", stop_crit)
    assert res["phase"].tolist() == phases
    assert res["phase_names"].tolist() == ["training", "validation", "early_stopping", "test"]
    # the example's online scoring (after the next iteration's first 5 ms) = the offline one
    assert res["online_error_iteration"].tolist() == list(range(len(phases)))
    assert res["online_error"].tolist() == (1.0 - res["accuracy"]).tolist()
    assert res["online_error"][:8].tolist() == [1, 1, 0, 0, 1, 0, 0, 1]


def test_oracle_phases_equal_per_iteration_learning_rates(tmp_path):
    """The phases run is the example schedule with eta 5e-3 in training and 0 otherwise, 0 set first."""
    res = run_evidence_oracle(tmp_path / "ph.npz", *PHASE_ARGS, "--stop-crit", "0.6")
    etas = ",".join("5e-3" if p == 0 else "0" for p in res["phase"])
    ref = run_evidence_oracle(
        tmp_path / "ex.npz",
        "--schedule",
        "example",
        "--batch-size",
        "1",
        "--n-iter",
        str(len(res["phase"])),
        "--eta",
        "0",
        "--eta-per-iteration",
        etas,
    )
    assert np.array_equal(res["loss"], ref["loss"])
    # iteration 0 is NEST's reference (no step applied yet); then the steps of eta 0 and 5e-3
    assert res["loss"][:3].tolist() == pytest.approx([0.741152550006, 0.758867584966, 0.645758045404], rel=1e-11)
    for key in res:
        if key.startswith("final/"):
            assert np.array_equal(res[key], ref[key]), key


def test_learning_rate_must_be_set_at_the_iteration_start(tmp_path):
    """Setting an iteration's learning rate 5 ms late (where a chunk ending at the example's
    scoring point would begin) changes the losses from the first iteration after a rate change
    whose step lands in those 5 ms (iteration 5 here, at batch 1): an implementation must set it
    at the iteration boundary."""
    res = run_evidence_oracle(tmp_path / "ph.npz", *PHASE_ARGS, "--stop-crit", "0.6")
    late = run_evidence_oracle(tmp_path / "late.npz", *PHASE_ARGS, "--stop-crit", "0.6", "--eta-late")
    assert late["phase"].tolist() == res["phase"].tolist()
    assert np.array_equal(late["loss"][:5], res["loss"][:5])
    assert late["loss"][5] - res["loss"][5] == pytest.approx(-5.80748627e-05, rel=1e-6)

"""Fast tier: evidence-accumulation inputs, labels, loss and accuracy (eprop.tasks.evidence_accumulation).

The draws are compared with the pure-numpy draw functions of the NEST oracle
(tests/oracle/evidence_accumulation.py, which follows NEST's test line by line and is checked
against NEST's reference losses in the NEST tier); the rest are hand-checkable values.
"""

from __future__ import annotations

import numpy as np
import pytest

from eprop.tasks import evidence_accumulation as task

PARAMS = task.EvidenceAccumulationParams()


def test_default_timing_is_nest_example():
    assert PARAMS.sequence_ms == 2250.0
    assert PARAMS.sequence_steps == 2250 and PARAMS.recall_steps == 150 and PARAMS.n_in == 40
    assert PARAMS.cue_onset_steps().tolist() == [50, 200, 350, 500, 650, 800, 950]
    window = PARAMS.recall_window()
    assert window.sum() == 150 and window[2100:].all() and not window[:2100].any()


def test_steps_refuses_a_duration_off_the_grid():
    with pytest.raises(ValueError, match=r"^100.5 ms is not a multiple of the resolution 1.0 ms$"):
        PARAMS.steps(100.5)


@pytest.mark.parametrize("seed,batch_size", [(1, 1), (1, 2), (5, 4), (123, 32)])
def test_weights_and_iterations_equal_oracle_draws(oracle, seed, batch_size):
    ours, theirs = np.random.RandomState(seed), np.random.RandomState(seed)
    w_ours = task.draw_initial_weights(ours, n_in=40, n_rec=100, n_out=2)
    w_theirs = oracle.draw_weights(theirs)
    for name in ("in_rec", "rec_rec", "rec_out", "out_rec"):
        assert w_ours[name].dtype == np.float32
        assert np.array_equal(w_ours[name], w_theirs[name]), name
    for _ in range(2):
        a, b = task.draw_iteration(ours, batch_size, PARAMS), oracle.draw_iteration(theirs, batch_size)
        assert np.array_equal(a.spikes, b["spikes"])
        assert np.array_equal(a.cues, b["cues"])
        assert np.array_equal(a.labels, b["labels"])
        assert np.array_equal(a.majority, b["majority"])
    assert ours.randint(1 << 30) == theirs.randint(1 << 30)  # both generators end in the same state


def test_seed_1_first_iteration_values():
    """NEST's test at batch size 1 (seed 1): labels of its five iterations are 1 1 0 0 1."""
    rng = np.random.RandomState(1)
    task.draw_initial_weights(rng, n_in=40, n_rec=100, n_out=2)
    labels = [int(task.draw_iteration(rng, 1, PARAMS).labels[0]) for _ in range(5)]
    assert labels == [1, 1, 0, 0, 1]


def test_spikes_only_where_the_task_allows_them():
    draw = task.draw_iteration(np.random.RandomState(3), 8, PARAMS)
    probs = task.spike_probabilities(draw.cues, PARAMS)
    assert not draw.spikes[probs == 0.0].any()
    assert not draw.spikes[:, 0, :].any()
    assert set(np.unique(probs)) == {0.0, 0.01, 0.04}
    # the left population is active exactly during the left cues
    for b in range(8):
        for c, onset in enumerate(PARAMS.cue_onset_steps()):
            side = draw.cues[b, c]
            assert (probs[b, onset : onset + 100, side * 10 : (side + 1) * 10] == 0.04).all()
            assert (probs[b, onset : onset + 100, (1 - side) * 10 : (2 - side) * 10] == 0.0).all()
    assert (probs[:, 2100:, 20:30] == 0.04).all() and (probs[:, :2100, 20:30] == 0.0).all()
    assert (probs[:, :, 30:] == 0.01).all()
    assert np.array_equal(draw.labels, (draw.cues.sum(axis=1) >= 4).astype(int))


def test_cue_side_probabilities_are_float32():
    """numpy's choice sees 0.3 as float32: 0.30000001192092896 (NEST's scripts do the same)."""
    rng = np.random.RandomState(0)
    majority, cues = task.draw_cues(rng, 2000, PARAMS)
    fraction_majority = np.mean(cues == majority[:, None])
    assert fraction_majority == pytest.approx(0.7, abs=0.01)


def test_spike_times_are_laid_end_to_end_from_the_offset():
    spikes = np.zeros((2, 5, 3), dtype=bool)
    spikes[0, 1, 2] = spikes[1, 0, 0] = spikes[1, 4, 2] = True
    senders, times = task.spike_times(spikes, first_time_ms=1.0)
    assert senders.tolist() == [0, 2, 2]
    assert times.tolist() == [6.0, 2.0, 10.0]


def test_spike_times_match_oracle_generator_times(oracle):
    draw = task.draw_iteration(np.random.RandomState(2), 3, PARAMS)
    first_step = 2 * 3 * 2250
    senders, times = task.spike_times(draw.spikes, first_time_ms=first_step + 1.0)
    per_neuron = oracle.spike_times(draw.spikes, first_step)
    for i, t in enumerate(per_neuron):
        assert np.array_equal(times[senders == i], t.astype(np.float64))


def test_one_hot_targets():
    assert task.one_hot_targets(np.array([1, 0, 1]), 2).tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]


def test_cross_entropy_loss_by_hand():
    window = np.array([False, True, True])
    readout = np.array(
        [
            [[0.5, 0.25, 0.5], [0.5, 0.75, 0.5]],  # sequence 0, label 1
            [[0.9, 0.5, 0.125], [0.1, 0.5, 0.875]],
        ]
    )  # sequence 1, label 0
    target = np.array([[[0, 0, 0], [1, 1, 1]], [[1, 1, 1], [0, 0, 0]]], dtype=float)
    expected = -(np.log(0.75) + np.log(0.5) + np.log(0.5) + np.log(0.125)) / 4
    assert task.cross_entropy_loss(readout, target, window) == pytest.approx(expected, rel=1e-15)
    assert task.predicted_class(readout, window).tolist() == [1, 1]  # seq 1: mean 0.3125 vs 0.6875
    assert task.accuracy(task.predicted_class(readout, window), np.array([1, 0])) == 0.5


def test_glorot_limit():
    draws = task.glorot_uniform(np.random.RandomState(0), 100, 2)
    assert draws.shape == (100, 2)
    assert np.abs(draws).max() <= np.sqrt(3.0 / 51.0)

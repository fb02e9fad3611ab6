"""Fast tier: timing, the RandomState draw order and the target signals, without NEST."""

from __future__ import annotations

import numpy as np
import pytest

from eprop.config.timing import Timing
from eprop.tasks.trajectory import draw_input_spikes, handwriting_target, infinite_loop_target
from eprop.training.weights import draw_weights


def test_draw_order_matches_the_seeds_global_generator():
    """A local RandomState drawn in the documented order reproduces np.random.seed(1)."""
    n_in, n_rec, n_out, steps = 7, 11, 2, 50
    rng = np.random.RandomState(1)
    weights = draw_weights(rng, n_in, n_rec, n_out)
    spikes = draw_input_spikes(rng, n_in, steps, 0.2)

    state = np.random.get_state()
    try:
        np.random.seed(1)
        w_in = np.float32(np.random.randn(n_in, n_rec).T / np.sqrt(n_in))
        w_rec = np.float32(np.random.randn(n_rec, n_rec).T / np.sqrt(n_rec))
        w_out = np.float32(np.random.randn(n_rec, n_out).T / np.sqrt(n_rec))
        w_fb = np.float32(np.random.randn(n_rec, n_out) / np.sqrt(n_rec))
        raster = np.random.rand(steps, n_in).T < 0.2
    finally:
        np.random.set_state(state)
    np.fill_diagonal(w_rec, 0.0)
    raster[:, 0] = False
    assert np.array_equal(weights["in_rec"], w_in) and weights["in_rec"].shape == (n_rec, n_in)
    assert np.array_equal(weights["rec_rec"], w_rec) and np.all(np.diag(weights["rec_rec"]) == 0)
    assert np.array_equal(weights["rec_out"], w_out) and weights["rec_out"].shape == (n_out, n_rec)
    assert np.array_equal(weights["out_rec"], w_fb) and weights["out_rec"].shape == (n_rec, n_out)
    assert weights["in_rec"].dtype == np.float32
    assert np.array_equal(spikes, raster) and spikes.shape == (n_in, steps)


def test_handwriting_target_interpolates_the_normalized_trajectory():
    increments = np.array([[1.0, 0.0], [1.0, 2.0], [-4.0, 2.0], [2.0, -1.0]])
    target = handwriting_target(increments, steps_per_data_point=4)
    assert target.shape == (2, 16)
    # independent computation: positions, scaled by max |.|, centred
    positions = np.array([[1.0, 0.0], [2.0, 2.0], [-2.0, 4.0], [0.0, 3.0]])
    scaled = positions / np.abs(positions).max(axis=0)
    expected_at_samples = (scaled - scaled.mean(axis=0)).T
    assert np.allclose(target[:, ::4], expected_at_samples, rtol=0, atol=1e-15)
    # halfway between samples 0 and 1 is their average; after the last sample it stays flat
    assert np.allclose(target[:, 2], expected_at_samples[:, :2].mean(axis=1), atol=1e-15)
    assert np.allclose(target[:, 13:], expected_at_samples[:, [3]], atol=1e-15)


def test_handwriting_target_of_the_real_data(handwriting_file):
    data = np.loadtxt(handwriting_file)
    target = handwriting_target(data, 8)
    assert data.shape == (228, 2)
    assert target.shape == (2, 1824)
    assert np.abs(target).max() <= 2.0
    positions = np.cumsum(data, axis=0)
    for k in range(2):
        y = positions[:, k] / np.abs(positions[:, k]).max()
        assert np.allclose(target[k, ::8], y - y.mean(), atol=1e-14)


def test_infinite_loop_target_is_a_figure_eight():
    n = 1001
    target = infinite_loop_target(n)
    t = np.arange(n) / (n - 1)
    assert np.allclose(target[0], np.sin(2 * np.pi * t), atol=1e-12)
    assert np.allclose(target[1], np.sin(4 * np.pi * t), atol=1e-12)
    assert target[0, 250] == pytest.approx(1.0) and target[1, 125] == pytest.approx(1.0)


def test_timing_of_the_seed():
    t = Timing(
        dt=1.0,
        sequence=1824,
        batch_size=1,
        n_iter=5,
        offset_gen=1,
        delay_in_rec=1,
        delay_rec_out=1,
        delay_out_norm=1,
        extension_sim=1,
    )
    assert (t.delays, t.total_offset, t.task, t.sim) == (3, 4, 9120, 9125)
    ends = t.chunk_ends(lag=1)
    assert ends == [1829, 3653, 5477, 7301, 9125]
    assert ends[-1] == t.sim
    batch = Timing(
        dt=0.5,
        sequence=100,
        batch_size=4,
        n_iter=2,
        offset_gen=1,
        delay_in_rec=1,
        delay_rec_out=1,
        delay_out_norm=1,
        extension_sim=1,
    )
    assert (batch.iteration, batch.task, batch.ms(batch.sim)) == (400, 800, 402.5)

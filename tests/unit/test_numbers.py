"""Fast tier for issue 9's wrong numbers: derived values that follow kernel.resolution, the
refused readout/task combinations, model=eprop's (1 - kappa) scalings, the divergence test
of the training loop, and where the final-update spike falls. No NEST.
"""

from __future__ import annotations

import numpy as np
import pytest

from eprop.config.timing import Timing
from eprop.config.validation import validate
from eprop.errors import Diverged, UserError
from eprop.training.divergence import divergence
from tests.conftest import run_eprop_in_process

EVENT_PRESETS = [
    "nest_eprop_iaf_adam",
    "nest_eprop_iaf_adapt_gradient_descent",
    "nest_eprop_iaf_psc_delta_gradient_descent",
    "nest_eprop_iaf_psc_delta_adapt_gradient_descent",
]


@pytest.mark.parametrize("preset", EVENT_PRESETS)
@pytest.mark.parametrize("resolution", [1.0, 0.5, 0.25])
def test_event_based_presets_derive_c_reg_per_ms_of_the_sequence(compose, preset, resolution):
    """NEST's test: c_reg = 300 / sequence duration in ms (psc_delta: 2 / duration / (1 - kappa)^2);
    eta = 1e-4 (1 - kappa)^2 and the weight scalings do not depend on the step."""
    cfg = compose(f"experiment={preset}", f"kernel.resolution={resolution}")
    validate(cfg)
    duration_ms = 100 * resolution
    kappa = 0.97
    if "psc_delta" in preset:
        assert cfg.neuron.rec.c_reg == pytest.approx(2.0 / duration_ms / (1.0 - kappa) ** 2, rel=1e-14)
    else:
        assert cfg.neuron.rec.c_reg == pytest.approx(300.0 / duration_ms, rel=1e-14)
    assert cfg.optimizer.eta == pytest.approx(1e-4 * (1.0 - kappa) ** 2, rel=1e-14)
    assert cfg.recording.interval == resolution


def test_bsshslm_sine_waves_preset_has_no_resolution_dependent_constant(compose):
    """NEST's bsshslm_2020 test keeps c_reg = 300 at any step (no division by a duration)."""
    for resolution in (1.0, 0.5):
        cfg = compose("experiment=nest_bsshslm_2020_sine_waves", f"kernel.resolution={resolution}")
        assert (cfg.neuron.rec.c_reg, cfg.optimizer.eta, cfg.recording.interval) == (300.0, 1e-4, resolution)


LOSS_ERRORS = [
    (
        ("neuron.readout.loss=cross_entropy",),
        "neuron.readout.loss=cross_entropy: classification loss; the regression task handwriting needs mean_squared_error",
    ),
    (
        ("task=infinite_loop", "neuron.readout.loss=cross_entropy"),
        "neuron.readout.loss=cross_entropy: classification loss; the regression task infinite_loop needs mean_squared_error",
    ),
    (
        ("task=sine_waves", "neuron=lif", "neuron.readout.loss=cross_entropy"),
        "neuron.readout.loss=cross_entropy: classification loss; the regression task sine_waves needs mean_squared_error",
    ),
    (
        ("neuron.readout.loss=hinge",),
        "neuron.readout.loss=hinge: must be one of mean_squared_error, cross_entropy (or null for eprop_readout)",
    ),
    (
        ("model=eprop", "neuron.readout.loss=mean_squared_error"),
        "neuron.readout.loss=mean_squared_error: eprop_readout has no loss parameter (it always uses the mean squared "
        "error); leave it null with model=eprop",
    ),
    (
        ("model=eprop", "neuron.readout.loss=cross_entropy"),
        "neuron.readout.loss=cross_entropy: eprop_readout has no loss parameter (it always uses the mean squared "
        "error); leave it null with model=eprop",
    ),
    (
        ("recording.saturated_rate=0",),
        "recording.saturated_rate=0.0: must be a fraction in (0, 1] of the maximal rate 1000 / max(kernel.resolution, t_ref) spikes/s",
    ),
    (
        ("recording.saturated_rate=1.5",),
        "recording.saturated_rate=1.5: must be a fraction in (0, 1] of the maximal rate 1000 / max(kernel.resolution, t_ref) spikes/s",
    ),
]


@pytest.mark.parametrize("overrides,message", LOSS_ERRORS)
def test_combinations_that_cannot_learn_are_refused(compose, overrides, message):
    with pytest.raises(UserError) as info:
        validate(compose(*overrides))
    assert str(info.value) == message


def test_cross_entropy_on_a_regression_task_is_one_line_with_exit_2(tmp_path):
    proc = run_eprop_in_process(
        "run", "neuron.readout.loss=cross_entropy", f"hydra.run.dir={tmp_path / 'run'}", check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "eprop: error: neuron.readout.loss=cross_entropy: classification loss; the regression task handwriting needs mean_squared_error"
    ]
    assert not (tmp_path / "run" / "results.h5").exists()


@pytest.mark.parametrize(
    "neuron,scales,divisors",
    [
        ("eprop_iaf_adapt", {"in_rec": 0.03, "rec_rec": 0.03, "rec_out": 0.03, "out_rec": 0.03}, {"out_rec": 1.0}),
        ("eprop_iaf", {"in_rec": 0.03, "rec_rec": 0.03, "rec_out": 0.03, "out_rec": 0.03}, {"out_rec": 1.0}),
        ("eprop_iaf_psc_delta", {"in_rec": 1.0, "rec_rec": 1.0, "rec_out": 0.03, "out_rec": 1.0}, {"out_rec": 0.03}),
        (
            "eprop_iaf_psc_delta_adapt",
            {"in_rec": 1.0, "rec_rec": 1.0, "rec_out": 0.03, "out_rec": 1.0},
            {"out_rec": 0.03},
        ),
    ],
)
@pytest.mark.slow
def test_model_eprop_brings_nests_kappa_scalings(compose, neuron, scales, divisors):
    """NEST's event-based scripts: the default eta x (1 - kappa)^2; LIF models scale all four projections by
    (1 - kappa), psc_delta models scale rec_out and divide out_rec by it (kappa = 0.97)."""
    for optimizer, base_eta in (("adam", 5e-3), ("gradient_descent", 1e-4)):
        cfg = compose("model=eprop", f"neuron={neuron}", f"optimizer={optimizer}")
        validate(cfg)
        assert cfg.optimizer.eta == pytest.approx(base_eta * 0.03**2, rel=1e-12)
        assert compose(f"optimizer={optimizer}").optimizer.eta == base_eta  # bsshslm_2020: the seed's values, exactly
        for projection, scale in scales.items():
            assert cfg.weights[projection].scale == pytest.approx(scale, rel=1e-12), projection
        assert cfg.weights.out_rec.divide_by == pytest.approx(divisors["out_rec"], rel=1e-12)
    assert compose("model=eprop", "optimizer.eta=1e-3").optimizer.eta == 1e-3  # what a user types reaches NEST


@pytest.mark.slow
def test_model_eprop_scalings_equal_the_nest_presets(compose):
    """The presets and model=eprop apply the same factor objects: identical floats, so the presets stay exact."""
    for preset in EVENT_PRESETS:
        cfg = compose(f"experiment={preset}")
        plain = compose("model=eprop", f"neuron={cfg.neuron.rec.model}")
        for projection in ("in_rec", "rec_rec", "rec_out", "out_rec"):
            assert cfg.weights[projection] == plain.weights[projection], (preset, projection)


class _Cfg:
    """The few config fields `divergence` reads."""

    def __init__(self, resolution=1.0, t_ref=0.0, saturated_rate=0.5, spikes_recurrent=True):
        from omegaconf import OmegaConf

        self.c = OmegaConf.create(
            {
                "kernel": {"resolution": resolution},
                "neuron": {"rec": {"t_ref": t_ref}},
                "recording": {"saturated_rate": saturated_rate, "spikes_recurrent": spikes_recurrent},
            }
        )


TIMING = Timing(
    dt=1.0,
    sequence=200,
    batch_size=1,
    n_iter=3,
    offset_gen=1,
    delay_in_rec=1,
    delay_rec_out=1,
    delay_out_norm=1,
    extension_sim=1,
)


def spikes_of(counts: list[int], ids: np.ndarray) -> dict[str, np.ndarray]:
    senders = np.concatenate([np.full(c, i) for c, i in zip(counts, ids)])
    return {"senders": senders, "times": np.arange(senders.size, dtype=float)}


def test_divergence_names_a_loss_that_is_not_finite():
    ids = np.array([10, 11])
    cfg = _Cfg().c
    assert divergence(cfg, np.array([1.0, np.nan]), None, ids, TIMING) == "loss is nan"
    assert divergence(cfg, np.array([np.inf, 2.0]), None, ids, TIMING) == "loss is inf"
    assert divergence(cfg, np.array([1.0, 2.0]), None, ids, TIMING) is None


def test_divergence_names_a_saturated_mean_recurrent_rate():
    ids = np.array([10, 11])
    cfg = _Cfg().c  # limit 0.5 x 1000 spikes/s; an iteration is 200 ms
    # 2 neurons x 200 ms at 500 spikes/s = 200 spikes: at the limit, not above it
    assert divergence(cfg, np.array([1.0]), spikes_of([150, 50], ids), ids, TIMING) is None
    message = divergence(cfg, np.array([1.0]), spikes_of([200, 2], ids), ids, TIMING)
    assert (
        message
        == "mean recurrent rate 505 spikes/s exceeds recording.saturated_rate=0.5 x 1000 spikes/s (the maximal rate)"
    )
    # input spikes in the same recorder do not count
    assert divergence(cfg, np.array([1.0]), spikes_of([200, 2, 900], np.array([10, 11, 3])), ids, TIMING) == message
    # t_ref = 5 ms bounds the rate at 200 spikes/s: 202 spikes in 2 x 200 ms (505 spikes/s) is over 0.5 x 200
    assert divergence(_Cfg(t_ref=5.0).c, np.array([1.0]), spikes_of([101, 101], ids), ids, TIMING) == (
        "mean recurrent rate 505 spikes/s exceeds recording.saturated_rate=0.5 x 200 spikes/s (the maximal rate)"
    )
    # without recorded recurrent spikes, only the loss is checked
    assert divergence(_Cfg(spikes_recurrent=False).c, np.array([1.0]), spikes_of([200, 200], ids), ids, TIMING) is None


def test_diverged_is_a_user_error_with_exit_code_3():
    err = Diverged("diverged at iteration 2 of 5: loss is nan")
    assert isinstance(err, UserError) and err.exit_code == 3


def test_final_update_spike_arrives_at_the_last_step_of_the_task():
    """Generator at task + delays, one step of delay: the last recorded step of the task window,
    which the spike recorder therefore stops one step before."""
    assert TIMING.final_update == 3 * 200 + 3
    assert TIMING.final_update_arrival == TIMING.total_offset + TIMING.task == 604

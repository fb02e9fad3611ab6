"""Fast tier: sparse connectivity (`weights.<projection>.sparsity`, eprop/training/weights.py).

The masks' draw order against a hand-written numpy replica of NEST's N-MNIST example, the
default that draws nothing, the results file's connection lists, `weights.load` between sparse
and dense runs, the refusals and the weight-matrix figure. No NEST (tests/support/fake_simulator.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from eprop.analysis.figures import weight_matrices_figure
from eprop.config.validation import validate
from eprop.errors import UserError
from eprop.results import open_results
from eprop.training.loop import prepare_inputs, train
from eprop.training.weights import apply_masks, draw_masks, draw_weights, load_connections
from tests.support.fake_simulator import FakeSimulator

SEQUENCE = 20  # steps of 1 ms
N_IN, N_REC, N_OUT = 12, 8, 1
SMALL = (
    "task=sine_waves",
    f"task.sequence_steps={SEQUENCE}",
    "task.sine_periods=[10]",
    f"task.n_in={N_IN}",
    f"neuron.rec.n={N_REC}",
    "recording=minimal",
    "progress=false",
)
SPARSE = ("weights.in_rec.sparsity=0.75", "weights.rec_rec.sparsity=0.5")


@pytest.fixture
def small(compose):
    def make(*overrides: str):
        return compose(*SMALL, *overrides)

    return make


def example_replica(seed: int, n_in: int, n_rec: int, n_out: int, levels=(0.75, 0.99, 0.0)):
    """NEST's N-MNIST example's calls, written out with a RandomState in place of np.random:
    the four weight draws, then the three masks multiplied into the weights. Returns the masked
    weights and the generator, ready for the next draw."""
    rng = np.random.RandomState(seed)
    w_in_rec = rng.randn(n_in, n_rec).T / np.sqrt(n_in)
    w_rec_rec = rng.randn(n_rec, n_rec).T / np.sqrt(n_rec)
    np.fill_diagonal(w_rec_rec, 0.0)
    limit = np.sqrt(3.0 * (1.0 / max(1.0, (n_rec + n_out) / 2.0)))
    w_rec_out = rng.uniform(low=-limit, high=limit, size=(n_rec, n_out)).T
    w_out_rec = rng.randn(n_rec, n_out)
    masked = []
    for w, level in zip((w_in_rec, w_rec_rec, w_rec_out), levels):
        masked.append(w * rng.choice([0, 1], w.shape, p=[level, 1 - level]))
    return dict(zip(("in_rec", "rec_rec", "rec_out"), masked), out_rec=w_out_rec), rng


def test_masks_are_drawn_in_the_order_of_nest_s_nmnist_example():
    n_in, n_rec, n_out = 40, 30, 10
    theirs, their_rng = example_replica(7, n_in, n_rec, n_out)
    rng = np.random.RandomState(7)
    inits = {"in_rec": "normal_fan_in", "rec_rec": "normal_fan_in", "rec_out": "glorot_uniform", "out_rec": "normal"}
    drawn = draw_weights(rng, n_in, n_rec, n_out, "float64", inits)
    masks = draw_masks(rng, drawn, {"in_rec": 0.75, "rec_rec": 0.99, "rec_out": 0.0, "out_rec": None})
    ours = apply_masks(drawn, masks)
    for name in ("in_rec", "rec_rec", "rec_out", "out_rec"):
        assert np.array_equal(ours[name], theirs[name]), name
    for name in ("in_rec", "rec_rec", "rec_out"):  # the example connects the non-zero entries
        assert np.array_equal(np.argwhere(masks[name]), np.argwhere(theirs[name])), name
    assert masks["out_rec"] is None
    assert masks["rec_out"].all()  # sparsity 0: every pair kept, but the mask was drawn
    assert 0 < masks["rec_rec"].sum() < 0.05 * n_rec * n_rec and not np.diag(masks["rec_rec"]).any()
    assert rng.randint(2**31) == their_rng.randint(2**31)  # the next draw (the example's loaders) agrees


def test_no_sparsity_draws_nothing_and_changes_no_number(small):
    cfg = small()
    assert [cfg.weights[name].sparsity for name in ("in_rec", "rec_rec", "rec_out", "out_rec")] == [None] * 4
    inputs = prepare_inputs(cfg)
    rng = np.random.RandomState(cfg.seed)
    weights = draw_weights(rng, N_IN, N_REC, N_OUT)
    raster = (rng.rand(SEQUENCE, N_IN) < cfg.task.input_spike_prob).swapaxes(0, 1)
    raster[:, 0] = False
    assert inputs.masks == {name: None for name in weights}
    for name, w in weights.items():
        assert np.array_equal(inputs.weights[name], w)
    assert np.array_equal(inputs.task.raster, raster)  # the task's draws follow draws 1-4 directly


def test_masks_come_between_the_weights_and_the_task_s_draws(small):
    inputs = prepare_inputs(small(*SPARSE, "weights.rec_out.sparsity=0"))
    rng = np.random.RandomState(1)
    weights = draw_weights(rng, N_IN, N_REC, N_OUT)
    masks = {
        name: rng.choice([0, 1], weights[name].shape, p=[level, 1 - level]).astype(bool)
        for name, level in (("in_rec", 0.75), ("rec_rec", 0.5), ("rec_out", 0.0))
    }
    np.fill_diagonal(masks["rec_rec"], False)
    raster = (rng.rand(SEQUENCE, N_IN) < 0.05).swapaxes(0, 1)
    raster[:, 0] = False
    for name, mask in masks.items():
        assert np.array_equal(inputs.masks[name], mask), name
        assert np.array_equal(inputs.weights[name], np.where(mask, weights[name], np.float32(0))), name
        assert inputs.weights[name].dtype == np.float32
    assert inputs.masks["out_rec"] is None
    assert np.array_equal(inputs.task.raster, raster)


def sparse_run(small, tmp_path, *overrides: str):
    cfg = small("task.n_iter=2", *overrides)
    train(cfg, tmp_path, sim=FakeSimulator())
    return cfg, tmp_path / "results.h5"


def test_a_sparse_run_lists_only_its_connections_in_the_results_file(small, tmp_path):
    cfg, path = sparse_run(small, tmp_path, *SPARSE)
    inputs = prepare_inputs(cfg)
    with open_results(path) as res:
        for name in ("in_rec", "rec_rec", "rec_out", "out_rec"):
            mask = inputs.masks[name]
            expected = np.ones(inputs.weights[name].shape, dtype=bool) if mask is None else mask
            if name == "rec_rec":
                expected = expected & ~np.eye(N_REC, dtype=bool)
            for stage in ("initial", "final"):
                assert np.array_equal(res.connected(stage, name), expected), (name, stage)
                assert len(res.weights(stage, name)["weight"]) == expected.sum()
            initial = res.weight_matrix("initial", name, missing=np.nan)
            assert np.array_equal(initial[expected], inputs.weights[name][expected].astype(np.float64))
            assert np.isnan(initial[~expected]).all()
            change = res.weight_matrix("final", name) - res.weight_matrix("initial", name)
            assert np.all(change[expected] == (2.0 if name != "out_rec" else 0.0))  # the fake's +1 pA per iteration
            assert np.all(change[~expected] == 0.0)
        assert res.connected("initial", "in_rec").sum() < 0.5 * N_IN * N_REC


@pytest.mark.slow
def test_weights_load_of_a_sparse_run(small, tmp_path):
    cfg, path = sparse_run(small, tmp_path / "a", *SPARSE)
    weights, present = load_connections(path)
    same = prepare_inputs(small(*SPARSE, f"weights.load={path}"))  # the masks drawn again equal the file's
    dense = prepare_inputs(small(f"weights.load={path}"))  # sparsity null: the loaded run's connections
    for inputs in (same, dense):
        for name in ("in_rec", "rec_rec"):
            assert np.array_equal(inputs.masks[name], present[name])
            assert np.array_equal(inputs.weights[name], weights[name])
        assert inputs.masks["rec_out"] is None and inputs.masks["out_rec"] is None  # all to all in the file
    other = ("weights.in_rec.sparsity=0.75", "weights.rec_rec.sparsity=0.6")
    with pytest.raises(UserError) as info:
        prepare_inputs(small(*other, f"weights.load={path}"))
    n_file, n_drawn = int(present["rec_rec"].sum()), int(draw_masks_of(small(*other))["rec_rec"].sum())
    assert n_file != n_drawn
    assert str(info.value) == (
        f"weights.load={path}: its rec_rec has {n_file} connections, not the {n_drawn} that "
        f"weights.rec_rec.sparsity=0.6 drew here; set weights.rec_rec.sparsity=null to take the "
        f"loaded run's connections"
    )


def draw_masks_of(cfg):
    return prepare_inputs(cfg).masks


def test_a_dense_run_loaded_into_a_sparse_config_is_refused(small, tmp_path):
    _, path = sparse_run(small, tmp_path / "a")
    with pytest.raises(UserError) as info:
        prepare_inputs(small("weights.in_rec.sparsity=0.75", f"weights.load={path}"))
    n_drawn = int(draw_masks_of(small("weights.in_rec.sparsity=0.75"))["in_rec"].sum())
    assert str(info.value) == (
        f"weights.load={path}: its in_rec has {N_IN * N_REC} connections, not the {n_drawn} that "
        f"weights.in_rec.sparsity=0.75 drew here; set weights.in_rec.sparsity=null to take the "
        f"loaded run's connections"
    )
    loaded = prepare_inputs(
        small("weights.rec_out.sparsity=0", f"weights.load={path}")
    )  # a full mask matches a dense file
    assert loaded.masks["rec_out"].all() and loaded.masks["in_rec"] is None


@pytest.mark.parametrize("value", ["1.0", "-0.1", "1.5"])
def test_sparsity_outside_0_1_is_refused(small, value):
    with pytest.raises(UserError) as info:
        validate(small(f"weights.rec_rec.sparsity={value}"))
    assert str(info.value) == f"weights.rec_rec.sparsity={float(value)}: must be in [0, 1)"


def test_a_readout_without_input_is_refused(small):
    cfg = small("weights.rec_out.sparsity=0.99")
    rng = np.random.RandomState(1)
    weights = draw_weights(rng, N_IN, N_REC, N_OUT)
    empty = np.flatnonzero(~draw_masks(rng, weights, {"rec_out": 0.99})["rec_out"].any(axis=1))
    assert empty.size  # seed 1 draws no connection onto the readout
    with pytest.raises(UserError) as info:
        prepare_inputs(cfg)
    assert str(info.value) == (
        f"weights.rec_out.sparsity=0.99: the mask leaves readout neuron {empty[0]} (of 1, counted "
        f"from 0) without recurrent input, so it cannot learn; lower the sparsity or change the seed"
    )


def test_a_mask_without_any_input_connection_is_refused(small):
    cfg = small("task.n_in=1", "neuron.rec.n=1", "weights.in_rec.sparsity=0.99")
    with pytest.raises(UserError) as info:
        prepare_inputs(cfg)
    assert str(info.value) == (
        "weights.in_rec.sparsity=0.99: the mask keeps none of the 1 input->recurrent connections; "
        "lower the sparsity or change the seed"
    )


def test_the_weight_matrices_figure_greys_the_missing_connections(small, tmp_path):
    cfg, path = sparse_run(small, tmp_path, *SPARSE)
    with open_results(path) as res:
        fig = weight_matrices_figure(res)
        present = {name: res.connected("initial", name) for name in ("in_rec", "rec_rec", "rec_out")}
        limit = max(
            np.abs(res.weights(stage, name)["weight"]).max() for stage in ("initial", "final") for name in present
        )
    images = [image for ax in fig.axes for image in ax.get_images()]
    drawn = present  # every matrix (postsynaptic, presynaptic), as the file's connections
    for image, name in zip(images, ("in_rec", "in_rec", "rec_rec", "rec_rec", "rec_out", "rec_out")):
        assert np.array_equal(~np.ma.getmaskarray(image.get_array()), drawn[name]), name
        assert image.get_clim() == pytest.approx((-limit, limit))  # from the existing connections only
        assert image.get_cmap().get_bad().tolist() == pytest.approx([200 / 255] * 3 + [1.0])
    (colorbar,) = [ax for ax in fig.axes if not ax.get_images()]
    assert colorbar.get_ylabel() == "weight (pA)\ngrey: no connection"

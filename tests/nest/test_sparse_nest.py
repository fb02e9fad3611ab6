"""NEST tier: sparse connectivity in real runs.

A short handwriting run with `weights.in_rec.sparsity=0.75 weights.rec_rec.sparsity=0.9`
against the seed-tutorial oracle (tests/oracle/seed_tutorial.py) given the same masks the way
NEST's N-MNIST example draws and connects them: the connection counts NEST reports, the losses,
the weights and the weight recorder's events must be equal (==). Then a resumed sparse run.
"""

from __future__ import annotations

import numpy as np
import pytest

from eprop.results import open_results
from tests.conftest import run_eprop, run_oracle

pytestmark = pytest.mark.nest

N_ITER = 3
SPARSE = ("weights.in_rec.sparsity=0.75", "weights.rec_rec.sparsity=0.9")


@pytest.fixture(scope="module")
def sparse_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("sparse") / "run"
    run_eprop("run", "task=handwriting", f"task.n_iter={N_ITER}", *SPARSE, f"hydra.run.dir={run_dir}", "progress=false")
    return run_dir


def expected_connections() -> dict[str, int]:
    """The masks of seed 1, drawn by hand after the four weight draws of the handwriting network."""
    n_in, n_rec, n_out = 100, 200, 2
    rng = np.random.RandomState(1)
    rng.randn(n_in, n_rec), rng.randn(n_rec, n_rec), rng.randn(n_rec, n_out), rng.randn(n_rec, n_out)
    in_rec = rng.choice([0, 1], (n_rec, n_in), p=[0.75, 0.25])
    rec_rec = rng.choice([0, 1], (n_rec, n_rec), p=[0.9, 0.1])
    np.fill_diagonal(rec_rec, 0)
    return {
        "in_rec": int(in_rec.sum()),
        "rec_rec": int(rec_rec.sum()),
        "rec_out": n_rec * n_out,
        "out_rec": n_rec * n_out,
    }


def test_a_sparse_run_equals_the_oracle_with_the_example_s_masks(sparse_run, tmp_path):
    oracle = np.load(run_oracle("handwriting", N_ITER, tmp_path / "oracle.npz", "tutorial", "sparsity=0.75,0.9,none"))
    counts = expected_connections()
    assert 4900 < counts["in_rec"] < 5100 and 3800 < counts["rec_rec"] < 4200
    with open_results(sparse_run) as res:
        # /weights/final is read back from NEST's GetConnections: the connections NEST holds
        assert {name: len(res.weights("final", name)["weight"]) for name in counts} == counts
        assert {name: len(res.weights("initial", name)["weight"]) for name in counts} == counts
        assert np.all(res.loss == oracle["loss"]), (res.loss, oracle["loss"])
        for stage in ("initial", "final"):
            for projection in ("in_rec", "rec_rec", "rec_out"):
                mine = res.weights(stage, projection)
                src, tgt, w = (oracle[f"{stage}/{projection}/{k}"] for k in ("source", "target", "weight"))
                order = np.lexsort((tgt, src))
                assert np.array_equal(mine["source"], src[order]) and np.array_equal(mine["target"], tgt[order])
                assert np.all(mine["weight"] == w[order]), f"{stage} {projection} weights differ"
        wr = res.events("weight_recorder")
        ref = {k: oracle[f"wr/{k}"] for k in ("senders", "targets", "times", "weights")}
        order = np.lexsort((ref["targets"], ref["senders"], ref["times"]))
        assert wr["times"].size > 0
        for key in ref:
            assert np.array_equal(wr[key], ref[key][order]), f"weight recorder {key}"


def test_a_sparse_run_resumes_with_its_connections(sparse_run, tmp_path):
    child = tmp_path / "child"
    run_eprop("run", f"resume={sparse_run}", f"task.n_iter={N_ITER + 1}", f"hydra.run.dir={child}", "progress=false")
    with open_results(sparse_run) as parent, open_results(child / "results.h5") as res:
        assert res.n_iter_done == 1
        for name in ("in_rec", "rec_rec", "rec_out", "out_rec"):
            before, after = parent.weights("final", name), res.weights("initial", name)
            for key in ("source", "target", "weight"):
                assert np.array_equal(after[key], before[key]), (name, key)
            assert np.array_equal(res.weights("final", name)["source"], before["source"])

"""NEST tier: the N-MNIST oracle (tests/oracle/nmnist.py) on a tiny synthetic data set.

The oracle is the reference that `task=nmnist` will be compared with. Here it is checked
against NEST's own example script, as the nest-simulator 3.10 wheel installs it, run on the
same files with the sizes shrunk, and its connection counts against the example's draw order.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, eprop_env
from tests.support.nmnist_samples import write_synthetic_dataset
from tests.unit.test_nmnist_data import offline_blocklist

pytestmark = pytest.mark.nest

ORACLE = ROOT / "tests" / "oracle" / "nmnist.py"
SIZES = dict(group_size=2, n_iter_train=2, n_iter_test=1, n_rec=20)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    # 2 samples per digit and split (20 + 20), 3000 events each so that the recurrent neurons fire
    return write_synthetic_dataset(tmp_path_factory.mktemp("nmnist") / "468j46mzdv-1", n_per_digit=2, n_events=3000)


def run_oracle(dataset: Path, out: Path, *extra: str, **sizes) -> dict:
    args = [f"--{key.replace('_', '-')}={value}" for key, value in {**SIZES, **sizes}.items()]
    proc = subprocess.run(
        [
            sys.executable,
            str(ORACLE),
            "--data-dir",
            str(dataset),
            "--blocklist",
            str(offline_blocklist()),
            "--out",
            str(out),
            *args,
            *extra,
        ],
        env=eprop_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as results:
        return {key: results[key] for key in results.files}


def test_oracle_trains_and_reports_one_finite_loss_per_iteration(dataset, tmp_path):
    res = run_oracle(dataset, tmp_path / "a.npz", "--seed=1")
    assert res["loss"].shape == (3,) and np.all(np.isfinite(res["loss"]))
    assert res["label"].tolist() == ["training", "training", "test"]
    assert res["iteration"].tolist() == [1, 2, 3]
    assert set(res["error"].tolist()) <= {0.0, 0.5, 1.0}  # group_size 2
    assert np.all(res["loss"] != 0.5)  # 0.5 exactly would mean a silent readout: the inputs reached the network
    assert int(res["n_in"]) == 1196

    # connections: the masks drawn in the example's order from RandomState(seed)
    n_in, n_rec, n_out = 1196, 20, 10
    rng = np.random.RandomState(1)
    rng.randn(n_in, n_rec), rng.randn(n_rec, n_rec), rng.uniform(size=(n_rec, n_out)), rng.randn(n_rec, n_out)
    mask_in_rec = rng.choice([0, 1], (n_rec, n_in), p=[0.75, 0.25])
    mask_rec_rec = rng.choice([0, 1], (n_rec, n_rec), p=[0.99, 0.01])
    np.fill_diagonal(mask_rec_rec, 0)  # no autapses: the diagonal weights are zero
    assert res["n_connections"].tolist() == [mask_in_rec.sum(), mask_rec_rec.sum(), n_rec * n_out]

    again = run_oracle(dataset, tmp_path / "b.npz", "--seed=1")
    assert np.array_equal(again["loss"], res["loss"])
    other = run_oracle(dataset, tmp_path / "c.npz", "--seed=2")
    assert not np.array_equal(other["loss"], res["loss"])


def test_a_subset_walks_fewer_samples(dataset, tmp_path):
    res = run_oracle(dataset, tmp_path / "a.npz", "--n-train=2", "--n-test=2", n_iter_train=3)
    assert res["loss"].shape == (4,) and np.all(np.isfinite(res["loss"]))


NEST_EXAMPLE = (
    Path(np.__file__).parents[1]
    / "nest"
    / "doc"
    / "examples"
    / "pynest"
    / "eprop_plasticity"
    / "eprop_supervised_classification_neuromorphic_mnist.py"
)


def shrunk_example(tmp_path: Path, dataset: Path, out: Path, **changes: str) -> Path:
    """NEST's installed example with its sizes shrunk, reading `dataset`, saving its results_dict to `out`."""
    text = NEST_EXAMPLE.read_text()
    edits = {
        'np.loadtxt(Path(__file__).resolve().parent / "NMNIST_pixels_blocklist.txt")': f'np.loadtxt("{offline_blocklist()}")',
        "from IPython.display import Image": "Image = None",
        'save_path = "./"': f'save_path = "{dataset.parent}/"',
        "n_iter_sim = training_pipeline.n_iter_sim": f'n_iter_sim = 0\nnp.savez("{out}", **results_dict)\nraise SystemExit(0)',
        **changes,
    }
    for old, new in edits.items():
        assert text.count(old) == 1, f"NEST's example changed: {old!r}"
        text = text.replace(old, new)
    script = tmp_path / "example.py"
    script.write_text(text)
    return script


@pytest.mark.parametrize("early_stopping", [False, True], ids=["train-test", "early-stopping-2-vps"])
def test_oracle_equals_nests_own_example_on_the_same_files(dataset, tmp_path, early_stopping):
    if not NEST_EXAMPLE.is_file():
        pytest.skip(f"NEST's example is not installed at {NEST_EXAMPLE}")
    changes = {
        "group_size = 100 ": "group_size = 2 ",
        "n_iter_test = 2 ": "n_iter_test = 1 ",
        "n_rec = 150 ": "n_rec = 20 ",
    }
    if early_stopping:
        changes.update(
            {
                "n_iter_train = 10 ": "n_iter_train = 5 ",
                '"total_num_virtual_procs": 4,': '"total_num_virtual_procs": 2,',
                "do_early_stopping = False": "do_early_stopping = True",
                "n_iter_validate_every = 10 ": "n_iter_validate_every = 2 ",
                "n_iter_early_stop = 8 ": "n_iter_early_stop = 2 ",
                "stop_crit = 0.07 ": "stop_crit = 0.8 ",
            }
        )
        extra = ["--early-stopping", "--n-iter-validate-every=2", "--n-iter-early-stop=2", "--stop-crit=0.8", "--vps=2"]
        sizes = dict(n_iter_train=5)
    else:
        changes.update(
            {
                "n_iter_train = 10 ": "n_iter_train = 2 ",
                '"total_num_virtual_procs": 4,': '"total_num_virtual_procs": 1,',
            }
        )
        extra, sizes = ["--vps=1"], {}
    out = tmp_path / "example.npz"
    script = shrunk_example(tmp_path, dataset, out, **changes)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=eprop_env(), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as example:
        expected = {key: example[key] for key in ("loss", "error", "iteration", "label")}
    res = run_oracle(dataset, tmp_path / "oracle.npz", *extra, **sizes)
    if early_stopping:
        assert "early-stopping" in expected["label"].tolist() and "validation" in expected["label"].tolist()
    for key, value in expected.items():
        assert np.array_equal(res[key], value), key

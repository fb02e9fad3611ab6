"""NEST tier: `eprop run task=nmnist` equals the N-MNIST oracle (tests/oracle/nmnist.py, NEST's
example as a script) on the same small N-MNIST-format data set, with validation, early stopping
and a test phase, at 1 and 2 virtual processes: the same losses, errors, phases and connections."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from eprop.config.phases import PHASE_NAMES
from eprop.data.nmnist import TIME_MAX_US
from tests.conftest import run_eprop
from tests.nest.test_nmnist_oracle import run_oracle
from tests.support.nmnist_samples import write_synthetic_dataset

pytestmark = pytest.mark.nest

# group_size 3, at most 4 training iterations, a validation every 2, 2 early-stopping iterations with a
# criterion of 1.0 (any right answer passes it), 2 test iterations; 15 of the 30 training samples
SIZES = dict(
    group_size=3,
    n_iter_train=4,
    n_iter_test=2,
    n_rec=20,
    n_train=15,
    n_iter_validate_every=2,
    n_iter_early_stop=2,
    stop_crit=1.0,
)
EPROP = [
    "experiment=nmnist_small",
    "task.group_size=3",
    "task.n_iter=4",
    "neuron.rec.n=20",
    "task.n_train=15",
    "task.n_test=null",
    "phases.validate_every=2",
    "phases.n_early_stop=2",
    "phases.stop_error=1.0",
    "phases.n_test=2",
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    # 3 samples per digit and split, 1500 events each (N-MNIST's have about 4000); every sample also has an
    # event at the end of the recording, which rounds onto the sample's last step + 1
    root = write_synthetic_dataset(tmp_path_factory.mktemp("nmnist") / "data", n_per_digit=3, n_events=1500)
    for path in sorted(root.glob("*/*/*.bin")):
        with open(path, "ab") as f:
            f.write(bytes([12, 14, 0x80 | (TIME_MAX_US >> 16), (TIME_MAX_US >> 8) & 0xFF, TIME_MAX_US & 0xFF]))
    return root


@pytest.mark.parametrize("vps", [1, 2])
def test_eprop_equals_the_examples_script_with_phases(dataset, tmp_path, vps):
    oracle = run_oracle(dataset, tmp_path / "oracle.npz", "--early-stopping", f"--vps={vps}", **SIZES)
    run_eprop(
        "run",
        *EPROP,
        f"task.data_dir={dataset}",
        f"kernel.threads={vps}",
        f"kernel.total_num_virtual_procs={vps}",
        f"hydra.run.dir={tmp_path / 'run'}",
        "progress=false",
    )
    with h5py.File(tmp_path / "run" / "results.h5") as f:
        loss, error, phase = f["loss"][:], 1.0 - f["accuracy"][:], f["phase"][:]
        connections = [f["weights/initial"][p]["weight"].size for p in ("in_rec", "rec_rec", "rec_out")]
        assert f.attrs["total_num_virtual_procs"] == vps
    names = [PHASE_NAMES[p].replace("_", "-") for p in phase]
    assert names == oracle["label"].tolist()
    assert {"validation", "early-stopping", "training", "test"} <= set(names)  # every phase ran
    np.testing.assert_allclose(loss, oracle["loss"], rtol=1e-12, atol=0)
    assert error.tolist() == oracle["error"].tolist()
    assert connections == oracle["n_connections"].tolist()

"""Fast tier: the N-MNIST benchmark's synthetic data and its arithmetic, against a fake `eprop run`
(the real task=nmnist runs in the benchmark itself, docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from eprop.data.nmnist import TIME_MAX_US, list_samples, read_events

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str):
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


synthetic = load("synthetic_nmnist")

FAKE_EPROP = """
import json, sys
from pathlib import Path
import h5py
sys.path.insert(0, {root!r})
from tests.support import synthetic_results as syn
args = dict(a.split("=", 1) for a in sys.argv[2:] if "=" in a)
run = Path(args["hydra.run.dir"])
n, threads = int(args["task.n_iter"]), int(args["kernel.threads"])
path = syn.write_nmnist_run(run / "results.h5", n_iter=n)
with h5py.File(path, "r+") as f:
    f.attrs.update({{"timing_build_s": 3.0, "timing_simulate_s": 10.0 * n / threads, "timing_write_s": 0.25 * n,
                    "timing_total_s": 0.0}})
(run / "argv.json").write_text(json.dumps(sys.argv[1:]))
"""


def test_synthetic_samples_have_n_mnist_statistics(tmp_path):
    root = synthetic.write_dataset(tmp_path / "data", per_digit=5, n_events=4000, per_digit_test=1)
    paths, labels = list_samples(root, "Train")
    assert len(paths) == 50 and labels.tolist() == [d for d in range(10) for _ in range(5)]
    assert len(list_samples(root, "Test")[0]) == 10
    events = [read_events(p) for p in paths]
    counts = np.array([len(e.x) for e in events])
    assert abs(counts.mean() - 4000) < 0.1 * 4000 and counts.min() > 2000 and counts.max() < 6000
    t_ms = np.concatenate([e.t_us for e in events]) / 1000.0
    assert t_ms.max() < TIME_MAX_US / 1000.0 and all(np.all(np.diff(e.t_us) >= 0) for e in events)
    # three saccades: a third of the events each; the gaps between them (100-105, 205-210 ms) hold only noise
    thirds = [np.mean((t_ms >= s) & (t_ms <= s + 100.0)) for s in (0.0, 105.0, 210.0)]
    assert all(0.3 < f < 0.36 for f in thirds)
    assert np.mean(((t_ms > 100.5) & (t_ms < 104.5)) | ((t_ms > 205.5) & (t_ms < 209.5))) < 0.002
    # the strokes lie in the middle of the sensor, as real digits do; polarities balanced
    x = np.concatenate([e.x for e in events])
    assert np.mean((x >= 5) & (x <= 28)) > 0.97
    assert abs(np.mean(np.concatenate([e.polarity for e in events])) - 0.5) < 0.02


def test_synthetic_sample_round_trips_through_the_binary_format(tmp_path):
    rng = np.random.RandomState(3)
    x, y, polarity, t_us = synthetic.sample_events(7, rng, 500)
    from eprop.data.nmnist import write_events

    read = read_events(write_events(tmp_path / "s.bin", x, y, polarity, t_us))
    for written, decoded in zip((x, y, polarity, t_us), read):
        assert np.array_equal(written, decoded)


def test_bench_nmnist_measures_and_projects_from_the_results_files(tmp_path):
    bench = load("bench_nmnist")
    fake = tmp_path / "fake_eprop.py"
    fake.write_text(FAKE_EPROP.format(root=str(BENCHMARKS.parent)))
    out = bench.main(
        [
            "--per-digit",
            "1",
            "--events",
            "300",
            "--n-iter",
            "4",
            "--threads",
            "1",
            "2",
            "--keep",
            str(tmp_path / "work"),
            "--json",
            str(tmp_path / "b.json"),
            "--",
            "seed=3",
        ],
        eprop=[sys.executable, str(fake)],
    )
    one, two = out["threads"][1], out["threads"][2]
    assert one["seconds_per_iteration"] == 10.25 and two["seconds_per_iteration"] == 5.25  # (sim + write) / 4
    assert (one["build_s"], one["iterations"], one["training_iterations"]) == (3.0, 4, 3)  # phases 0 0 1 0
    # projection: start-up + build + 200 x s/iteration
    assert one["projected"]["wall_s"] - one["startup_s"] == pytest.approx(3.0 + 200 * 10.25)
    assert two["projected"]["file_mb"] == pytest.approx(2 * two["file_mb_per_iteration"])  # first and last only
    assert one["peak_rss_mb"] > 0 and out["synthetic"] and out["events"] == 300
    argv = json.loads((tmp_path / "work" / "t2_r0" / "argv.json").read_text())
    assert argv == [
        "run",
        "experiment=nmnist",
        f"task.data_dir={tmp_path / 'work' / 'data'}",
        "task.group_size=100",
        "task.n_iter=4",
        "task.n_train=null",
        "task.n_test=null",
        "phases.n_test=0",
        "kernel.threads=2",
        "kernel.total_num_virtual_procs=2",
        "progress=false",
        f"hydra.run.dir={tmp_path / 'work' / 't2_r0'}",
        "seed=3",
    ]
    saved = json.loads((tmp_path / "b.json").read_text())
    assert saved["threads"]["2"]["seconds_per_iteration"] == 5.25

"""Reading a results file while its run is still training (issue 9, item 9).

The writer holds the file in HDF5's single-writer/multiple-reader (SWMR) mode: a reader in
another process must always see a consistent prefix of finished iterations. A training run of
about 20 s (handwriting, tutorial recording) is read over and over by `eprop eval --json`,
`eprop plot` (each a process of its own) and, in between, by this process's reader.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from eprop.analysis.summary import summarize_run
from eprop.results import open_results
from tests.conftest import ROOT, eprop_env, run_eprop
from tests.unit.test_read_side import dataset_units

N_ITER = 50  # about 0.4 s per iteration with the tutorial recording: 20 s of training


@pytest.mark.nest
def test_eval_and_plot_of_a_training_run_always_succeed(tmp_path):
    run_dir = tmp_path / "run"
    results_file = run_dir / "results.h5"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "eprop.cli.main",
            "run",
            f"task.n_iter={N_ITER}",
            "recording=tutorial",
            "progress=false",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=ROOT,
        env=eprop_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[tuple[str, int]] = []  # (who read, n_iter_done) in the order of the reads
    statuses = set()
    try:
        deadline = time.monotonic() + 300
        while not results_file.exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        running = True
        while running:
            running = proc.poll() is None
            summary = json.loads(run_eprop("eval", str(run_dir), "--json").stdout)  # exit 0, or AssertionError
            seen.append(("eval", summary["n_iter_done"]))
            statuses.add(summary["status"])
            assert len(summary["loss"]) == summary["n_iter_done"]
            out = tmp_path / f"figures{len(seen)}"
            written = run_eprop("plot", str(run_dir), "--out", str(out)).stdout.split()
            if summary["n_iter_done"] > 0:
                assert str(out / "loss.png") in written
            for _ in range(20):  # and quick reads from this process in between
                with open_results(run_dir) as res:
                    s = summarize_run(res)
                    n = res.n_iter_done
                    assert len(res.loss) == n and res.loss_per_output.shape[1] == n
                    for recorder in res.recorders:
                        assert res.recorded_iterations(recorder).tolist() == list(range(n))
                        events = res.events(recorder)
                        assert all(len(v) == res.n_events(recorder) for v in events.values())
                    if n:
                        assert s["loss_recomputed_max_rel_diff"] < 1e-9  # the events agree with /loss
                seen.append(("in-process", n))
                time.sleep(0.02)
        code, _, err = proc.wait(timeout=60), *proc.communicate()
        assert code == 0, err[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    counts = [n for _, n in seen]
    assert counts == sorted(counts), seen  # never fewer iterations than an earlier read
    assert counts[-1] == N_ITER and "running" in statuses and "complete" in statuses
    assert any(0 < n < N_ITER for n in counts)  # some reads really came mid-run
    with open_results(run_dir) as res:
        assert res.status == "complete" and sorted(res.weight_stages) == ["final", "initial"]
        assert np.isfinite(res.loss).all() and len(res.loss) == N_ITER
    assert not (run_dir / "results.h5.finishing").exists()
    units = dataset_units(results_file)  # item 17 on a real run's file: every dataset says its units
    assert all(u and d for u, d in units.values()), units
    assert units["events/multimeter_rec/V_m"][0] == "mV" and units["events/multimeter_rec/learning_signal"][0] == "pA"
    assert units["events/spike_recorder/times"][0] == "ms" and units["weights/final/rec_rec/weight"][0] == "pA"
    assert units["optimizer/rec_rec/m"][0] == "a.u." and units["neurons/input"][0] == "node id"


@pytest.mark.nest
def test_eval_and_plot_of_a_run_directory_with_another_file_name(tmp_path):
    run_dir = tmp_path / "run"
    run_eprop(
        "run", "task.n_iter=2", "recording=minimal", "progress=false", "output.file=res.h5", f"hydra.run.dir={run_dir}"
    )
    summary = json.loads(run_eprop("eval", str(run_dir), "--json").stdout)
    assert (summary["path"], summary["status"], summary["n_iter_done"]) == (str(run_dir / "res.h5"), "complete", 2)
    assert run_eprop("plot", str(run_dir), "--only", "loss").stdout.split() == [str(run_dir / "figures" / "loss.png")]

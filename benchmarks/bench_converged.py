"""The converged handwriting run, measured from outside: `eprop run experiment=handwriting_converge`.

    python benchmarks/bench_converged.py RUN_DIR [--threads 1] [--poll 10] [OVERRIDE ...]

Starts the real command line in its own process and, every `--poll` seconds while it trains,
opens its results file (HDF5 SWMR, as any reader may) for the number of finished iterations
and reads the process's resident memory (VmRSS). At the end it prints, from those samples:

- the wall time and the process's peak RSS (os.wait4), the results file's size and final loss;
- seconds per iteration in windows of 500 iterations (interpolated between the samples), so
  that the growth with the network's activity shows;
- RSS at the start, in the middle and at the end of training.

The samples are written to RUN_DIR/../<name>_samples.csv (elapsed s, iterations done, RSS MB).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eprop.results import open_results, results_file_in  # noqa: E402


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except FileNotFoundError:
        pass
    return float("nan")


def iterations_done(run_dir: Path) -> int:
    """Finished iterations of the run in RUN_DIR, read as a live reader reads them; 0 before the file exists."""
    try:
        with open_results(run_dir) as res:
            return res.n_iter_done
    except Exception:  # not created yet, or between the live file and the finishing copy
        return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--poll", type=float, default=10.0)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_intermixed_args()
    cmd = [
        sys.executable,
        "-m",
        "eprop.cli.main",
        "run",
        "experiment=handwriting_converge",
        f"kernel.threads={args.threads}",
        "progress=false",
        f"hydra.run.dir={args.run_dir}",
        *args.overrides,
    ]
    env = {**os.environ, "PYNEST_QUIET": "1", "PYTHONPATH": str(ROOT)}
    samples: list[tuple[float, int, float]] = []
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        samples.append((time.perf_counter() - start, iterations_done(args.run_dir), rss_mb(proc.pid)))
        time.sleep(args.poll)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
    out = args.run_dir.parent / f"{args.run_dir.name}_samples.csv"
    with out.open("w", newline="") as f:
        csv.writer(f).writerows([("elapsed_s", "iterations_done", "rss_mb"), *samples])

    path = results_file_in(args.run_dir)
    with open_results(args.run_dir) as res:
        attrs, loss, n = res.attrs, res.loss, res.n_iter_done
    print(f"eprop run experiment=handwriting_converge kernel.threads={args.threads}: {n} iterations")
    print(
        f"  wall {wall / 60:.1f} min (in-process: build {attrs['timing_build_s']:.1f} s, simulate "
        f"{attrs['timing_simulate_s']:.0f} s, write {attrs['timing_write_s']:.1f} s); CPU "
        f"{(usage.ru_utime + usage.ru_stime) / 60:.1f} min"
    )
    print(
        f"  peak RSS {usage.ru_maxrss / 1024:.0f} MB; results file {path.stat().st_size / 1e6:.1f} MB; "
        f"loss {loss[0]:.4g} -> {loss[-1]:.4g}"
    )
    t, done, rss = (np.array(col, dtype=float) for col in zip(*samples))
    live = done >= 0
    t, done, rss = t[live], done[live], rss[live]
    edges = np.arange(0, n + 1, 500)
    at = np.interp(edges, done, t)  # time at which each 500th iteration was done
    print(
        "  seconds per iteration, by 500-iteration window: "
        + ", ".join(f"{lo + 1}-{hi}: {(b - a) / (hi - lo):.3f}" for lo, hi, a, b in zip(edges, edges[1:], at, at[1:]))
    )
    for frac in (0.02, 0.5, 0.98):
        k = int(np.searchsorted(done, frac * n))
        if k < len(done):
            print(f"  RSS at iteration {int(done[k])}: {rss[k]:.0f} MB")
    print(f"  samples: {out}")


if __name__ == "__main__":
    main()

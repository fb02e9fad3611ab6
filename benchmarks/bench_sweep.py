"""Wall time of a 4-job sweep: `hydra/launcher=joblib` against Hydra's basic launcher.

    python benchmarks/bench_sweep.py [--n-iter 10] [--repeats 3] [--threads 1]

Runs `eprop run -m optimizer.eta=1e-3,2e-3,5e-3,1e-2 task.n_iter=N recording=minimal` with
the basic launcher (jobs one after another in one process) and with joblib (the thread
budget gives cores // kernel.threads worker processes), alternately, each sweep in a fresh
process, and prints the median wall time of each and the ratio joblib / basic (target
<= 0.65 on 2 cores). The final losses in both sweeps' summary.csv must be identical.
Set EPROP_DATA_DIR to a folder with chaos_handwriting.txt if the machine is offline.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ETAS = "1e-3,2e-3,5e-3,1e-2"


def run_sweep(
    launcher: str, sweep_dir: Path, n_iter: int, threads: int, env: dict[str, str]
) -> tuple[float, list[float]]:
    """One sweep in a fresh process: (wall seconds, final losses by job)."""
    cmd = [
        sys.executable,
        "-m",
        "eprop.cli.main",
        "run",
        "-m",
        f"hydra/launcher={launcher}",
        f"optimizer.eta={ETAS}",
        f"task.n_iter={n_iter}",
        f"kernel.threads={threads}",
        "recording=minimal",
        "progress=false",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    with (sweep_dir / "summary.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if [r["status"] for r in rows] != ["complete"] * 4:
        raise SystemExit(f"{sweep_dir}: not every job completed")
    return wall, [float(r["final_loss"]) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=10, help="iterations per job")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="kernel.threads of every job")
    args = parser.parse_args()
    env = dict(os.environ, PYNEST_QUIET="1")
    tmp = Path(tempfile.mkdtemp(prefix="eprop-bench-sweep-"))
    times: dict[str, list[float]] = {"basic": [], "joblib": []}
    losses = {}
    for r in range(args.repeats):
        for launcher in ("basic", "joblib"):
            wall, losses[launcher] = run_sweep(launcher, tmp / f"{launcher}{r}", args.n_iter, args.threads, env)
            times[launcher].append(wall)
            print(f"  run {r + 1}: {launcher:6s} {wall:7.2f} s", flush=True)
        if losses["basic"] != losses["joblib"]:
            raise SystemExit(f"final losses differ: basic {losses['basic']} joblib {losses['joblib']}")
    b, j = statistics.median(times["basic"]), statistics.median(times["joblib"])
    cores = len(os.sched_getaffinity(0))
    print(
        f"4-job sweep, {args.n_iter} iterations per job, kernel.threads={args.threads}, {cores} cores, "
        f"median of {args.repeats} (alternating):"
    )
    print(f"  basic   {b:7.2f} s   runs {', '.join(f'{t:.2f}' for t in times['basic'])}")
    print(f"  joblib  {j:7.2f} s   runs {', '.join(f'{t:.2f}' for t in times['joblib'])}")
    print(f"  ratio joblib/basic = {j / b:.3f}   (target <= 0.65)   final losses identical: yes")


if __name__ == "__main__":
    main()

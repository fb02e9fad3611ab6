"""Wall time of the handwriting task with kernel.threads=2 against kernel.threads=1.

    python benchmarks/bench_threads.py [--n-iter 20] [--repeats 3] [--recording tutorial]

Runs `eprop run task=handwriting task.n_iter=N kernel.threads=T`, T = 1 and 2 alternately,
each in a fresh process, and prints the medians of the process wall time and of the time
spent in nest.Simulate (timing_simulate_s in results.h5), and the ratios threads=2 /
threads=1 (target <= 0.60 for the wall time). The losses of the two differ slightly: NEST's
results depend on the number of virtual processes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eprop.results import open_results  # noqa: E402

PARTS = ("timing_build_s", "timing_simulate_s", "timing_write_s")


def run(threads: int, run_dir: Path, n_iter: int, recording: str, env: dict[str, str]) -> dict[str, float]:
    cmd = [
        sys.executable,
        "-m",
        "eprop.cli.main",
        "run",
        "task=handwriting",
        f"task.n_iter={n_iter}",
        f"kernel.threads={threads}",
        f"recording={recording}",
        "progress=false",
        f"hydra.run.dir={run_dir}",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    with open_results(run_dir) as res:
        out = {key: float(res.attrs[key]) for key in PARTS}
        out["vps"] = int(res.attrs["total_num_virtual_procs"])
        out["final_loss"] = float(res.loss[-1])
    out["wall_s"] = wall
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--recording", default="tutorial", help="recording preset (tutorial: the default)")
    args = parser.parse_args()
    env = dict(os.environ, PYNEST_QUIET="1")
    tmp = Path(tempfile.mkdtemp(prefix="eprop-bench-threads-"))
    runs: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for r in range(args.repeats):
        for threads in (1, 2):
            runs[threads].append(run(threads, tmp / f"t{threads}_{r}", args.n_iter, args.recording, env))
            m = runs[threads][-1]
            print(
                f"  run {r + 1}: threads={threads} wall {m['wall_s']:6.2f} s  simulate {m['timing_simulate_s']:6.2f} s",
                flush=True,
            )
    med = {t: {k: statistics.median(m[k] for m in runs[t]) for k in ("wall_s", *PARTS)} for t in (1, 2)}
    print(
        f"handwriting, {args.n_iter} iterations, recording={args.recording}, "
        f"{len(os.sched_getaffinity(0))} cores, median of {args.repeats} (alternating):"
    )
    print(f"  {'':10s} {'wall':>8s} {'build':>8s} {'simulate':>9s} {'write':>8s}   (s)")
    for t in (1, 2):
        m = med[t]
        print(
            f"  threads={t}  {m['wall_s']:8.2f} {m['timing_build_s']:8.2f} {m['timing_simulate_s']:9.2f} {m['timing_write_s']:8.2f}"
            f"   virtual processes {runs[t][0]['vps']}, final loss {runs[t][0]['final_loss']:.6g}"
        )
    print(
        f"  ratio threads=2/threads=1: wall {med[2]['wall_s'] / med[1]['wall_s']:.3f} (target <= 0.60), "
        f"simulate {med[2]['timing_simulate_s'] / med[1]['timing_simulate_s']:.3f}"
    )


if __name__ == "__main__":
    main()

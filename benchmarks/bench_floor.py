"""eprop run against NEST's floor: the seed network with only the readout multimeter the loss needs.

    python benchmarks/bench_floor.py [--n-iter 40] [--repeats 3] [--threads 1] [--only ratios|fixed]

The floor is `tests/oracle/seed_tutorial.py handwriting N DATA OUT floor`: the seed script's
network, draws and single nest.Simulate, with no spike recorder, no weight recorder and no
recurrent multimeter. It is the least any tool can spend on the same learning. Each command
runs in a fresh process, alternately (floor, minimal, tutorial, floor, ...), and the losses of
all three must be identical. Prints the medians and the ratios:

    eprop run recording=minimal  / floor   (target <= 1.05)
    eprop run recording=tutorial / floor   (target <= 1.12)

and the fixed cost at one iteration: eprop run task.n_iter=1 minus the floor at one iteration
(target <= 0.8 s). Wall times are whole processes (Python start-up and imports included).
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eprop_cli.data import handwriting_file  # noqa: E402
from eprop_cli.results import open_results  # noqa: E402


def wall_time(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def floor_cmd(n_iter: int, out: Path) -> list[str]:
    return [sys.executable, str(ROOT / "tests/oracle/seed_tutorial.py"), "handwriting", str(n_iter),
            str(handwriting_file()), str(out), "floor"]


def eprop_cmd(n_iter: int, run_dir: Path, recording: str, threads: int) -> list[str]:
    return [sys.executable, "-m", "eprop_cli.cli", "run", f"task.n_iter={n_iter}", f"recording={recording}",
            f"kernel.threads={threads}", "progress=false", f"hydra.run.dir={run_dir}"]


def measure(n_iter: int, repeats: int, threads: int, env: dict[str, str], tmp: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"floor": [], "minimal": [], "tutorial": []}
    for r in range(repeats):
        out = tmp / f"floor{n_iter}_{r}.npz"
        times["floor"].append(wall_time(floor_cmd(n_iter, out), env))
        reference = np.load(out)["loss"]
        for recording in ("minimal", "tutorial"):
            run_dir = tmp / f"{recording}{n_iter}_{r}"
            times[recording].append(wall_time(eprop_cmd(n_iter, run_dir, recording, threads), env))
            with open_results(run_dir) as res:
                if not np.array_equal(res.loss, reference):
                    raise SystemExit(f"recording={recording}: losses differ from the floor script's")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="eprop's kernel.threads (the floor script uses 1)")
    parser.add_argument("--only", choices=("ratios", "fixed"), help="measure only the ratios at --n-iter or only the fixed cost")
    args = parser.parse_args()
    if args.threads != 1:
        raise SystemExit("--threads: the floor script runs 1 virtual process; compare at 1")
    env = dict(os.environ, PYNEST_QUIET="1")
    env.setdefault("EPROP_DATA_DIR", str(handwriting_file().parent))
    tmp = Path(tempfile.mkdtemp(prefix="eprop-floor-"))

    if args.only != "fixed":
        long = measure(args.n_iter, args.repeats, args.threads, env, tmp)
        med = {k: statistics.median(v) for k, v in long.items()}
        print(f"wall time, handwriting, {args.n_iter} iterations, median of {args.repeats} (alternating, losses identical):")
        for key, values in long.items():
            print(f"  {key:9s} {med[key]:7.2f} s   runs {', '.join(f'{t:.2f}' for t in values)}")
        print(f"  recording=minimal  / floor = {med['minimal'] / med['floor']:.3f}   (target <= 1.05)")
        print(f"  recording=tutorial / floor = {med['tutorial'] / med['floor']:.3f}   (target <= 1.12)")

    if args.only != "ratios":
        one = measure(1, args.repeats, args.threads, env, tmp)
        med1 = {k: statistics.median(v) for k, v in one.items()}
        print(f"one iteration, median of {args.repeats}: floor {med1['floor']:.2f} s, "
              f"eprop (tutorial) {med1['tutorial']:.2f} s, eprop (minimal) {med1['minimal']:.2f} s")
        for key, values in one.items():
            print(f"  {key:9s} runs {', '.join(f'{t:.2f}' for t in values)}")
        print(f"  fixed cost: eprop run task.n_iter=1 - floor = {med1['tutorial'] - med1['floor']:.2f} s   (target <= 0.8 s)")


if __name__ == "__main__":
    main()

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
Beside each wall time it prints the process's CPU time (user + system, from os.wait4), which
a machine shared with other work inflates much less than the wall time, and its peak RSS.
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

from eprop.data.files import handwriting_file  # noqa: E402
from eprop.results import open_results  # noqa: E402


def cost(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, CPU s = user + system, peak RSS MB) of one process."""
    with tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if status != 0:
            stderr.seek(0)
            raise SystemExit(f"failed: {' '.join(cmd)}\n{stderr.read()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def floor_cmd(n_iter: int, out: Path) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "tests/oracle/seed_tutorial.py"),
        "handwriting",
        str(n_iter),
        str(handwriting_file()),
        str(out),
        "floor",
    ]


def eprop_cmd(n_iter: int, run_dir: Path, recording: str, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "eprop.cli.main",
        "run",
        f"task.n_iter={n_iter}",
        f"recording={recording}",
        f"kernel.threads={threads}",
        "progress=false",
        f"hydra.run.dir={run_dir}",
    ]


def measure(n_iter: int, repeats: int, threads: int, env: dict[str, str], tmp: Path) -> dict[str, list[tuple]]:
    times: dict[str, list[tuple]] = {"floor": [], "minimal": [], "tutorial": []}
    for r in range(repeats):
        out = tmp / f"floor{n_iter}_{r}.npz"
        times["floor"].append(cost(floor_cmd(n_iter, out), env))
        reference = np.load(out)["loss"]
        for recording in ("minimal", "tutorial"):
            run_dir = tmp / f"{recording}{n_iter}_{r}"
            times[recording].append(cost(eprop_cmd(n_iter, run_dir, recording, threads), env))
            with open_results(run_dir) as res:
                if not np.array_equal(res.loss, reference):
                    raise SystemExit(f"recording={recording}: losses differ from the floor script's")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="eprop's kernel.threads (the floor script uses 1)")
    parser.add_argument(
        "--only", choices=("ratios", "fixed"), help="measure only the ratios at --n-iter or only the fixed cost"
    )
    args = parser.parse_args()
    if args.threads != 1:
        raise SystemExit("--threads: the floor script runs 1 virtual process; compare at 1")
    env = dict(os.environ, PYNEST_QUIET="1")
    env.setdefault("EPROP_DATA_DIR", str(handwriting_file().parent))
    tmp = Path(tempfile.mkdtemp(prefix="eprop-floor-"))

    print(f"load average before: {load()}")
    if args.only != "fixed":
        long = measure(args.n_iter, args.repeats, args.threads, env, tmp)
        wall, cpu = medians(long, 0), medians(long, 1)
        print(f"handwriting, {args.n_iter} iterations, median of {args.repeats} (alternating, losses identical):")
        report(long)
        for recording, target in (("minimal", 1.05), ("tutorial", 1.12)):
            print(
                f"  recording={recording:8s} / floor = {wall[recording] / wall['floor']:.3f} wall, "
                f"{cpu[recording] / cpu['floor']:.3f} CPU   (target <= {target})"
            )

    if args.only != "ratios":
        one = measure(1, args.repeats, args.threads, env, tmp)
        wall, cpu = medians(one, 0), medians(one, 1)
        print(f"one iteration, median of {args.repeats}:")
        report(one)
        print(
            f"  fixed cost: eprop run task.n_iter=1 (tutorial) - floor = {wall['tutorial'] - wall['floor']:.2f} s wall, "
            f"{cpu['tutorial'] - cpu['floor']:.2f} s CPU   (target <= 0.8 s)"
        )
    print(f"load average after: {load()}")


def medians(runs: dict[str, list[tuple]], field: int) -> dict[str, float]:
    return {key: statistics.median(r[field] for r in rows) for key, rows in runs.items()}


def report(runs: dict[str, list[tuple]]) -> None:
    wall, cpu, rss = medians(runs, 0), medians(runs, 1), medians(runs, 2)
    for key, rows in runs.items():
        print(
            f"  {key:9s} wall {wall[key]:7.2f} s  CPU {cpu[key]:7.2f} s  peak RSS {rss[key]:6.1f} MB   "
            f"wall runs {', '.join(f'{r[0]:.2f}' for r in rows)}"
        )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()

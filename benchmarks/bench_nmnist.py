"""Seconds per training iteration of `eprop run task=nmnist` at group_size 100, 1 and 2 threads; peak RSS;
the projected wall time of NEST's example's convergence run.

    python benchmarks/bench_nmnist.py [--data DIR] [--events 5000] [--per-digit 20] [--group-size 100]
                                      [--n-iter 3] [--threads 1 2] [--repeats 1] [--json FILE] [-- OVERRIDES...]

The data are SYNTHETIC unless --data names a copy of N-MNIST: benchmarks/synthetic_nmnist.py writes
a data set in N-MNIST's binary format and layout with N-MNIST-like statistics (`--events` per
sample on average, three saccades over about 300 ms, digit strokes in the middle of the sensor);
N-MNIST itself cannot be downloaded on the benchmark machine.

For each thread count, `--repeats` runs of `eprop run task=nmnist` with `--n-iter` iterations of
`--group-size` samples, each in a fresh process (`recording=minimal`, the default recording;
overrides after `--` are passed on). Per run:

- seconds per iteration = (timing_simulate_s + timing_write_s) / iterations, from the results
  file: the generators' loading (sample files read and converted), nest.Simulate, reading the
  recorders and the HDF5 appends; without start-up and network construction;
- build = timing_build_s (network construction, the draws, the initial weights);
- start-up = the process's wall time - timing_total_s (Python, imports, Hydra's composition);
- peak RSS of the process (os.wait4) and the results file's size per iteration with recorder events.

The projection for NEST's example's convergence run (200 iterations of 100 samples, a test
iteration every 10: 181 training and 19 test iterations) is start-up + build + 200 x seconds per
iteration, with two assumptions it states: a test iteration costs what a training iteration
costs (the same simulation; only the learning rate is 0), and the per-iteration cost stays
constant (no growth with the iteration count was seen in the other tasks' long runs, see
docs/benchmarks.md "Long runs"). The file size per iteration is the file's size over the iterations
that wrote recorder events (the first and the last of a run; the losses of the others are a few
kB); the preset writes events for its first and last iteration only, so the projected file is 2 x
that size. With real N-MNIST the
start-up also lists the 70,000 sample files once (not measured here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from process_cost import timed  # noqa: E402
from synthetic_nmnist import write_dataset  # noqa: E402

from eprop.results import open_results  # noqa: E402

EXAMPLE_ITERATIONS = 200  # NEST's example: n_iter
EXAMPLE_TEST_EVERY = 10  # NEST's example: a test iteration every 10 (iterations 10, 20, ..., 190)
PRESET_RECORDED = 2  # experiment=nmnist writes recorder events of the first and the last iteration only
EPROP = [sys.executable, "-m", "eprop.cli.main"]


def run_command(
    eprop: list[str], data: Path, group_size: int, n_iter: int, threads: int, run_dir: Path, extra: list[str]
) -> list[str]:
    """The `eprop run` command line of one measured run: the example's settings (experiment=nmnist) with
    THREADS threads and as many virtual processes, every sample of DATA, training iterations only."""
    return [
        *eprop,
        "run",
        "experiment=nmnist",
        f"task.data_dir={data}",
        f"task.group_size={group_size}",
        f"task.n_iter={n_iter}",
        "task.n_train=null",
        "task.n_test=null",
        "phases.n_test=0",
        f"kernel.threads={threads}",
        f"kernel.total_num_virtual_procs={threads}",
        "progress=false",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


def measure_run(results_dir: Path, wall_s: float, rss_mb: float) -> dict:
    """The numbers of one finished run, from its results file and its process's wall time and peak RSS."""
    with open_results(results_dir) as res:
        attrs, n = res.attrs, res.n_iter_done
        phases = res.phases().tolist()
        recorded = max(1, len(res.recorded_iterations(res.recorders[0])))
        size = res.path.stat().st_size
    if n == 0:
        raise SystemExit(f"{results_dir}: no iteration finished")
    per_iteration = (float(attrs["timing_simulate_s"]) + float(attrs["timing_write_s"])) / n
    return {
        "iterations": n,
        "training_iterations": phases.count(0),
        "seconds_per_iteration": per_iteration,
        "build_s": float(attrs["timing_build_s"]),
        "startup_s": wall_s - float(attrs.get("timing_total_s", wall_s)),
        "wall_s": wall_s,
        "peak_rss_mb": rss_mb,
        "file_mb_per_iteration": size / 1e6 / recorded,
    }


def project(run: dict, iterations: int = EXAMPLE_ITERATIONS) -> dict:
    """Wall time (s) and file size (MB) of `iterations` iterations, from one run's numbers (module docstring)."""
    return {
        "wall_s": run["startup_s"] + run["build_s"] + iterations * run["seconds_per_iteration"],
        "file_mb": PRESET_RECORDED * run["file_mb_per_iteration"],
    }


def summarize(runs: list[dict]) -> dict:
    """Median over repeats of every number, and the projection from the medians."""
    median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    return {
        **median,
        "runs_seconds_per_iteration": [r["seconds_per_iteration"] for r in runs],
        "projected": project(median),
    }


def main(argv: list[str] | None = None, eprop: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, help="an N-MNIST copy (Train/<digit>/<id>.bin, Test/...); default: synthetic"
    )
    parser.add_argument("--events", type=int, default=5000, help="synthetic data: events per sample on average")
    parser.add_argument("--per-digit", type=int, default=20, help="synthetic data: samples per digit and split")
    parser.add_argument("--group-size", type=int, default=100, help="samples per iteration")
    parser.add_argument("--n-iter", type=int, default=3, help="iterations per measured run")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="kernel.threads values")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--keep", type=Path, help="work directory (default: a new temporary one)")
    args = parser.parse_args(argv)
    env = dict(os.environ, PYNEST_QUIET="1", PYTHONPATH=str(ROOT))
    work = args.keep or Path(tempfile.mkdtemp(prefix="eprop-bench-nmnist-"))
    data = args.data
    if data is None:
        data = write_dataset(work / "data", args.per_digit, n_events=args.events)
        print(
            f"synthetic N-MNIST-format data: {args.per_digit} samples per digit and split, "
            f"{args.events} events per sample on average, in {data}"
        )
    out = {
        "group_size": args.group_size,
        "n_iter": args.n_iter,
        "events": None if args.data else args.events,
        "data": str(data),
        "synthetic": args.data is None,
        "threads": {},
    }
    for threads in args.threads:
        runs = []
        for r in range(args.repeats):
            run_dir = work / f"t{threads}_r{r}"
            cost = timed(run_command(eprop or EPROP, data, args.group_size, args.n_iter, threads, run_dir, extra), env)
            wall, rss = cost.wall, cost.rss
            runs.append(measure_run(run_dir, wall, rss))
        out["threads"][threads] = summarize(runs)
    print(f"group_size {args.group_size}, {args.n_iter} iterations per run, median of {args.repeats}:")
    print(
        "threads  s/iteration (runs)            build s  start-up s  peak RSS MB  file MB/it.  "
        f"projected {EXAMPLE_ITERATIONS} it.: wall h, file GB"
    )
    for threads, s in out["threads"].items():
        runs = ", ".join(f"{v:.2f}" for v in s["runs_seconds_per_iteration"])
        print(
            f"{threads:>7}  {s['seconds_per_iteration']:8.2f} ({runs}){'':<{max(0, 20 - len(runs))}} {s['build_s']:7.2f}"
            f"  {s['startup_s']:10.2f}  {s['peak_rss_mb']:11.1f}  {s['file_mb_per_iteration']:11.2f}  "
            f"{s['projected']['wall_s'] / 3600:8.2f} h, {s['projected']['file_mb'] / 1000:.2f} GB"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()

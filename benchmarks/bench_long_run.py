"""Time per iteration and memory of `experiment=handwriting_converge`, extrapolated to 5000 iterations.

    python benchmarks/bench_long_run.py [--n-iter 200] [--marks 10 100 200] [--threads 1]

Composes the config of `eprop run experiment=handwriting_converge task.n_iter=N` and calls
`training.train` (the function `eprop run` calls for each job) in this process, with an
on_iteration hook that reads the process's current resident memory (VmRSS) and the clock
after every iteration. Prints RSS and elapsed time at the marks, the time per iteration
(median and mean over the run) and the extrapolation to the experiment's 5000 iterations:
wall time, RSS (growth per 1000 iterations between the last two marks) and
the results file's size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def hdf5_metadata_cache_mb() -> float:
    """Current size of the HDF5 metadata caches of the files open in this process (MB)."""
    import gc

    import h5py

    files = [o for o in gc.get_objects() if isinstance(o, h5py.File) and o.id.valid]
    return sum(f.id.get_mdc_size()[2] for f in files) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=200)
    parser.add_argument("--marks", type=int, nargs="+", default=[10, 100, 200])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("PYNEST_QUIET", "1")

    from hydra import compose, initialize_config_dir

    from eprop.cli.main import conf_dir
    from eprop.config.lookup import with_plain_choices
    from eprop.config.store import register_configs
    from eprop.results import open_results
    from eprop.training.loop import train

    register_configs()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "experiment=handwriting_converge",
                f"task.n_iter={args.n_iter}",
                f"kernel.threads={args.threads}",
                "progress=false",
            ],
        )
    cfg = with_plain_choices(cfg)  # NEST takes str, not the schema's Enums
    target_iter = 5000
    run_dir = Path(tempfile.mkdtemp(prefix="eprop-bench-long-")) / "run"
    clock: list[float] = []
    rss: list[float] = []

    mdc: dict[int, float] = {}

    def on_iteration(k: int, loss: float, total: int | None = None) -> None:
        clock.append(time.perf_counter())
        rss.append(current_rss_mb())
        if k + 1 in args.marks:
            mdc[k + 1] = hdf5_metadata_cache_mb()

    start = time.perf_counter()
    rss_start = current_rss_mb()
    train(cfg, run_dir, [f"task.n_iter={args.n_iter}"], on_iteration=on_iteration)
    total = time.perf_counter() - start
    with open_results(run_dir) as res:
        attrs = res.attrs
        final_loss = float(res.loss[-1])
    size_mb = (run_dir / "results.h5").stat().st_size / 1e6
    per_iter = [b - a for a, b in zip(clock, clock[1:])]
    med, mean = statistics.median(per_iter), statistics.mean(per_iter)
    build = attrs["timing_build_s"]

    print(
        f"experiment=handwriting_converge (recording=minimal), {args.n_iter} iterations, kernel.threads={args.threads}:"
    )
    print(f"  build {build:.2f} s, total {total:.1f} s, final loss {final_loss:.6g}, results file {size_mb:.2f} MB")
    print(f"  RSS before training {rss_start:.1f} MB")
    for mark in args.marks:
        if mark <= len(rss):
            print(
                f"  after iteration {mark:5d}: RSS {rss[mark - 1]:7.1f} MB   elapsed {clock[mark - 1] - start:7.1f} s   "
                f"HDF5 metadata cache {mdc.get(mark, float('nan')):5.2f} MB"
            )
    # The steady-state slope: from the second-to-last mark (the first iterations warm up the
    # allocator, HDF5 chunk caches and NEST's buffers) to the end.
    lo = args.marks[-2] if len(args.marks) > 1 else args.marks[0]
    growth = (rss[-1] - rss[lo - 1]) / max(len(rss) - lo, 1) * 1000
    print(f"  time per iteration: median {med * 1000:.0f} ms, mean {mean * 1000:.0f} ms")
    print(
        f"  RSS growth from iteration {lo} to {len(rss)}: {rss[-1] - rss[lo - 1]:+.1f} MB ({growth:+.1f} MB per 1000 iterations)"
    )
    print(
        f"  extrapolated to {target_iter} iterations: {(build + mean * target_iter) / 60:.0f} min, "
        f"RSS {rss[-1] + growth * (target_iter - len(rss)) / 1000:.0f} MB, results file {size_mb / args.n_iter * target_iter:.0f} MB "
        f"(linear; the spike count, and so the file's growth, falls as the loss falls)"
    )


if __name__ == "__main__":
    main()

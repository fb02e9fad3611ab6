"""Resident memory across the jobs of a basic-launcher multirun, which runs them in one process.

    python benchmarks/bench_sweep_rss.py [--jobs 10] [--n-iter 5] [--recording tutorial]

Runs `eprop run -m seed=1,...,N task.n_iter=K` in this process (as the `eprop` command
would, through cli.main) with an extra Hydra callback that reads this process's current
resident memory (VmRSS in /proc/self/status) when each job ends. Every job builds the same
network after nest.ResetKernel, so a leak shows as RSS that grows from job to job. Prints
the RSS after each job, the growth from job 2 to the last job and the growth per job.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RSS_AFTER_JOB: list[tuple[int, float]] = []


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


TRIM = False


def release_free_memory() -> None:
    """Collect garbage and return the C heap's free pages to the system (glibc malloc_trim)."""
    import ctypes
    import gc

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)


class RssProbe:
    """Hydra callback (duck-typed): records this process's RSS at the end of each job."""

    def on_job_end(self, config, job_return=None, **kwargs) -> None:
        from hydra.core.hydra_config import HydraConfig

        if TRIM:
            release_free_memory()
        RSS_AFTER_JOB.append((int(HydraConfig.get().job.num), current_rss_mb()))

    def __getattr__(self, name):  # the other callback hooks: nothing to do
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--n-iter", type=int, default=5)
    parser.add_argument("--recording", default="tutorial")
    parser.add_argument(
        "--trim",
        action="store_true",
        help="gc.collect() and malloc_trim(0) before each reading: leaks stay, freed heap pages go",
    )
    args = parser.parse_args()
    global TRIM
    TRIM = args.trim
    os.environ.setdefault("PYNEST_QUIET", "1")
    from eprop.cli.main import main as eprop_main

    sweep_dir = Path(tempfile.mkdtemp(prefix="eprop-bench-rss-")) / "sweep"
    seeds = ",".join(str(s) for s in range(1, args.jobs + 1))
    code = eprop_main(
        [
            "run",
            "-m",
            f"seed={seeds}",
            f"task.n_iter={args.n_iter}",
            f"recording={args.recording}",
            "progress=false",
            f"hydra.sweep.dir={sweep_dir}",
            "+hydra.callbacks.rss_probe._target_=__main__.RssProbe",
        ]
    )
    if code != 0:
        raise SystemExit(f"eprop run -m exited {code}")
    print(
        f"basic launcher, {args.jobs} handwriting jobs of {args.n_iter} iterations (recording={args.recording}) "
        f"in one process; RSS after each job (MB){', after gc.collect() and malloc_trim(0)' if TRIM else ''}:"
    )
    print("  " + "  ".join(f"{num}:{rss:.1f}" for num, rss in RSS_AFTER_JOB))
    first, last = RSS_AFTER_JOB[1][1], RSS_AFTER_JOB[-1][1]
    n = len(RSS_AFTER_JOB) - 2
    print(
        f"  job 1 -> job {RSS_AFTER_JOB[-1][0]}: {last - first:+.1f} MB ({(last - first) / max(n, 1):+.2f} MB per job); "
        f"job 0 (imports, first kernel) {RSS_AFTER_JOB[0][1]:.1f} MB"
    )
    print(f"  sweep directory: {sweep_dir}")


if __name__ == "__main__":
    main()

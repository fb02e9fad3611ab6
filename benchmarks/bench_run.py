"""Speed and memory of `eprop run` against the seed tutorial script (NEST 3.10 translation).

    python benchmarks/bench_run.py [--n-iter 20] [--repeats 3] [--rss-iters 10 60]

1. Wall time: the seed script (tests/oracle/seed_tutorial.py) and `eprop run` with the
   `tutorial` recording, run alternately at the same n_iter, each in a fresh process. The
   losses must be identical. Prints the medians and the ratio eprop / seed (target <= 0.80).
2. Peak RSS of `eprop run` at two iteration counts (target ratio <= 1.10), and of the seed
   script at the same counts for comparison (it keeps every event in memory).

Each process's own peak RSS comes from os.wait4. Set EPROP_DATA_DIR to a folder with
chaos_handwriting.txt if the machine is offline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from process_cost import timed  # noqa: E402

from eprop.data.files import handwriting_file  # noqa: E402
from eprop.results import open_results  # noqa: E402


def seed_cmd(n_iter: int, out: Path) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "tests/oracle/seed_tutorial.py"),
        "handwriting",
        str(n_iter),
        str(handwriting_file()),
        str(out),
    ]


def eprop_cmd(n_iter: int, run_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "eprop.cli.main",
        "run",
        f"task.n_iter={n_iter}",
        "progress=false",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rss-iters", type=int, nargs=2, default=[10, 60])
    args = parser.parse_args()
    env = dict(os.environ, PYNEST_QUIET="1")
    env.setdefault("EPROP_DATA_DIR", str(handwriting_file().parent))
    tmp = Path(tempfile.mkdtemp(prefix="eprop-bench-"))

    seed_t, eprop_t = [], []
    for r in range(args.repeats):
        out = tmp / f"seed{r}.npz"
        seed_t.append(timed(seed_cmd(args.n_iter, out), env)[0])
        run_dir = tmp / f"eprop{r}"
        eprop_t.append(timed(eprop_cmd(args.n_iter, run_dir), env)[0])
        with open_results(run_dir) as res:
            identical = bool(np.all(res.loss == np.load(out)["loss"]))
        if not identical:
            raise SystemExit("losses differ between the seed script and eprop run")
    s, e = statistics.median(seed_t), statistics.median(eprop_t)
    print(f"wall time, {args.n_iter} iterations, median of {args.repeats} (alternating runs):")
    print(f"  seed script  {s:7.2f} s   runs {', '.join(f'{t:.2f}' for t in seed_t)}")
    print(f"  eprop run    {e:7.2f} s   runs {', '.join(f'{t:.2f}' for t in eprop_t)}")
    print(f"  ratio eprop/seed = {e / s:.3f}   (target <= 0.80)   losses identical: yes")

    lo, hi = args.rss_iters
    rss = {}
    for n in (lo, hi):
        rss[("eprop", n)] = timed(eprop_cmd(n, tmp / f"rss{n}"), env)[1]
        rss[("seed", n)] = timed(seed_cmd(n, tmp / f"rss{n}.npz"), env)[1]
    print(f"peak RSS (MB) at {lo} and {hi} iterations:")
    for who in ("eprop", "seed"):
        a, b = rss[(who, lo)], rss[(who, hi)]
        print(f"  {who:5s}  {a:8.1f}  {b:8.1f}   ratio {b / a:.3f}   growth {(b - a) / (hi - lo):.2f} MB/iteration")
    print("  target: eprop ratio <= 1.10")


if __name__ == "__main__":
    main()

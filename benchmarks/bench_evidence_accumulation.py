"""Speed and memory of `eprop run` on evidence accumulation against the NEST oracle script.

    python benchmarks/bench_evidence_accumulation.py [--n-iter 20] [--batch-size 1] [--repeats 3] [--rss-iters 10 40]

The oracle (tests/oracle/evidence_accumulation.py --schedule example) is NEST's
evidence-accumulation example translated to NEST 3.10 as a plain script: one iteration drawn
and simulated at a time, every recorder's events kept in memory. eprop runs
experiment=nest_bsshslm_2020_evidence_accumulation with the oracle's recording (readout
V_m/readout_signal/readout_signal_unnorm/target_signal/error_signal, V_m/surrogate_gradient/
learning_signal of one recurrent neuron, input and recurrent spikes, the weight recorder on
1 sender x 1 target per population).

1. Wall time: the two alternately, each in a fresh process, at the same n_iter and batch
   size; the losses must agree to 1e-12 (they are computed in a different order of sums:
   NEST's test sums over outputs first, eprop stores per output and sums). Prints the medians
   and the ratio eprop / oracle (target <= 0.90), and the same for the CPU time (user + system,
   os.wait4), which a loaded machine inflates less than the wall time.
2. Peak RSS (os.wait4) of both at two iteration counts; eprop's ratio (target <= 1.10).

The load averages before and after are printed with the results.
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

from process_cost import load_average, timed  # noqa: E402

from eprop.results import open_results  # noqa: E402

RECORDING = [
    "recording.n_record=1",
    "recording.rec_variables=[V_m,surrogate_gradient,learning_signal]",
    "recording.out_variables=[V_m,readout_signal,readout_signal_unnorm,target_signal,error_signal]",
    "recording.spikes_input=true",
    "recording.spikes_recurrent=true",
    "recording.n_record_w=1",
    "recording.saturated_rate=1.0",
]  # the oracle has no divergence check: never stop early (batch 8 passes 0.2 near iteration 34)


def oracle_cmd(n_iter: int, batch: int, out: Path) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "tests/oracle/evidence_accumulation.py"),
        str(out),
        "--schedule",
        "example",
        "--n-iter",
        str(n_iter),
        "--batch-size",
        str(batch),
    ]


def eprop_cmd(n_iter: int, batch: int, run_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "eprop.cli.main",
        "run",
        "experiment=nest_bsshslm_2020_evidence_accumulation",
        f"task.n_iter={n_iter}",
        f"task.batch_size={batch}",
        "progress=false",
        f"hydra.run.dir={run_dir}",
        *RECORDING,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each for the times (0: only the RSS part)")
    parser.add_argument("--rss-iters", type=int, nargs=2, default=[10, 40])
    args = parser.parse_args()
    env = dict(os.environ, PYNEST_QUIET="1", PYTHONPATH=str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="eprop-bench-ea-"))

    print(f"load average (1, 5, 15 min) at the start: {load_average()}")
    if args.repeats > 0:
        wall_and_cpu(args, env, tmp)
    rss_ratios(args, env, tmp)
    print(f"load average (1, 5, 15 min) at the end: {load_average()}")


def wall_and_cpu(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> None:
    """Part 1: the two alternately, `args.repeats` times each; the losses must agree."""
    oracle_t, eprop_t, oracle_c, eprop_c, worst = [], [], [], [], 0.0
    for r in range(args.repeats):
        out = tmp / f"oracle{r}.npz"
        cost = timed(oracle_cmd(args.n_iter, args.batch_size, out), env)
        oracle_t.append(cost.wall)
        oracle_c.append(cost.cpu)
        run_dir = tmp / f"eprop{r}"
        cost = timed(eprop_cmd(args.n_iter, args.batch_size, run_dir), env)
        eprop_t.append(cost.wall)
        eprop_c.append(cost.cpu)
        with open_results(run_dir) as res:
            ours, theirs = res.loss, np.load(out)["loss"]
        worst = max(worst, float(np.max(np.abs(ours - theirs) / np.abs(theirs))))
        if not np.allclose(ours, theirs, rtol=1e-12, atol=0):
            raise SystemExit(f"losses differ between the oracle and eprop run: max rel. diff {worst:.2e}")
    o, e = statistics.median(oracle_t), statistics.median(eprop_t)
    print(
        f"wall time, {args.n_iter} iterations of batch {args.batch_size}, median of {args.repeats} (alternating runs):"
    )
    print(f"  oracle     {o:7.2f} s   runs {', '.join(f'{t:.2f}' for t in oracle_t)}")
    print(f"  eprop run  {e:7.2f} s   runs {', '.join(f'{t:.2f}' for t in eprop_t)}")
    print(f"  ratio eprop/oracle = {e / o:.3f}   (target <= 0.90)   losses: max rel. diff {worst:.1e}")
    oc, ec = statistics.median(oracle_c), statistics.median(eprop_c)
    print(f"CPU time (user + system), median of {args.repeats}:")
    print(f"  oracle     {oc:7.2f} s   runs {', '.join(f'{t:.2f}' for t in oracle_c)}")
    print(f"  eprop run  {ec:7.2f} s   runs {', '.join(f'{t:.2f}' for t in eprop_c)}")
    print(f"  ratio eprop/oracle = {ec / oc:.3f}")


def rss_ratios(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> None:
    """Part 2: peak RSS of both at the two iteration counts of `args.rss_iters`."""
    rss = {}
    for n in args.rss_iters:
        rss[("oracle", n)] = timed(oracle_cmd(n, args.batch_size, tmp / f"rss_oracle{n}.npz"), env).rss
        rss[("eprop", n)] = timed(eprop_cmd(n, args.batch_size, tmp / f"rss_eprop{n}"), env).rss
    lo, hi = args.rss_iters
    print(f"peak RSS (MB)      {lo:>5} it.  {hi:>5} it.   ratio")
    for who in ("oracle", "eprop"):
        print(
            f"  {who:<14} {rss[(who, lo)]:8.1f}  {rss[(who, hi)]:8.1f}   {rss[(who, hi)] / rss[(who, lo)]:.3f}"
            + ("   (target <= 1.10)" if who == "eprop" else "")
        )


if __name__ == "__main__":
    main()

"""How the cost of a handwriting run grows with the network and the threads, beside NEST's floor.

    python benchmarks/bench_scaling.py [--n-rec 100 200 400 800] [--threads 1 2] [--n-iter 6]

For every size `neuron.rec.n` and every `kernel.threads` it runs, each in a fresh process, the
floor (`tests/oracle/seed_tutorial.py handwriting N DATA OUT floor n_rec=R threads=T`: the
seed network with only the readout multimeter that the loss needs) and
`eprop run recording=minimal neuron.rec.n=R kernel.threads=T`, checks that the losses agree
(the same draws and the same number of virtual processes give the same numbers), and prints
one row per (R, T):

- seconds per iteration of the simulation itself, from each process's own timers: the floor's
  single nest.Simulate / N; eprop's `timing_simulate_s` / N (generators, nest.Simulate and
  reading the recorders), with eprop's HDF5 writing (`timing_write_s` / N) beside it;
- the whole process's wall time and peak RSS (os.wait4), and eprop's over the floor's;
- the number of synapses (in->rec, rec->rec, rec->out, the plastic ones) and the recurrent
  spikes per iteration of the last iteration (from eprop's file), so that the time can be read
  per synaptic event.

The sizes beyond the seed's 200 are not tuned networks: the weights are drawn with the same
1/sqrt(fan-in) scaling, so activity changes with the size, and the spike count is printed with
the time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_floor import cost  # noqa: E402

from eprop.data.files import handwriting_file  # noqa: E402
from eprop.results import open_results  # noqa: E402

N_IN, N_OUT = 100, 2  # the seed's input channels and readouts


def floor_cmd(n_iter: int, out: Path, n_rec: int, threads: int) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "tests/oracle/seed_tutorial.py"),
        "handwriting",
        str(n_iter),
        str(handwriting_file()),
        str(out),
        "floor",
        f"n_rec={n_rec}",
        f"threads={threads}",
    ]


def eprop_cmd(n_iter: int, run_dir: Path, n_rec: int, threads: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "eprop.cli.main",
        "run",
        f"task.n_iter={n_iter}",
        "recording=minimal",
        f"neuron.rec.n={n_rec}",
        f"kernel.threads={threads}",
        "progress=false",
        f"hydra.run.dir={run_dir}",
    ]


def measure(n_rec: int, threads: int, n_iter: int, tmp: Path, env: dict[str, str]) -> dict[str, float]:
    """One floor and one eprop run of this size; their costs, and the losses compared."""
    out = tmp / f"floor_{n_rec}_{threads}.npz"
    run_dir = tmp / f"eprop_{n_rec}_{threads}"
    floor_wall, _, floor_rss = cost(floor_cmd(n_iter, out, n_rec, threads), env)
    eprop_wall, _, eprop_rss = cost(eprop_cmd(n_iter, run_dir, n_rec, threads), env)
    floor = np.load(out)
    with open_results(run_dir / "results.h5") as res:
        loss = res.loss
        attrs = res.attrs
        spikes = res.events("spike_recorder", iteration=n_iter - 1)
        n_spikes = int(np.isin(spikes["senders"], res.population("recurrent")).sum())
    if not np.allclose(loss, floor["loss"], rtol=1e-12, atol=0.0):
        raise SystemExit(f"n_rec={n_rec} threads={threads}: losses differ: eprop {loss} floor {floor['loss']}")
    return {
        "floor_sim": float(floor["t_sim"]) / n_iter,
        "eprop_sim": attrs["timing_simulate_s"] / n_iter,
        "eprop_write": attrs["timing_write_s"] / n_iter,
        "floor_wall": floor_wall,
        "eprop_wall": eprop_wall,
        "floor_rss": floor_rss,
        "eprop_rss": eprop_rss,
        "spikes": n_spikes,
        "synapses": N_IN * n_rec + n_rec * n_rec + n_rec * N_OUT,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rec", type=int, nargs="+", default=[100, 200, 400, 800])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--n-iter", type=int, default=6)
    args = parser.parse_args()
    env = {**os.environ, "PYNEST_QUIET": "1", "PYTHONPATH": str(ROOT)}
    print(
        f"handwriting, {args.n_iter} iterations, recording=minimal; s/it = in-process simulation seconds per iteration"
    )
    print(
        f"{'n_rec':>5} {'thr':>3} {'synapses':>9} {'spikes/it':>9} | {'floor s/it':>10} {'eprop s/it':>10} "
        f"{'ratio':>5} {'write s/it':>10} | {'floor wall':>10} {'eprop wall':>10} {'ratio':>5} | "
        f"{'floor MB':>8} {'eprop MB':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n_rec in args.n_rec:
            for threads in args.threads:
                m = measure(n_rec, threads, args.n_iter, Path(tmp), env)
                print(
                    f"{n_rec:>5} {threads:>3} {m['synapses']:>9} {m['spikes']:>9} | {m['floor_sim']:>10.3f} "
                    f"{m['eprop_sim']:>10.3f} {m['eprop_sim'] / m['floor_sim']:>5.2f} {m['eprop_write']:>10.4f} | "
                    f"{m['floor_wall']:>10.2f} {m['eprop_wall']:>10.2f} {m['eprop_wall'] / m['floor_wall']:>5.2f} | "
                    f"{m['floor_rss']:>8.1f} {m['eprop_rss']:>8.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

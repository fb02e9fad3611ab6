"""Benchmark `eprop plot` (and `eprop eval`) on a synthetic results file of realistic size.

The file imitates a 5000-iteration handwriting run recorded like the tutorial: per iteration of
1824 steps of 1 ms, multimeter_out records 2 readout neurons at every step (7 fields),
multimeter_rec 1 recurrent neuron at every step (7 fields), the spike recorder ~300 neurons at
~20 spikes/s, and the weight recorder 3000 events of 21 synapses. Writing it takes a few minutes
and ~2 GB of disk, so it is kept and reused (delete it or pass --regenerate).

Every measurement runs in a fresh Python process, which reports its own wall time and peak
resident memory (ru_maxrss), so the numbers are what a user of the command would see.

    .venv/bin/python benchmarks/bench_plot.py [--n-iter 5000] [--dir /tmp/eprop_bench]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eprop.results import ResultsWriter, open_results  # noqa: E402

STEPS = 1824  # time steps per iteration (handwriting task)
RESOLUTION_MS = 1.0  # ms
N_IN, N_REC, N_OUT = 100, 200, 2
RATE_HZ = 20.0  # spikes/s of each recorded spiking neuron
WEIGHT_EVENTS = 3000  # weight recorder events per iteration
FIGURES = ("pattern", "loss", "dynamics_first", "dynamics_last", "weight_courses", "weight_matrices")

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from eprop.cli import report
code = getattr(report, sys.argv[1])(sys.argv[2:])
wall = time.perf_counter() - t0
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps({"code": code, "wall_s": wall, "peak_rss_mb": rss_mb, "nest": "nest" in sys.modules}), file=sys.stderr)
"""


def write_benchmark_file(path: Path, n_iter: int, seed: int = 0) -> None:
    """Write the synthetic run; draw order of the local RandomState: templates first, then per iteration noise."""
    rng = np.random.RandomState(seed)
    ids_in = np.arange(1, N_IN + 1)
    ids_rec = np.arange(N_IN + 1, N_IN + N_REC + 1)
    ids_out = np.arange(N_IN + N_REC + 1, N_IN + N_REC + N_OUT + 1)
    t_step = np.arange(STEPS) * RESOLUTION_MS
    phase = 2 * np.pi * t_step / (STEPS * RESOLUTION_MS)
    target = np.array([np.sin(3 * phase) * np.cos(phase), np.sin(2 * phase)])
    noise = rng.standard_normal((N_OUT, STEPS)).cumsum(axis=1) / np.sqrt(STEPS)

    n_spikes = int(RATE_HZ * (N_IN + N_REC) * STEPS * RESOLUTION_MS / 1000.0)
    spike_senders = rng.choice(np.r_[ids_in, ids_rec], size=n_spikes)
    spike_steps = np.sort(rng.randint(0, STEPS, size=n_spikes))

    pairs = (
        [(s, t) for s in ids_in[:3] for t in ids_rec[:3]]
        + [(s, t) for s in ids_rec[:3] for t in ids_rec[:3] if s != t]
        + [(s, t) for s in ids_rec[:3] for t in ids_out]
    )
    pick = rng.randint(0, len(pairs), size=WEIGHT_EVENTS)
    wr_senders = np.array([pairs[i][0] for i in pick])
    wr_targets = np.array([pairs[i][1] for i in pick])
    wr_steps = np.sort(rng.randint(0, STEPS, size=WEIGHT_EVENTS))

    def all_to_all(sources, targets, scale):
        s, t = np.meshgrid(sources, targets, indexing="ij")
        keep = s != t
        return {"source": s[keep], "target": t[keep], "weight": rng.standard_normal(keep.sum()) * scale}

    initial = {
        "in_rec": all_to_all(ids_in, ids_rec, 1 / np.sqrt(N_IN)),
        "rec_rec": all_to_all(ids_rec, ids_rec, 1 / np.sqrt(N_REC)),
        "rec_out": all_to_all(ids_rec, ids_out, 1 / np.sqrt(N_REC)),
        "out_rec": all_to_all(ids_out, ids_rec, 1 / np.sqrt(N_REC)),
    }
    final = {k: dict(v, weight=v["weight"] + 0.1 * rng.standard_normal(len(v["weight"]))) for k, v in initial.items()}
    w_initial = {(s, t): w for p in initial.values() for s, t, w in zip(p["source"], p["target"], p["weight"])}
    w_final = {(s, t): w for p in final.values() for s, t, w in zip(p["source"], p["target"], p["weight"])}
    pair_w0 = np.array([w_initial[p] for p in pairs])
    pair_dw = np.array([w_final[p] - w_initial[p] for p in pairs])

    config = {"task": {"name": "handwriting", "n_iter": n_iter}, "neuron": {"rec": {"f_target": 20.0}}}
    attrs = {
        "n_iter": n_iter,
        "config_yaml": yaml.safe_dump(config),
        "overrides": [f"task.n_iter={n_iter}"],
        "steps_per_sequence": STEPS,
        "resolution_ms": RESOLUTION_MS,
        "n_out": N_OUT,
        "seed": seed,
        "nest_version": "synthetic",
        "total_num_virtual_procs": 1,
    }
    writer = ResultsWriter(path, n_out=N_OUT, attrs=attrs)
    writer.write_array("target", target)
    writer.write_neurons({"input": ids_in, "recurrent": ids_rec, "readout": ids_out})
    writer.write_weights("initial", initial)
    f8 = "f8"
    writer.declare_recorder(
        "multimeter_out",
        {
            "senders": "i8",
            "times": f8,
            "V_m": f8,
            "readout_signal": f8,
            "readout_signal_unnorm": f8,
            "target_signal": f8,
            "error_signal": f8,
        },
    )
    writer.declare_recorder(
        "multimeter_rec",
        {
            "senders": "i8",
            "times": f8,
            "V_m": f8,
            "surrogate_gradient": f8,
            "learning_signal": f8,
            "V_th_adapt": f8,
            "adaptation": f8,
        },
    )
    writer.declare_recorder("spike_recorder", {"senders": "i8", "times": f8})
    writer.declare_recorder("weight_recorder", {"senders": "i8", "targets": "i8", "times": f8, "weights": f8})
    v_rec = rng.standard_normal(STEPS).cumsum() * 0.01
    start = time.perf_counter()
    for k in range(n_iter):
        t0 = 4.0 + k * STEPS * RESOLUTION_MS
        progress = np.exp(-k / (n_iter / 5))
        readout = target + progress * noise + 0.02 * rng.standard_normal((N_OUT, STEPS))
        out = {
            "senders": np.repeat(ids_out, STEPS),
            "times": np.tile(t0 + t_step, N_OUT),
            "readout_signal": readout.ravel(),
            "target_signal": target.ravel(),
            "error_signal": (readout - target).ravel(),
        }
        out["V_m"] = out["readout_signal_unnorm"] = 10.0 * out["readout_signal"]
        rec = {
            "senders": np.full(STEPS, ids_rec[0]),
            "times": t0 + t_step,
            "V_m": v_rec,
            "surrogate_gradient": np.clip(1 - np.abs(v_rec), 0, None),
            "learning_signal": progress * v_rec,
            "V_th_adapt": 0.03 + 0.01 * np.abs(v_rec),
            "adaptation": 0.01 * np.abs(v_rec),
        }
        spikes = {"senders": spike_senders, "times": t0 + spike_steps * RESOLUTION_MS}
        fraction = (k + 1) / n_iter
        wr_weights = pair_w0[pick] + fraction * pair_dw[pick]  # pA, linear drift from initial to final
        wr = {
            "senders": wr_senders,
            "targets": wr_targets,
            "times": t0 + wr_steps * RESOLUTION_MS,
            "weights": wr_weights,
        }
        loss = 0.5 * ((readout - target) ** 2).sum(axis=1)
        writer.append_iteration(
            loss, {"multimeter_out": out, "multimeter_rec": rec, "spike_recorder": spikes, "weight_recorder": wr}
        )
        if (k + 1) % 500 == 0:
            print(f"  wrote {k + 1}/{n_iter} iterations ({time.perf_counter() - start:.0f} s)", flush=True)
    writer.write_weights("final", final)
    writer.finish(
        "complete", {"timing_build_s": 1.0, "timing_simulate_s": 1.0, "timing_write_s": 1.0, "peak_rss_mb": 0.0}
    )
    writer.close()


def run_child(function: str, argv: list[str]) -> dict:
    """Run report.<function>(argv) in a fresh interpreter; its wall time (s) and peak RSS (MB)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, function, *argv], capture_output=True, text=True, env=env, cwd=REPO
    )
    measured = json.loads(proc.stderr.strip().splitlines()[-1])
    if measured["code"] != 0:
        raise SystemExit(f"{function} {argv} failed:\n{proc.stderr}")
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-iter", type=int, default=5000, help="iterations in the synthetic file (default 5000)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/eprop_bench"), help="where to keep the file")
    parser.add_argument("--regenerate", action="store_true", help="rewrite the file even if it exists")
    args = parser.parse_args()

    path = args.dir / f"iter{args.n_iter}" / "results.h5"
    if path.exists() and not args.regenerate:
        with open_results(path) as results:
            reusable = results.status == "complete" and results.n_iter_done == args.n_iter
        if not reusable:
            path.unlink()
    elif path.exists():
        path.unlink()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"writing {path} ({args.n_iter} iterations) ...", flush=True)
        start = time.perf_counter()
        write_benchmark_file(path, args.n_iter)
        print(f"  written in {time.perf_counter() - start:.1f} s")
    size_gb = path.stat().st_size / 1e9
    with open_results(path) as results:
        events = {r: int(results.file["events"][r]["iteration_start"][-1]) for r in results.recorders}
    print(f"file: {path} ({size_gb:.2f} GB); events: " + ", ".join(f"{r} {n:,}" for r, n in events.items()))
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")

    out = args.dir / "figures"
    rows = [("eprop plot (all figures, png, 300 dpi)", run_child("plot_main", [str(path), "--out", str(out)]))]
    for name in FIGURES:
        rows.append(
            (f"eprop plot --only {name}", run_child("plot_main", [str(path), "--out", str(out), "--only", name]))
        )
    rows.append(("eprop eval (incl. loss recomputation)", run_child("eval_main", [str(path)])))
    rows.append(("eprop eval --json", run_child("eval_main", [str(path), "--json"])))
    print()
    print("| command | wall time (s) | peak RSS (MB) |")
    print("|---|---:|---:|")
    for label, m in rows:
        print(f"| {label} | {m['wall_s']:.2f} | {m['peak_rss_mb']:.0f} |")
    if any(m["nest"] for _, m in rows):
        raise SystemExit("nest was imported by plot or eval")


if __name__ == "__main__":
    main()

"""SIGKILL safety of the flushed iterations: kill runs at random moments and read every file back.

    python benchmarks/bench_sigkill.py [--runs 10] [--earliest 3.0] [--latest 8.0] [--seed 0] [OVERRIDE ...]

Starts `eprop run OVERRIDES task.n_iter=40 progress=false` in a fresh process per run, sends it
SIGKILL at a uniformly drawn time between --earliest and --latest seconds after the start, then
opens the file as `eprop eval`/`plot` do and checks every flushed iteration:

- /loss, /loss_per_output and /events_recorded hold n_iter_done values;
- every recorder's iteration_start holds n_iter_done + 1 indices, ascending, with an empty slice
  exactly where /events_recorded says 0;
- every flushed event of every recorder reads back, and the readout events of each recorded
  iteration give its stored loss (0.5 sum (y - y*)^2, rel. 1e-12).

Prints one line per run (flushed iterations, of them with events, damaged or not) and a summary.
Default overrides: a recording schedule that alternates kept and skipped iterations in the first
seconds, `recording=minimal recording.events_every=3 recording.events_first=2`.
Set EPROP_DATA_DIR to a folder with chaos_handwriting.txt if the machine is offline.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_OVERRIDES = ("recording=minimal", "recording.events_every=3", "recording.events_first=2")


def check_file(run_dir: Path) -> tuple[int, int, str]:
    """(flushed iterations, of them with events, "" or what is damaged) of a killed run's file."""
    from eprop.results import open_results

    try:
        with open_results(run_dir) as res:
            n = res.n_iter_done
            flags = res.file["events_recorded"][:n]
            if len(res.loss) != n or res.loss_per_output.shape[1] != n or flags.size != n:
                return n, -1, "loss or events_recorded shorter than n_iter_done"
            for recorder in res.recorders:
                starts = res.iteration_starts(recorder)
                if starts.size != n + 1 or np.any(np.diff(starts) < 0):
                    return n, -1, f"{recorder}: iteration_start inconsistent"
                if np.any((np.diff(starts) > 0) & (flags == 0)):
                    return n, -1, f"{recorder}: events in an iteration marked as not recorded"
                events = res.events(recorder)
                if any(values.size != starts[-1] for values in events.values()):
                    return n, -1, f"{recorder}: fields of different lengths"
            out = res.events("multimeter_out", ["readout_signal", "target_signal"])
            starts = res.iteration_starts("multimeter_out")
            for k in res.recorded_iterations("multimeter_out").tolist():
                part = slice(int(starts[k]), int(starts[k + 1]))
                loss = 0.5 * np.sum((out["readout_signal"][part] - out["target_signal"][part]) ** 2)
                if not np.isclose(loss, res.loss[k], rtol=1e-12, atol=0):
                    return n, -1, f"iteration {k + 1}: events give loss {loss}, /loss holds {res.loss[k]}"
            return n, int(flags.sum()), ""
    except Exception as exc:  # noqa: BLE001 (what a user would meet: any exception is damage)
        return -1, -1, f"{type(exc).__name__}: {exc}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--earliest", type=float, default=3.0, help="s after the start")
    parser.add_argument("--latest", type=float, default=8.0, help="s after the start")
    parser.add_argument("--seed", type=int, default=0, help="of the kill times")
    parser.add_argument("overrides", nargs="*", default=list(DEFAULT_OVERRIDES))
    args = parser.parse_args()
    draw = random.Random(args.seed)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    root = Path(tempfile.mkdtemp(prefix="eprop_sigkill_"))
    damaged, flushed = 0, []
    print(
        f"eprop run {' '.join(args.overrides)} task.n_iter=40 progress=false; SIGKILL {args.earliest}-{args.latest} s after the start"
    )
    for i in range(args.runs):
        run_dir = root / f"run{i}"
        at = draw.uniform(args.earliest, args.latest)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "eprop.cli.main",
                "run",
                *args.overrides,
                "task.n_iter=40",
                "progress=false",
                f"hydra.run.dir={run_dir}",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(at)
        proc.kill()
        proc.wait()
        if not (run_dir / "results.h5").exists():
            print(f"run {i}: killed at {at:.2f} s, before the first iteration (results.h5.starting only)")
            continue
        n, with_events, problem = check_file(run_dir)
        damaged += bool(problem)
        flushed.append(n)
        print(
            f"run {i}: killed at {at:.2f} s, {n} flushed iterations, {with_events} with events, "
            f"{'DAMAGED: ' + problem if problem else 'intact'}"
        )
    print(
        f"{damaged} of {len(flushed)} files damaged; flushed iterations {min(flushed, default=0)}-{max(flushed, default=0)}; files in {root}"
    )
    return 1 if damaged else 0


if __name__ == "__main__":
    raise SystemExit(main())

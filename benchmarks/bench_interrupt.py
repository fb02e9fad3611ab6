"""What an interruption costs: iteration time, the final-update step, writing the final state.

    python benchmarks/bench_interrupt.py [--task handwriting] [--recording tutorial] [--stop-after 3] [--repeats 3]

Trains in this process with `train()` and sends itself SIGINT from the progress callback after
`--stop-after` iterations, exactly as Ctrl-C would (the signal lands at an iteration boundary,
so the next loop check stops the run). Reports, per repeat:

- the mean wall time of one iteration (simulation + HDF5 append);
- the final-update step (`simulator.apply_pending_updates`: one spike to every e-prop synapse
  and the few steps NEST needs to deliver it);
- reading the weights and Adam moments from NEST and writing /weights/final and /optimizer.

Set EPROP_DATA_DIR to a folder with chaos_handwriting.txt if the machine is offline.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYNEST_QUIET", "1")


def compose(*overrides: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from eprop.cli.main import conf_dir
    from eprop.config.lookup import with_plain_choices
    from eprop.config.store import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return with_plain_choices(hydra_compose("config", overrides=list(overrides)))  # NEST takes str, not Enums


def timed(function, times: list[float]):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            times.append(time.perf_counter() - t0)

    return wrapper


def one_interrupted_run(task: str, recording: str, stop_after: int, run_dir: Path) -> dict[str, float]:
    from eprop import simulator
    from eprop.errors import Interrupted
    from eprop.results import ResultsWriter, open_results
    from eprop.training import loop as train_module

    cfg = compose(f"task={task}", f"recording={recording}", "task.n_iter=1000", "progress=false")
    update_s: list[float] = []
    read_s: list[float] = []
    write_s: list[float] = []
    originals = (
        simulator.apply_pending_updates,
        simulator.read_weights,
        ResultsWriter.write_weights,
        ResultsWriter.write_optimizer_state,
    )
    simulator.apply_pending_updates = timed(originals[0], update_s)
    simulator.read_weights = timed(originals[1], read_s)
    ResultsWriter.write_weights = timed(originals[2], write_s)
    ResultsWriter.write_optimizer_state = timed(originals[3], write_s)

    def on_iteration(k: int, loss: float, total: int | None = None) -> None:
        if k + 1 == stop_after:
            os.kill(os.getpid(), signal.SIGINT)

    try:
        train_module.train(cfg, run_dir, on_iteration=on_iteration)
        raise SystemExit("the run was not interrupted")
    except Interrupted:
        pass
    finally:
        (
            simulator.apply_pending_updates,
            simulator.read_weights,
            ResultsWriter.write_weights,
            ResultsWriter.write_optimizer_state,
        ) = originals
    with open_results(run_dir) as res:
        attrs = res.attrs
        assert res.status == "interrupted" and res.n_iter_done == stop_after
    return {
        "iteration_s": (attrs["timing_simulate_s"] + attrs["timing_write_s"]) / stop_after,
        "final_update_s": sum(update_s),
        # write_s also holds /weights/initial, written before the first iteration
        "final_state_s": sum(read_s) + sum(write_s[1:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="handwriting")
    parser.add_argument("--recording", default="tutorial")
    parser.add_argument("--stop-after", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            rows.append(one_interrupted_run(args.task, args.recording, args.stop_after, Path(tmp) / f"run{repeat}"))
    print(
        f"task={args.task} recording={args.recording}, {args.repeats} runs stopped after {args.stop_after} iterations"
    )
    for key in ("iteration_s", "final_update_s", "final_state_s"):
        values = [row[key] for row in rows]
        print(f"  {key:15s} median {statistics.median(values):.4f} s   (min {min(values):.4f}, max {max(values):.4f})")


if __name__ == "__main__":
    main()

"""One training run: config -> task signals -> network -> simulate in chunks -> HDF5.

`train(cfg, run_dir)` knows nothing of Hydra's command line: it takes a composed config and
a directory and returns the final loss. The CLI (cli.py) wraps it for `eprop run`.
"""

from __future__ import annotations

import datetime as dt
import logging
import resource
import signal
import subprocess
import time
from importlib import metadata
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
from omegaconf import DictConfig, OmegaConf

from . import __version__
from . import signals as sig
from . import simulator
from .validation import validate
from .errors import UserError
from .results import ResultsWriter
from .resume import Parent

log = logging.getLogger(__name__)

PACKAGES = ("nest-simulator", "numpy", "h5py", "hydra-core", "omegaconf", "matplotlib", "rich", "pooch")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def package_versions() -> dict[str, str]:
    versions = {"eprop": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str:
    """The commit of the eprop source tree, or "" when it is not a git checkout."""
    source = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def iteration_loss(readout: dict[str, np.ndarray], readout_ids: np.ndarray, timing: sig.Timing) -> np.ndarray:
    """Loss per output of one iteration: 0.5 * sum_t (y - y*)^2 per sequence, averaged over the batch.

    `readout` holds the readout multimeter's events of exactly this iteration.
    """
    losses = []
    for node in readout_ids:
        mine = readout["senders"] == node
        error = (readout["readout_signal"][mine] - readout["target_signal"][mine]) ** 2
        if error.size != timing.iteration:
            raise RuntimeError(f"readout {node}: {error.size} samples in an iteration of {timing.iteration} steps")
        per_sequence = 0.5 * np.add.reduceat(error, np.arange(0, timing.iteration, timing.sequence))
        losses.append(per_sequence.mean() if per_sequence.size > 1 else per_sequence[0])
    return np.array(losses)


class Diverged(UserError):
    """Training blew up: a loss that is not finite, or a saturated recurrent firing rate.

    The results file keeps every finished iteration (the one that diverged included) and gets
    status "diverged"; the CLI prints the one-line message and exits with code 3.
    """

    EXIT_CODE = 3

    def __init__(self, message: str):
        super().__init__(message, exit_code=self.EXIT_CODE)


def max_rate(cfg) -> float:
    """The highest firing rate a recurrent neuron can have, in spikes/s: one spike per step, none within t_ref."""
    return 1000.0 / max(float(cfg.kernel.resolution), float(cfg.neuron.rec.t_ref))


def divergence(cfg, loss: np.ndarray, spikes: dict[str, np.ndarray] | None, recurrent_ids: np.ndarray, timing: sig.Timing) -> str | None:
    """What blew up in one iteration, or None.

    - the loss of an output is NaN or infinite;
    - the mean recurrent firing rate of the iteration (recorded recurrent spikes / neurons /
      iteration duration) exceeds recording.saturated_rate x max_rate(cfg). Without recorded
      recurrent spikes (recording.spikes_recurrent=false) only the loss is checked.
    """
    bad = loss[~np.isfinite(loss)]
    if bad.size:
        return f"loss is {bad[0]}"
    if spikes is None or not cfg.recording.spikes_recurrent:
        return None
    n_spikes = np.count_nonzero(np.isin(spikes["senders"], recurrent_ids))
    rate = n_spikes / recurrent_ids.size / (timing.ms(timing.iteration) / 1000.0)
    limit = cfg.recording.saturated_rate * max_rate(cfg)
    if rate > limit:
        return (f"mean recurrent rate {rate:.4g} spikes/s exceeds recording.saturated_rate={cfg.recording.saturated_rate:g} "
                f"x {max_rate(cfg):.4g} spikes/s (the maximal rate)")
    return None


class StopRequest:
    """SIGINT/SIGTERM: the first asks to stop at the next iteration boundary, the second stops at once."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequest":
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread (e.g. a launcher's worker thread)
                pass
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame) -> None:
        if self.signal_name is not None:
            raise KeyboardInterrupt(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name

    @property
    def requested(self) -> bool:
        return self.signal_name is not None


class Interrupted(Exception):
    """Training stopped early by a signal; the results file is marked interrupted."""

    def __init__(self, signal_name: str, n_iter_done: int, n_iter: int, run_dir: Path, complete: bool = False):
        if complete:
            message = f"{signal_name} during the last iteration; the run is complete: {run_dir}"
        else:
            message = (f"{signal_name} after {n_iter_done} of {n_iter} iterations; results kept in {run_dir}; "
                       f"continue with: eprop run resume={run_dir}")
        super().__init__(message)
        self.signal_name = signal_name
        self.n_iter_done = n_iter_done
        self.run_dir = run_dir
        self.exit_code = 130


def train(
    cfg: DictConfig,
    run_dir: str | Path,
    overrides: list[str] | None = None,
    on_iteration: Callable[[int, float], None] | None = None,
    parent: Parent | None = None,
) -> float:
    """Run one training and write `run_dir/<output.file>`; returns the final loss.

    `on_iteration(k, loss)` is called after each finished iteration k (counted from 0 over the
    whole training, a parent run's iterations included; the progress bar). `parent` continues
    a previous run (see resume.py): training starts at its `n_iter_done`.
    """
    t0 = time.perf_counter()
    validate(cfg)
    run_dir = Path(run_dir)
    if (run_dir / cfg.output.file).exists():
        raise UserError(f"{run_dir / cfg.output.file}: exists already; eprop never overwrites results, choose another run directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    data = sig.load_task_data(cfg.task)
    steps = sig.sequence_steps(cfg.task, data)
    first_iteration = parent.n_iter_done if parent else 0
    timing = replace(sig.make_timing(cfg.task, cfg.kernel.resolution, steps), n_iter=cfg.task.n_iter - first_iteration)

    rng = np.random.RandomState(cfg.seed)
    weights, input_spikes, target = sig.draw_signals(cfg, data, steps, rng)  # draw order: see signals.py

    simulator.reset_kernel(cfg, timing)
    net = simulator.build_network(cfg, timing, weights, input_spikes, target)
    info = simulator.nest_info()
    attrs = {
        "config_yaml": OmegaConf.to_yaml(cfg, resolve=True),
        "config_source_yaml": OmegaConf.to_yaml(cfg),  # with its ${...} derivations, for resume
        "overrides": list(overrides or []),
        "task": cfg.task.name,
        "n_iter": cfg.task.n_iter,
        "n_out": int(target.shape[0]),
        "steps_per_sequence": steps,
        "batch_size": cfg.task.batch_size,
        "resolution_ms": float(cfg.kernel.resolution),
        "seed": cfg.seed,
        "numpy_seed": cfg.seed,
        "nest_rng_seed": cfg.seed,
        "total_num_virtual_procs": simulator.num_virtual_procs(),
        "local_num_threads": cfg.kernel.threads,
        "nest_version": info["version"],
        "nest_build_info": info["build_info"],
        "package_versions": package_versions(),
        "git_commit": git_commit(),
        "eprop_version": __version__,
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "first_iteration": first_iteration,
        "parent_run": str(parent.run_dir) if parent else "",
    }
    writer = ResultsWriter(run_dir / cfg.output.file, int(target.shape[0]), attrs, cfg.output.compress_events)
    try:
        if parent and parent.optimizer_state:
            simulator.set_optimizer_state(net, parent.optimizer_state)
        writer.write_array("target", target)
        writer.write_neurons({name: pop.tolist() for name, pop in net.populations.items()})
        writer.write_weights("initial", simulator.weights_as_connected(net, weights))
        for name, fields in net.recorder_fields.items():
            writer.declare_recorder(name, {f: ("i8" if f in ("senders", "targets") else "f8") for f in fields})
        t_build = time.perf_counter() - t0
        t_sim = t_write = 0.0
        readout_ids = np.asarray(net.nrns_out.tolist())
        recurrent_ids = np.asarray(net.nrns_rec.tolist())
        chunk_ends = timing.chunk_ends(lag=simulator.min_delay_steps(timing))
        now = 0
        blew_up = None
        with StopRequest() as stop:
            for k in range(timing.n_iter):
                if stop.requested or blew_up:
                    break
                t1 = time.perf_counter()
                simulator.load_generators(net, range(k, min(k + 2, timing.n_iter)), now)
                simulator.simulate_until(net, chunk_ends[k])
                now = chunk_ends[k]
                events = simulator.read_and_clear(net)
                t2 = time.perf_counter()
                loss = iteration_loss(events["multimeter_out"], readout_ids, timing)
                writer.append_iteration(loss, events)
                t3 = time.perf_counter()
                t_sim += t2 - t1
                t_write += t3 - t2
                if on_iteration is not None:
                    on_iteration(first_iteration + k, float(loss.sum()))
                what = divergence(cfg, loss, events.get("spike_recorder"), recurrent_ids, timing)
                if what:
                    blew_up = f"diverged at iteration {first_iteration + k + 1} of {cfg.task.n_iter}: {what}"
            stopped_early = writer.n_iter_done < timing.n_iter
            if stopped_early:
                now = simulator.apply_pending_updates(net, now)
            final_weights, optimizer_state = simulator.read_weights(net)
            writer.write_weights("final", final_weights)
            writer.write_optimizer_state(optimizer_state)
        timings = {
            "timing_build_s": t_build,
            "timing_simulate_s": t_sim,
            "timing_write_s": t_write,
            "timing_total_s": time.perf_counter() - t0,
            "peak_rss_mb": peak_rss_mb(),
            "finished": dt.datetime.now().isoformat(timespec="seconds"),
        }
        if blew_up:
            writer.finish("diverged", {**timings, "error": blew_up})
            raise Diverged(f"{blew_up}; results kept in {run_dir}")
        if stopped_early:
            writer.finish("interrupted", timings)
            raise Interrupted(stop.signal_name or "signal", first_iteration + writer.n_iter_done, cfg.task.n_iter, run_dir)
        writer.finish("complete", timings)
        final_loss = float(np.sum(loss))
        log.info("final loss %.6g after %d iterations (%.1f s)", final_loss, writer.n_iter_done, timings["timing_total_s"])
        if stop.requested:  # the signal came during the last iteration: the run is complete, but stop a sweep
            raise Interrupted(stop.signal_name, first_iteration + writer.n_iter_done, cfg.task.n_iter, run_dir, complete=True)
        return final_loss
    except (Interrupted, Diverged):
        raise
    except BaseException as err:
        status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
        writer.finish(status, {"error": f"{type(err).__name__}: {err}", "peak_rss_mb": peak_rss_mb()})
        raise
    finally:
        writer.close()

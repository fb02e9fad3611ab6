"""One training run, in stages: config -> task signals -> network -> simulate in chunks -> HDF5.

`train(cfg, run_dir)` knows nothing of Hydra's command line: it takes a composed config and
a directory and returns the final loss. Its stages:

- `prepare_inputs`: the Task of the config, the timing, the RandomState draws in their
  documented order (weights.py, then the task) and the weights of `weights.load`;
- `build`: a fresh kernel and the network;
- `start_results`: the results file with its provenance, the task's static data, the neurons
  and the initial weights;
- `simulate_iterations`: one Simulate chunk per iteration, its loss, divergence and signals,
  the phase of every iteration from the schedule (phases.py) and its learning rate, set at
  the iteration's first step;
- `finish`: the pending updates of an early stop, the final weights, the status and how the run
  ended (a return value, `Diverged` or `Interrupted`).

Every call into the simulator goes through `sim`, an object with the functions of
eprop.simulator.protocol.Simulator (default: the NEST package eprop.simulator; the fast tests
pass tests/support/fake_simulator.py). The simulator gets the config translated into plain values
(eprop/training/translate.py), never the config itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

import eprop.simulator as simulator
from eprop.config.families import n_recurrent
from eprop.config.phases import PHASE_NAMES, PhaseSchedule, learning_rate
from eprop.config.projections import PROJECTIONS
from eprop.config.timing import Timing, make_timing
from eprop.config.validation import validate
from eprop.errors import Diverged, Interrupted, UserError
from eprop.results import ResultsWriter
from eprop.simulator.protocol import Simulator
from eprop.tasks import IterationSignals, Task, task_for
from eprop.training.divergence import DivergenceCheck, weights_not_finite
from eprop.training.event_schedule import EventSchedule
from eprop.training.provenance import now, peak_rss_mb, run_attributes
from eprop.training.resume import Parent
from eprop.training.stop import StopRequest
from eprop.training.translate import describe_network
from eprop.training.weights import (
    apply_masks,
    as_connections,
    check_masks,
    check_weights_source,
    draw_masks,
    draw_weights,
    replace_with_loaded,
    scale_weights,
)

log = logging.getLogger(__name__)


@dataclass
class Inputs:
    """What a run feeds the network, computed before the simulator is touched."""

    task: Task
    timing: Timing  # this run's iterations (a resumed run: the ones left)
    weights: dict[str, np.ndarray]  # (n_target, n_source) in pA
    first_iteration: int  # iterations done by the parent runs
    schedule: PhaseSchedule  # the phases of the run's iterations (all training without phases.*)
    history_phases: list[int]  # phase of each iteration of the parent runs
    history_errors: list[float]  # their errors, 1 - accuracy (NaN for a regression task)
    first_phase: int  # phase of this run's first iteration
    masks: dict[str, np.ndarray | None] = field(
        default_factory=dict
    )  # connected pairs per projection; None: all to all


@dataclass
class Progress:
    """Where `simulate_iterations` stopped."""

    now: int = 0  # step the simulation has reached
    loss: np.ndarray | None = None  # per output, of the last finished iteration
    diverged: str | None = None  # what blew up, or None
    t_sim: float = 0.0  # s
    t_write: float = 0.0  # s
    over: bool = False  # the schedule has no iteration left: the run is complete
    total: int = 0  # iterations of the whole training (parents included), at most, as known now


def prepare_inputs(cfg: DictConfig, parent: Parent | None = None) -> Inputs:
    """The Task, the timing and the weights, drawn from `RandomState(seed)` in the documented order."""
    task = task_for(cfg)  # the Task validate() checked: its data file is parsed once
    first_iteration = parent.n_iter_done if parent else 0
    schedule = PhaseSchedule.from_config(cfg)
    phases, errors = parent_history(parent)
    try:
        first_phase = schedule.next_phase(phases, errors)
        n_max = schedule.max_iterations(phases, errors)  # this run's Timing covers the longest schedule
    except ValueError as err:
        raise UserError(
            f"resume: the parent runs' phases do not follow this run's schedule (task.n_iter, phases.*): {err}"
        )
    if first_phase is None:
        raise UserError(
            f"resume: the parent runs have finished the phase schedule ({len(phases)} iterations); nothing is left to run"
        )
    timing = make_timing(
        cfg.task, cfg.kernel.resolution, task.sequence_steps, task.learning_window_steps, task.sequences_per_iteration
    )
    timing = replace(timing, n_iter=n_max - first_iteration)
    rng = np.random.RandomState(cfg.seed)
    inits = {name: cfg.weights[name].init for name in PROJECTIONS}
    weights = draw_weights(
        rng, task.n_inputs, n_recurrent(cfg), task.n_outputs, cfg.synapse.weight_dtype, inits
    )  # draws 1-4
    sparsities = {name: cfg.weights[name].get("sparsity") for name in PROJECTIONS}
    masks = draw_masks(rng, weights, sparsities)  # draws 5-8, only for the projections with a sparsity
    task.draw(rng)  # then the task's draws: see the task's module
    task.start_at(first_iteration, phases)  # a task that draws per iteration skips the parents' iterations
    weights = scale_weights(weights, cfg.weights)
    if cfg.weights.load is not None:
        weights, masks = replace_with_loaded(cfg.weights.load, weights, masks, sparsities)
    check_masks(masks, sparsities)
    return Inputs(
        task, timing, apply_masks(weights, masks), first_iteration, schedule, phases, errors, first_phase, masks
    )


def parent_history(parent: Parent | None) -> tuple[list[int], list[float]]:
    """The phases and errors of the parent runs' iterations (all training, errors NaN, if the parent does not say)."""
    if parent is None:
        return [], []
    if parent.phases is None:
        return [0] * parent.n_iter_done, [float("nan")] * parent.n_iter_done
    return [int(p) for p in parent.phases], [float(e) for e in parent.errors]


def build(cfg: DictConfig, inputs: Inputs, sim: Simulator):
    """A fresh kernel with the network of `inputs`; returns the simulator's network object.

    The simulator gets the config as plain values (config/translate.py). The synapses get the
    learning rate of the first phase before they are connected (0 if the run starts with a
    validation): NEST 3.10 uses the first rate ever set for a synapse's first step.
    """
    network = describe_network(cfg)
    sim.reset_kernel(network.kernel, inputs.timing)
    network = network.with_learning_rate(learning_rate(inputs.first_phase, cfg.optimizer.eta))
    return sim.build_network(network, inputs.timing, inputs.weights, inputs.masks)


def start_results(writer: ResultsWriter, inputs: Inputs, net, parent: Parent | None, sim: Simulator) -> None:
    """The parent's optimizer state into the network; the task's data, neurons, initial weights and recorders into the file."""
    if parent and parent.optimizer_state:
        sim.set_optimizer_state(net, parent.optimizer_state)
    inputs.task.write_static(writer)
    inputs.task.declare_results(writer)
    if inputs.task.kind == "classification":
        writer.declare_phases(PHASE_NAMES)
    populations = {name: np.asarray(pop.tolist()) for name, pop in net.populations.items()}
    writer.write_neurons({name: ids.tolist() for name, ids in populations.items()})
    writer.write_weights("initial", as_connections(inputs.weights, populations, inputs.masks))
    for name, fields in net.recorder_fields.items():
        writer.declare_recorder(name, {f: ("i8" if f in ("senders", "targets") else "f8") for f in fields})


def simulate_iterations(
    cfg: DictConfig,
    inputs: Inputs,
    net,
    writer: ResultsWriter,
    sim: Simulator,
    stop: StopRequest,
    on_iteration: Callable[[int, float, int], None] | None = None,
) -> Progress:
    """Simulate one chunk per iteration until the schedule is over, a stop request or a divergence.

    The generators hold the signals of the current and the next iteration; the task is asked
    for each iteration's signals once, in increasing order, with the iteration's phase (a task
    may draw its inputs from another source outside training, as nmnist does).
    At the start of chunk k the phase of iteration k + 1 is decided (the schedule needs the
    errors up to iteration k - 1 only, and chunk k - 1 has ended 5 ms into iteration k, where
    NEST's example scores it); if its learning rate differs, chunk k is split at the first step
    of iteration k + 1 and the rate set there, as the example sets it. Every iteration's loss is
    written, its recorder events only if the recording schedule (event_schedule.py) keeps the
    iteration or the run ends with it (the last iteration, a stop request, a divergence).
    """
    task, timing, first, schedule = inputs.task, inputs.timing, inputs.first_iteration, inputs.schedule
    readout_ids = np.asarray(net.populations["readout"].tolist())
    recurrent_ids = np.asarray(net.populations["recurrent"].tolist())
    lag = sim.min_delay_steps(timing)
    recording = EventSchedule.from_config(cfg)
    check = DivergenceCheck(cfg, recurrent_ids, timing)
    progress = Progress(total=first + timing.n_iter)
    signals: dict[int, IterationSignals] = {}
    phases, errors = list(inputs.history_phases), list(inputs.history_errors)
    eta = float(cfg.optimizer.eta)
    phase: int | None = inputs.first_phase
    k = 0
    while phase is not None and k < timing.n_iter:
        if stop.requested or progress.diverged:
            break
        t1 = time.perf_counter()
        phases.append(phase)
        following = schedule.next_phase(phases, errors)
        upcoming = {k: phase, k + 1: following} if following is not None else {k: phase}
        signals = {j: signals[j] if j in signals else task.iteration_signals(j, p) for j, p in upcoming.items()}
        sim.load_generators(net, signals, progress.now)
        if following is not None and learning_rate(following, eta) != learning_rate(phase, eta):
            boundary = (k + 1) * timing.iteration  # the first step of iteration k + 1
            if boundary <= progress.now:
                raise UserError(
                    f"an iteration of {timing.iteration} time steps is too short to change the learning rate "
                    f"at its start (chunks end {progress.now - k * timing.iteration} steps into it); "
                    "lengthen the sequences or task.batch_size"
                )
            sim.simulate_until(net, boundary)
            sim.set_learning_rate(net, learning_rate(following, eta))
        sim.simulate_until(net, timing.chunk_end(k, lag))
        progress.now = timing.chunk_end(k, lag)
        events = sim.read_and_clear(net)
        t2 = time.perf_counter()
        outcome = task.iteration_outcome(events["multimeter_out"], readout_ids, timing)
        what = check.check(first + k, outcome.loss, events)
        ends_run = following is None or k == timing.n_iter - 1 or stop.requested or bool(what)
        writer.append_iteration(
            outcome.loss,
            events,
            outcome.metrics,
            outcome.per_sequence,
            write_events=ends_run or recording.records(first + k),
            phase=phase,
        )
        t3 = time.perf_counter()
        errors.append(1.0 - outcome.metrics["accuracy"] if "accuracy" in outcome.metrics else float("nan"))
        progress.t_sim += t2 - t1
        progress.t_write += t3 - t2
        progress.loss = outcome.loss
        progress.total = schedule.max_iterations(phases, errors)
        if on_iteration is not None:
            on_iteration(first + k, float(outcome.loss.sum()), progress.total)
        if what:
            progress.diverged = f"diverged at iteration {first + k + 1} of {of_total(inputs, progress)}: {what}"
        phase = following
        k += 1
    progress.over = phase is None
    check.at_end()  # one warning line if the recurrent layer is silent at the end
    return progress


def of_total(inputs: Inputs, progress: Progress) -> str:
    """The iterations of the whole training, as messages show them: task.n_iter, or "at most N" with phases."""
    if inputs.schedule.trains_only:
        return str(inputs.schedule.n_train)
    return f"at most {progress.total}"


def finish(
    cfg: DictConfig,
    run_dir: Path,
    inputs: Inputs,
    net,
    writer: ResultsWriter,
    progress: Progress,
    stop: StopRequest,
    sim: Simulator,
    started: float,
    t_build: float,
) -> float:
    """Final weights (after the pending updates of an early stop) and the status; returns the final loss.

    Raises Diverged (status diverged) or Interrupted (status interrupted, or complete when the
    signal came during the last iteration, so that a sweep stops too).
    """
    stopped_early = not progress.over
    if writer.n_iter_done < inputs.timing.n_iter:  # the final-update spike comes after the longest schedule
        progress.now = sim.apply_pending_updates(net, progress.now)
    final_weights, optimizer_state = sim.read_weights(net)
    done = inputs.first_iteration + writer.n_iter_done
    if not progress.diverged and (bad := weights_not_finite(final_weights)):  # e.g. NaN learnt in a silent network
        progress.diverged = f"diverged at iteration {done} of {of_total(inputs, progress)}: {bad}"
    writer.write_weights("final", final_weights)
    writer.write_optimizer_state(optimizer_state)
    timings = {
        "timing_build_s": t_build,
        "timing_simulate_s": progress.t_sim,
        "timing_write_s": progress.t_write,
        "timing_total_s": time.perf_counter() - started,
        "peak_rss_mb": peak_rss_mb(),
        "finished": now(),
    }
    if progress.diverged:
        writer.finish("diverged", {**timings, "error": progress.diverged})
        raise Diverged(f"{progress.diverged}; results kept in {run_dir}")
    if stopped_early:
        writer.finish("interrupted", timings)
        raise Interrupted(stop.signal_name or "signal", done, of_total(inputs, progress), run_dir)
    writer.finish("complete", timings)
    final_loss = float(np.sum(progress.loss))
    log.info("final loss %.6g after %d iterations (%.1f s)", final_loss, writer.n_iter_done, timings["timing_total_s"])
    if stop.requested:  # the signal came during the last iteration: the run is complete, but stop a sweep
        raise Interrupted(stop.signal_name, done, of_total(inputs, progress), run_dir, complete=True)
    return final_loss


def train(
    cfg: DictConfig,
    run_dir: str | Path,
    overrides: list[str] | None = None,
    on_iteration: Callable[[int, float, int], None] | None = None,
    parent: Parent | None = None,
    sim: Simulator | None = None,
) -> float:
    """Run one training and write `run_dir/<output.file>`; returns the final loss.

    `on_iteration(k, loss, total)` is called after each finished iteration k (counted from 0 over
    the whole training, a parent run's iterations included; the progress bar), with the number
    of iterations the training has at most as known then (task.n_iter without phases). `parent` continues
    a previous run (see resume.py): training starts at its `n_iter_done`. `sim` replaces the
    NEST simulator (tests).
    """
    started = time.perf_counter()
    sim = simulator if sim is None else sim
    validate(cfg)
    check_weights_source(cfg.weights.load)
    run_dir = Path(run_dir)
    path = run_dir / cfg.output.file
    if path.exists():
        raise UserError(f"{path}: exists already; eprop never overwrites results, choose another run directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    inputs = prepare_inputs(cfg, parent)
    net = build(cfg, inputs, sim)
    attrs = run_attributes(cfg, overrides, inputs.task, sim, inputs.first_iteration, parent.run_dir if parent else None)
    writer = ResultsWriter(path, inputs.task.n_outputs, attrs, cfg.output.compress_events)
    no_results = False  # a failure before the first iteration ends: the file is removed
    try:
        start_results(writer, inputs, net, parent, sim)
        t_build = time.perf_counter() - started  # s
        with StopRequest() as stop:
            progress = simulate_iterations(cfg, inputs, net, writer, sim, stop, on_iteration)
            return finish(cfg, run_dir, inputs, net, writer, progress, stop, sim, started, t_build)
    except (Interrupted, Diverged):
        raise
    except BaseException as err:
        status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
        writer.finish(status, {"error": f"{type(err).__name__}: {err}", "peak_rss_mb": peak_rss_mb()})
        no_results = status == "failed" and writer.n_iter_done == 0  # the error line says it all; no empty file
        raise
    finally:
        writer.close()
        if no_results:
            path.unlink(missing_ok=True)

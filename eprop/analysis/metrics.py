"""Numbers that say how one run went: losses, firing rates, weight changes, runtimes.

Every function here takes an open `Results` and returns plain data; nothing prints. It reads
the file through `Results` methods only and never imports NEST. `summarize_run` is what
`eprop eval` reports about one run; `jobs.py` collects it over the jobs of a multirun.

Conventions:
    iterations are 0-based in arguments and arrays, 1-based in what a person reads
    (`min_loss_iteration` is 1-based, like the x axis of the loss figure);
    times are in ms, firing rates in spikes/s, weights in pA.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eprop.config.overrides import key_values as parse_overrides  # noqa: F401  (jobs and figures import it from here)
from eprop.config.phases import TEST, TRAINING
from eprop.config.projections import PROJECTIONS
from eprop.errors import UserError
from eprop.results import LossHistory, Results, open_results
from eprop.results.iterations import phase_name

LOSS_FIELDS = ("senders", "readout_signal", "target_signal")
TIMING_KEYS = ("timing_build_s", "timing_simulate_s", "timing_write_s")


def iteration_duration_ms(results: Results) -> float:
    """Duration of one iteration in ms: batch_size sequences of steps_per_sequence * resolution_ms."""
    attrs = results.attrs
    try:
        return float(attrs.get("batch_size", 1)) * float(attrs["steps_per_sequence"]) * float(attrs["resolution_ms"])
    except KeyError as missing:
        raise UserError(f"{results.path}: attribute {missing} is missing; cannot compute durations") from None


# ---------------------------------------------------------------- loss


def recompute_loss(results: Results) -> np.ndarray:
    """The loss per output and iteration, recomputed from the readout's recorded signals.

    E_k(iteration) = 0.5 * sum_t (y_k(t) - y*_k(t))^2 over the multimeter_out samples of readout
    neuron k in that iteration, the same definition the runner uses for /loss_per_output.
    Returns an (n_out, n_iterations) array, outputs in the order of /neurons/readout; NaN in
    the iterations whose events the recording schedule left out.
    Raises UserError if multimeter_out lacks readout_signal or target_signal.
    """
    if not results.has_fields("multimeter_out", LOSS_FIELDS):
        raise UserError(f"{results.path}: multimeter_out with readout_signal and target_signal is not recorded")
    starts = results.iteration_starts("multimeter_out")
    recorded = results.recorded_iterations("multimeter_out")
    readouts = results.population("readout")
    n_iter = len(starts) - 1
    if readouts.size == 0 and recorded.size:  # no /neurons/readout: outputs in order of their ids
        readouts = np.unique(results.events("multimeter_out", ["senders"], iteration=int(recorded[0]))["senders"])
    loss = np.zeros((len(readouts), n_iter))
    offset = 0
    for block in results.iter_event_blocks("multimeter_out", LOSS_FIELDS, stop=int(starts[-1])):
        n = len(block["senders"])
        iteration = np.searchsorted(starts, offset + np.arange(n), side="right") - 1
        output = np.searchsorted(readouts, block["senders"])
        known = (output < len(readouts)) & (readouts[np.minimum(output, len(readouts) - 1)] == block["senders"])
        squared = 0.5 * (block["readout_signal"] - block["target_signal"]) ** 2
        np.add.at(loss, (output[known], iteration[known]), squared[known])
        offset += n
    loss[:, np.setdiff1d(np.arange(n_iter), recorded)] = np.nan  # no events: nothing to recompute
    return loss / float(results.attrs.get("batch_size", 1))  # /loss averages over a batch's sequences


def max_relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|b|, tiny) over all elements (0.0 for empty arrays)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.abs(b), np.finfo(float).tiny)
    return float(np.max(np.abs(a - b) / scale))


def recompute_cross_entropy(results: Results) -> np.ndarray:
    """Classification: the cross-entropy per output and iteration from the recorded readout signals.

    -mean over the batch's sequences and the last `learning_window_steps` steps of each sequence
    of y*_k log y_k: the runner's /loss_per_output for a classification task (/loss is their sum).
    NaN in the iterations whose events the recording schedule left out.
    """
    return _window_loss(results, lambda y, t, n_out: 0.0 - np.mean(t * np.log(y)))  # 0.0 -: no -0 for a zero target


def recompute_window_squared_error(results: Results) -> np.ndarray:
    """Classification with squared-error readouts (event-based family, N-MNIST): the loss per output and
    iteration from the recorded readout signals, as NEST's N-MNIST example computes it.

    0.5 * sum over the last `learning_window_steps` steps of each sequence of (y_k - y*_k)^2, mean over the
    iteration's sequences, divided by the number of outputs: the terms whose sum is the example's loss
    (0.5 * mean over outputs and sequences of the window's sum of squares). NaN in the iterations whose
    events the recording schedule left out.
    """
    return _window_loss(results, lambda y, t, n_out: 0.5 * np.mean(np.sum((y - t) ** 2, axis=1)) / n_out)


def _window_loss(results: Results, term) -> np.ndarray:
    """(outputs, iterations) of term(y, y*, n_outputs) over the learning windows of each recorded
    iteration (y, y*: (sequence, window step) of one output); NaN where the events were not written."""
    attrs = results.attrs
    sequence, window = int(attrs["steps_per_sequence"]), int(attrs["learning_window_steps"])
    readouts = results.population("readout")
    n_iter = len(results.iteration_starts("multimeter_out")) - 1
    loss = np.full((len(readouts), n_iter), np.nan)
    for k in results.recorded_iterations("multimeter_out").tolist():
        ev = results.events("multimeter_out", LOSS_FIELDS, iteration=k)
        for i, node in enumerate(readouts):
            mine = ev["senders"] == node
            y = ev["readout_signal"][mine].reshape(-1, sequence)[:, -window:]
            t = ev["target_signal"][mine].reshape(-1, sequence)[:, -window:]
            loss[i, k] = term(y, t, len(readouts))
    return loss


LAST_ITERATIONS = (
    10  # without a test phase: the final accuracy and the confusion matrix use the last 10 training iterations
)


def phase_names(results: Results) -> list[str]:
    """The names of the phase codes of /phase: the root attribute phase_names, else eprop/config/phases.py's."""
    return results.phase_names


@dataclass(frozen=True)
class FinalIterations:
    """The iterations the final accuracy and the confusion matrix come from (0-based indices into
    the phases they were chosen from: this file's, or a resumed run's whole history)."""

    indices: np.ndarray
    phase: str  # "test", or "training" when the run has no test phase
    description: str  # for a person: "test phase, 4 iterations" or "last 10 training iterations (no test phase)"


def final_iterations(results: Results, phases: np.ndarray | None = None) -> FinalIterations:
    """The test phase's iterations; without a test phase, the last LAST_ITERATIONS training iterations
    (the last LAST_ITERATIONS iterations of any phase if there was no training iteration either).
    `phases`: the phase codes to choose from (default: this file's, `results.phases()`)."""
    phases = results.phases() if phases is None else phases
    names = phase_names(results)
    test = np.flatnonzero(phases == TEST)
    if test.size:
        return FinalIterations(test, phase_name(names, TEST), f"test phase, {_iterations(test.size)}")
    training = np.flatnonzero(phases == TRAINING)
    if training.size:
        chosen = training[-LAST_ITERATIONS:]
        return FinalIterations(
            chosen, phase_name(names, TRAINING), f"last {_iterations(chosen.size, 'training ')} (no test phase)"
        )
    chosen = np.arange(len(phases))[-LAST_ITERATIONS:]
    return FinalIterations(chosen, "any", f"last {_iterations(chosen.size)} (no test or training phase)")


def _iterations(n: int, kind: str = "") -> str:
    return f"{n} {kind}iteration{'s' if n != 1 else ''}"


def classification_summary(results: Results, history: LossHistory | None = None) -> dict[str, Any]:
    """Classification: accuracy per iteration and per phase, the final (test) accuracy; {} for other files.

    Keys: accuracy (list), phase (list of phase names), final_accuracy and final_error (mean over the
    test phase's iterations; without a test phase over the last LAST_ITERATIONS training iterations),
    final_accuracy_phase ("test" or "training"), final_accuracy_iterations, final_accuracy_from (which
    iterations, for a person), test_accuracy and test_error (None without a test phase),
    accuracy_per_phase, error_per_phase, loss_per_phase (mean cross-entropy) and n_iter_per_phase
    ({phase name: value}, phases that occur, in code order), max_accuracy and its 1-based iteration.
    Errors are 1 - accuracy. A resumed run is counted with its parents' iterations
    (`Results.history_loss`; pass `history` if it was read already), as its loss is: the phases and
    the final accuracy are the whole training's.
    """
    if results.task_kind != "classification" or results.accuracy is None:
        return {}
    history = results.classification_history(history)
    accuracy = history.accuracy
    if accuracy.size == 0:
        return {
            "accuracy": [],
            "phase": [],
            "final_accuracy": None,
            "final_error": None,
            "final_accuracy_phase": None,
            "final_accuracy_iterations": 0,
            "final_accuracy_from": "no iteration finished",
            "test_accuracy": None,
            "test_error": None,
            "accuracy_per_phase": {},
            "error_per_phase": {},
            "loss_per_phase": {},
            "n_iter_per_phase": {},
            "max_accuracy": None,
            "max_accuracy_iteration": None,
        }
    phases, names, loss = history.phase, phase_names(results), np.asarray(history.loss, dtype=float)
    final = final_iterations(results, phases)
    final_accuracy = float(np.mean(accuracy[final.indices]))
    per_phase: dict[str, Any] = {
        "accuracy_per_phase": {},
        "error_per_phase": {},
        "loss_per_phase": {},
        "n_iter_per_phase": {},
    }
    for code in sorted(set(phases.tolist())):
        mine = phases == code
        name = phase_name(names, code)
        per_phase["accuracy_per_phase"][name] = float(np.mean(accuracy[mine]))
        per_phase["error_per_phase"][name] = 1.0 - per_phase["accuracy_per_phase"][name]
        per_phase["loss_per_phase"][name] = float(np.mean(loss[mine]))
        per_phase["n_iter_per_phase"][name] = int(np.count_nonzero(mine))
    has_test = final.phase == phase_name(names, TEST)
    best = int(np.argmax(accuracy))
    return {
        "accuracy": [float(a) for a in accuracy],
        "phase": [phase_name(names, c) for c in phases.tolist()],
        "final_accuracy": final_accuracy,
        "final_error": 1.0 - final_accuracy,
        "final_accuracy_phase": final.phase,
        "final_accuracy_iterations": int(final.indices.size),
        "final_accuracy_from": final.description,
        "test_accuracy": final_accuracy if has_test else None,
        "test_error": 1.0 - final_accuracy if has_test else None,
        **per_phase,
        "max_accuracy": float(accuracy[best]),
        "max_accuracy_iteration": history.first_iteration + best + 1,
    }


def loss_check(results: Results) -> float | None:
    """Max relative disagreement of the recomputed loss with /loss (and with /loss_per_output),
    over the iterations whose events are in the file (`Results.recorded_iterations`).

    None if the readout signals were not recorded (or no iteration kept its events).
    """
    if not results.has_fields("multimeter_out", LOSS_FIELDS):
        return None
    if results.task_kind != "classification":
        recomputed = recompute_loss(results)
    elif results.readout_loss == "cross_entropy":
        recomputed = recompute_cross_entropy(results)
    else:
        recomputed = recompute_window_squared_error(results)
    stored_per_output, stored_total = results.loss_per_output, results.loss
    n = min(recomputed.shape[1], len(stored_total))
    checked = results.recorded_iterations("multimeter_out")
    checked = checked[checked < n]
    if checked.size == 0:
        return None
    diff = max_relative_difference(recomputed[:, checked].sum(axis=0), stored_total[checked])
    if recomputed.shape[0] == stored_per_output.shape[0]:
        diff = max(diff, max_relative_difference(recomputed[:, checked], stored_per_output[:, checked]))
    return diff


def loss_summary(loss: np.ndarray, first_iteration: int = 0) -> dict[str, Any]:
    """First, final and minimum loss, the (1-based) iteration of the minimum, relative reduction.

    `loss[0]` is iteration `first_iteration` (0-based) of the training, so that a resumed run's
    minimum is numbered like its parents' iterations.
    """
    if len(loss) == 0:
        return {
            "first_loss": None,
            "final_loss": None,
            "min_loss": None,
            "min_loss_iteration": None,
            "relative_loss_reduction": None,
        }
    first, final = float(loss[0]), float(loss[-1])
    finite = np.isfinite(loss).any()  # a run whose every loss is NaN (diverged) has no minimum
    best = int(np.nanargmin(np.where(np.isfinite(loss), loss, np.nan))) if finite else 0
    return {
        "first_loss": first,
        "final_loss": final,
        "min_loss": float(loss[best]) if finite else None,
        "min_loss_iteration": first_iteration + best + 1 if finite else None,
        "relative_loss_reduction": 1.0 - final / first if first != 0 else None,
    }


# ---------------------------------------------------------------- firing rates


def firing_rates(results: Results, iteration: int = -1) -> np.ndarray:
    """Firing rate of every recurrent neuron in one iteration, in spikes/s.

    Counts the spike_recorder's spikes of the ids in /neurons/recurrent (other senders, such as
    input parrot neurons, are ignored) and divides by the iteration's duration
    steps_per_sequence * resolution_ms. Neurons that never spiked have rate 0. The result is
    ordered like /neurons/recurrent.
    """
    recurrent = np.sort(results.population("recurrent"))
    if recurrent.size == 0:
        raise UserError(f"{results.path}: /neurons/recurrent is missing or empty")
    if "spike_recorder" not in results.recorders:
        raise UserError(f"{results.path}: spike_recorder is not recorded")
    senders = results.events("spike_recorder", ["senders"], iteration=iteration)["senders"]
    index = np.searchsorted(recurrent, senders)
    is_recurrent = (index < recurrent.size) & (recurrent[np.minimum(index, recurrent.size - 1)] == senders)
    counts = np.bincount(index[is_recurrent], minlength=recurrent.size)
    rates_sorted = counts / (iteration_duration_ms(results) / 1000.0)
    order = np.argsort(np.argsort(results.population("recurrent"), kind="stable"), kind="stable")
    return rates_sorted[order]


def rate_summary(rates: np.ndarray) -> dict[str, Any]:
    """Mean and distribution (min, 5/25/50/75/95th percentiles, max) of firing rates in spikes/s."""
    if rates.size == 0:
        return {}
    p5, p25, p50, p75, p95 = np.percentile(rates, [5, 25, 50, 75, 95])
    return {
        "rate_mean": float(rates.mean()),
        "rate_min": float(rates.min()),
        "rate_p5": float(p5),
        "rate_p25": float(p25),
        "rate_median": float(p50),
        "rate_p75": float(p75),
        "rate_p95": float(p95),
        "rate_max": float(rates.max()),
        "n_silent": int(np.count_nonzero(rates == 0)),
        "n_recurrent": int(rates.size),
    }


def target_rate(results: Results) -> float | None:
    """The regularization's target firing rate f_target of the recurrent neurons, in spikes/s."""
    try:
        return float(results.config["neuron"]["rec"]["f_target"])
    except (KeyError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------- weights


def weight_change_norms(results: Results) -> dict[str, dict[str, float]]:
    """Per projection: Frobenius norm of W_final - W_initial (pA) and of W_initial (pA).

    Only projections present in both the initial and the final snapshot are reported.
    """
    stages = results.weight_stages
    if "initial" not in stages or "final" not in stages:
        return {}
    in_both = set(results.weight_projections("initial")) & set(results.weight_projections("final"))
    out = {}
    for projection in PROJECTIONS:
        if projection in in_both:
            w0 = results.weight_matrix("initial", projection)
            w1 = results.weight_matrix("final", projection)
            out[projection] = {"change": float(np.linalg.norm(w1 - w0)), "initial": float(np.linalg.norm(w0))}
    return out


# ---------------------------------------------------------------- one run


def loss_function(results: Results) -> str:
    """What /loss is: the file's `loss_function` attribute (task=nmnist: mean_squared_error), else
    cross_entropy for a classification task and mean_squared_error for a regression task."""
    given = results.attrs.get("loss_function")
    if given:
        return str(given)
    return "cross_entropy" if results.task_kind == "classification" else "mean_squared_error"


def summarize_run(results: Results, check_loss: bool = True) -> dict[str, Any]:
    """Everything `eprop eval` reports about one run, as JSON-ready plain values.

    A resumed run is reported with its parents' history (`Results.history_loss`): n_iter_done
    counts every iteration of the chain, `loss` starts at iteration `first_iteration` + 1 (1-based;
    0 unless a parent is missing, which `history_note` explains), and `parent_runs` lists the
    parents' files, oldest first. `iterations_in_file` is this file's own count.

    Keys: path, status, n_iter_done, n_iter, task, overrides, overrides_parsed, loss (list), loss_function,
    first/final/min_loss, min_loss_iteration (1-based), relative_loss_reduction (1 - final/first),
    final_loss_per_output, rate_* (recurrent neurons, the last iteration whose events are in the
    file, spikes/s) and rate_iteration (its 1-based number), f_target (spikes/s), weight_change
    (per projection, Frobenius norm in pA), timing_*_s, runtime_s, peak_rss_mb, seed,
    nest_version, loss_recomputed_max_rel_diff (over the iterations with events; None if not
    checked), events_iterations (how many of this file's iterations kept their recorder events:
    fewer than iterations_in_file under a recording schedule), and error (the file's error line)
    for a failed or diverged run.
    """
    attrs = results.attrs
    history = results.history_loss()
    loss = history.loss
    loss_per_output = results.loss_per_output
    summary: dict[str, Any] = {
        "path": str(results.path),
        "status": results.status,
        "n_iter_done": history.n_iter_done,
        "iterations_in_file": results.n_iter_done,
        "first_iteration": history.first_iteration,
        "parent_runs": [str(path) for path, _, _ in history.segments[:-1]],
        "history_note": history.note,
        "n_iter": attrs.get("n_iter"),
        "n_iter_bound": phase_schedule_bound(results, history),
        "task": results.task_name,
        "overrides": results.overrides,
        "overrides_parsed": parse_overrides(results.overrides),
    }
    if attrs.get("error"):  # a failed or diverged run: the one line that says why
        summary["error"] = str(attrs["error"])
    summary.update(loss_summary(loss, history.first_iteration))
    summary["final_loss_per_output"] = [float(v) for v in loss_per_output[:, -1]] if loss_per_output.shape[1] else []
    summary["task_kind"] = results.task_kind
    summary["loss_function"] = loss_function(results)
    summary.update(classification_summary(results, history))  # accuracy, final_accuracy, final_error, ...
    summary["loss"] = [float(v) for v in loss]
    summary["rate_iteration"] = None
    spiking = (
        results.recorded_iterations("spike_recorder") if "spike_recorder" in results.recorders else np.zeros(0, int)
    )
    if spiking.size and results.population("recurrent").size:
        last = int(spiking[-1])  # the last iteration whose spikes are in the file
        summary["rate_iteration"] = results.first_iteration + last + 1
        summary.update(rate_summary(firing_rates(results, iteration=last)))
    summary["events_iterations"] = (
        int(results.recorded_iterations("multimeter_out").size) if "multimeter_out" in results.recorders else 0
    )
    summary["f_target"] = target_rate(results)
    summary["weight_change"] = weight_change_norms(results)
    for key in TIMING_KEYS + ("peak_rss_mb", "seed", "nest_version", "total_num_virtual_procs"):
        summary[key] = attrs.get(key)
    timings = [attrs[key] for key in TIMING_KEYS if isinstance(attrs.get(key), (int, float))]
    summary["runtime_s"] = float(sum(timings)) if timings else None
    summary["loss_recomputed_max_rel_diff"] = loss_check(results) if check_loss and results.n_iter_done else None
    return _json_ready(summary)


def phase_schedule_bound(results: Results, history=None) -> int | None:
    """With phases (phases.*): the most iterations the run's schedule can still reach after the
    phases and errors of its iterations, its parents' included (its end, if the schedule is over);
    None without phases, or for a resumed run whose parents' files do not all give their phases."""
    config = results.config
    if not config.get("phases") or results.task_kind != "classification":
        return None
    from omegaconf import OmegaConf

    from eprop.config.phases import PhaseSchedule

    schedule = PhaseSchedule.from_config(OmegaConf.create(config))
    if schedule.trains_only:
        return None
    if results.first_iteration:  # a resumed run: the schedule began in its parents' files
        history = results.classification_history(history)
        if history.first_iteration or history.phase is None or history.accuracy is None:
            return None
        phases, accuracy = np.asarray(history.phase, int), np.asarray(history.accuracy, float)
    else:
        phases, accuracy = results.phases(), results.accuracy
        accuracy = None if accuracy is None else np.asarray(accuracy[: results.n_iter_done], float)
    errors = [] if accuracy is None else (1.0 - accuracy).tolist()
    try:
        return int(schedule.max_iterations(phases.tolist(), errors))
    except ValueError:  # phases that do not follow the stored config's schedule: say nothing
        return None


def summarize_file(path: Path, check_loss: bool = True) -> dict[str, Any]:
    """`summarize_run` of the file at `path` (ResultsError if it cannot be opened, UserError if it is damaged)."""
    with open_results(path) as results:
        try:
            return summarize_run(results, check_loss=check_loss)
        except (KeyError, IndexError, ValueError, OSError) as exc:
            raise UserError(damaged_file_message(path, exc)) from None


def damaged_file_message(path: str | Path, exc: Exception) -> str:
    """One line for a file that opened but whose content does not follow the schema or is damaged."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{path}: damaged or not following the results schema ({type(exc).__name__}: {detail})"


def _json_ready(value: Any) -> Any:
    """Replace numpy scalars by Python ones and non-finite floats by None (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

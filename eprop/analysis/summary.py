"""The summary of one run that `eprop eval` reports (`summarize_run`, `summarize_file`), as
JSON-ready plain values; `jobs.py` collects it over the jobs of a multirun.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from eprop.analysis.classification import classification_summary
from eprop.analysis.metrics import (
    TIMING_KEYS,
    firing_rates,
    loss_check,
    loss_summary,
    rate_summary,
    target_rate,
    weight_change_norms,
)
from eprop.config.overrides import key_values as parse_overrides
from eprop.errors import UserError
from eprop.results import Results, open_results


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

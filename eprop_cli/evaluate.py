"""Numbers that say how a run went: losses, firing rates, weight changes, runtimes.

Every function here takes an open `Results` (or paths) and returns plain data; nothing prints.
This module reads the HDF5 file through `results.py` and never imports NEST.

Conventions:
    iterations are 0-based in arguments and arrays, 1-based in what a person reads
    (`min_loss_iteration` is 1-based, like the x axis of the loss figure);
    times are in ms, firing rates in spikes/s, weights in pA.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import yaml

from .errors import UserError
from .results import (PROJECTION_POPULATIONS, RESULTS_FILE, Results, find_result_files, natural_key, open_results,
                      results_file_in)

LOSS_FIELDS = ("senders", "readout_signal", "target_signal")
TIMING_KEYS = ("timing_build_s", "timing_simulate_s", "timing_write_s")
_BLOCK_EVENTS = 1 << 20  # events read per HDF5 slice when scanning a whole recorder


# ---------------------------------------------------------------- reading helpers


def iteration_duration_ms(results: Results) -> float:
    """Duration of one iteration in ms: batch_size sequences of steps_per_sequence * resolution_ms."""
    attrs = results.attrs
    try:
        return float(attrs.get("batch_size", 1)) * float(attrs["steps_per_sequence"]) * float(attrs["resolution_ms"])
    except KeyError as missing:
        raise UserError(f"{results.path}: attribute {missing} is missing; cannot compute durations") from None


def has_fields(results: Results, recorder: str, fields: Iterable[str]) -> bool:
    """True if the file holds `recorder` with all of `fields`."""
    return recorder in results.recorders and set(fields) <= set(results.fields(recorder))


def recorded_iterations(results: Results, recorder: str) -> int:
    """Number of finished iterations whose events of `recorder` are in the file."""
    return results.recorded_iterations(recorder)


def population(results: Results, name: str) -> np.ndarray:
    """NEST node ids of a population, or an empty array if the file lacks it."""
    if name in results.file["neurons"]:
        return results.neurons(name)
    return np.zeros(0, dtype="i8")


def iter_event_blocks(results: Results, recorder: str, fields: Iterable[str], stop: int | None = None,
                      block: int = _BLOCK_EVENTS) -> Iterator[dict[str, np.ndarray]]:
    """A recorder's events [0, stop) as consecutive HDF5 slices of at most `block` events.

    Scanning a recorder of a long run this way keeps memory bounded by the block size.
    """
    names = list(fields)
    if stop is None:
        stop = results.n_events(recorder)
    datasets = {name: results.dataset(f"events/{recorder}/{name}") for name in names}
    for start in range(0, stop, block):
        end = min(start + block, stop)
        yield {name: ds[start:end] for name, ds in datasets.items()}


# ---------------------------------------------------------------- loss


def recompute_loss(results: Results) -> np.ndarray:
    """The loss per output and iteration, recomputed from the readout's recorded signals.

    E_k(iteration) = 0.5 * sum_t (y_k(t) - y*_k(t))^2 over the multimeter_out samples of readout
    neuron k in that iteration, the same definition the runner uses for /loss_per_output.
    Returns an (n_out, n_iterations) array, outputs in the order of /neurons/readout.
    Raises UserError if multimeter_out lacks readout_signal or target_signal.
    """
    if not has_fields(results, "multimeter_out", LOSS_FIELDS):
        raise UserError(f"{results.path}: multimeter_out with readout_signal and target_signal is not recorded")
    starts = results.iteration_starts("multimeter_out")
    readouts = population(results, "readout")
    n_iter = len(starts) - 1
    if readouts.size == 0 and n_iter > 0:  # no /neurons/readout: outputs in order of their ids
        readouts = np.unique(results.events("multimeter_out", ["senders"], iteration=0)["senders"])
    loss = np.zeros((len(readouts), n_iter))
    offset = 0
    for block in iter_event_blocks(results, "multimeter_out", LOSS_FIELDS, stop=int(starts[-1])):
        n = len(block["senders"])
        iteration = np.searchsorted(starts, offset + np.arange(n), side="right") - 1
        output = np.searchsorted(readouts, block["senders"])
        known = (output < len(readouts)) & (readouts[np.minimum(output, len(readouts) - 1)] == block["senders"])
        squared = 0.5 * (block["readout_signal"] - block["target_signal"]) ** 2
        np.add.at(loss, (output[known], iteration[known]), squared[known])
        offset += n
    return loss / float(results.attrs.get("batch_size", 1))  # /loss averages over a batch's sequences


def max_relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|b|, tiny) over all elements (0.0 for empty arrays)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.abs(b), np.finfo(float).tiny)
    return float(np.max(np.abs(a - b) / scale))


def is_classification(results: Results) -> bool:
    return results.attrs.get("task_kind") == "classification"


def recompute_cross_entropy(results: Results) -> np.ndarray:
    """Classification: the cross-entropy per output and iteration from the recorded readout signals.

    -mean over the batch's sequences and the last `learning_window_steps` steps of each sequence
    of y*_k log y_k, the runner's definition of /loss_per_output for a classification task.
    """
    attrs = results.attrs
    sequence, window = int(attrs["steps_per_sequence"]), int(attrs["learning_window_steps"])
    readouts = population(results, "readout")
    n_iter = len(results.iteration_starts("multimeter_out")) - 1
    loss = np.zeros((len(readouts), n_iter))
    for k in range(n_iter):
        ev = results.events("multimeter_out", LOSS_FIELDS, iteration=k)
        for i, node in enumerate(readouts):
            mine = ev["senders"] == node
            y = ev["readout_signal"][mine].reshape(-1, sequence)[:, -window:]
            t = ev["target_signal"][mine].reshape(-1, sequence)[:, -window:]
            loss[i, k] = 0.0 - np.mean(t * np.log(y))
    return loss


def classification_summary(results: Results) -> dict[str, Any]:
    """accuracy (list), final_accuracy, final_error (1 - accuracy), max_accuracy and its 1-based iteration."""
    if not is_classification(results) or "accuracy" not in results.file:
        return {}
    accuracy = np.asarray(results.dataset("accuracy")[()], dtype=float)
    if accuracy.size == 0:
        return {"accuracy": [], "final_accuracy": None, "final_error": None, "max_accuracy": None}
    best = int(np.argmax(accuracy))
    return {"accuracy": [float(a) for a in accuracy], "final_accuracy": float(accuracy[-1]),
            "final_error": 1.0 - float(accuracy[-1]), "max_accuracy": float(accuracy[best]),
            "max_accuracy_iteration": results.first_iteration + best + 1}


def loss_check(results: Results) -> float | None:
    """Max relative disagreement of the recomputed loss with /loss (and with /loss_per_output).

    None if the readout signals were not recorded.
    """
    if not has_fields(results, "multimeter_out", LOSS_FIELDS):
        return None
    recomputed = recompute_cross_entropy(results) if is_classification(results) else recompute_loss(results)
    stored_per_output, stored_total = results.loss_per_output, results.loss
    n = min(recomputed.shape[1], len(stored_total))
    diff = max_relative_difference(recomputed[:, :n].sum(axis=0), stored_total[:n])
    if recomputed.shape[0] == stored_per_output.shape[0]:
        diff = max(diff, max_relative_difference(recomputed[:, :n], stored_per_output[:, :n]))
    return diff


def loss_summary(loss: np.ndarray, first_iteration: int = 0) -> dict[str, Any]:
    """First, final and minimum loss, the (1-based) iteration of the minimum, relative reduction.

    `loss[0]` is iteration `first_iteration` (0-based) of the training, so that a resumed run's
    minimum is numbered like its parents' iterations.
    """
    if len(loss) == 0:
        return {"first_loss": None, "final_loss": None, "min_loss": None, "min_loss_iteration": None,
                "relative_loss_reduction": None}
    first, final = float(loss[0]), float(loss[-1])
    best = int(np.nanargmin(loss)) if np.isfinite(loss).any() else 0
    return {
        "first_loss": first,
        "final_loss": final,
        "min_loss": float(loss[best]),
        "min_loss_iteration": first_iteration + best + 1,
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
    recurrent = np.sort(population(results, "recurrent"))
    if recurrent.size == 0:
        raise UserError(f"{results.path}: /neurons/recurrent is missing or empty")
    if "spike_recorder" not in results.recorders:
        raise UserError(f"{results.path}: spike_recorder is not recorded")
    senders = results.events("spike_recorder", ["senders"], iteration=iteration)["senders"]
    index = np.searchsorted(recurrent, senders)
    is_recurrent = (index < recurrent.size) & (recurrent[np.minimum(index, recurrent.size - 1)] == senders)
    counts = np.bincount(index[is_recurrent], minlength=recurrent.size)
    rates_sorted = counts / (iteration_duration_ms(results) / 1000.0)
    order = np.argsort(np.argsort(population(results, "recurrent"), kind="stable"), kind="stable")
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
    initial_group, final_group = results.file["weights"]["initial"], results.file["weights"]["final"]
    out = {}
    for projection in PROJECTION_POPULATIONS:
        if projection in initial_group and projection in final_group:
            w0 = results.weight_matrix("initial", projection)
            w1 = results.weight_matrix("final", projection)
            out[projection] = {"change": float(np.linalg.norm(w1 - w0)), "initial": float(np.linalg.norm(w0))}
    return out


# ---------------------------------------------------------------- one run, several runs


def parse_overrides(overrides: Iterable[str]) -> dict[str, str]:
    """["optimizer.eta=0.001", "+x=1", "~y"] -> {"optimizer.eta": "0.001", "x": "1", "y": ""}."""
    parsed = {}
    for item in overrides:
        key, _, value = str(item).partition("=")
        parsed[key.lstrip("+~")] = value
    return parsed


def summarize_run(results: Results, check_loss: bool = True) -> dict[str, Any]:
    """Everything `eprop eval` reports about one run, as JSON-ready plain values.

    A resumed run is reported with its parents' history (`Results.history_loss`): n_iter_done
    counts every iteration of the chain, `loss` starts at iteration `first_iteration` + 1 (1-based;
    0 unless a parent is missing, which `history_note` explains), and `parent_runs` lists the
    parents' files, oldest first. `iterations_in_file` is this file's own count.

    Keys: path, status, n_iter_done, n_iter, task, overrides, overrides_parsed, loss (list),
    first/final/min_loss, min_loss_iteration (1-based), relative_loss_reduction (1 - final/first),
    final_loss_per_output, rate_* (recurrent neurons, last iteration, spikes/s), f_target
    (spikes/s), weight_change (per projection, Frobenius norm in pA), timing_*_s, runtime_s,
    peak_rss_mb, seed, nest_version, loss_recomputed_max_rel_diff (None if not checked).
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
        "task": results.task_name,
        "overrides": results.overrides,
        "overrides_parsed": parse_overrides(results.overrides),
    }
    summary.update(loss_summary(loss, history.first_iteration))
    summary["final_loss_per_output"] = [float(v) for v in loss_per_output[:, -1]] if loss_per_output.shape[1] else []
    summary["task_kind"] = attrs.get("task_kind", "regression")
    summary.update(classification_summary(results))
    summary["loss"] = [float(v) for v in loss]
    summary["rate_iteration"] = None
    if "spike_recorder" in results.recorders and recorded_iterations(results, "spike_recorder") > 0 \
            and population(results, "recurrent").size:
        summary["rate_iteration"] = results.first_iteration + recorded_iterations(results, "spike_recorder")
        summary.update(rate_summary(firing_rates(results, iteration=-1)))
    summary["f_target"] = target_rate(results)
    summary["weight_change"] = weight_change_norms(results)
    for key in TIMING_KEYS + ("peak_rss_mb", "seed", "nest_version", "total_num_virtual_procs"):
        summary[key] = attrs.get(key)
    timings = [attrs[key] for key in TIMING_KEYS if isinstance(attrs.get(key), (int, float))]
    summary["runtime_s"] = float(sum(timings)) if timings else None
    summary["loss_recomputed_max_rel_diff"] = loss_check(results) if check_loss and results.n_iter_done else None
    return _json_ready(summary)


def summarize_file(path: Path, check_loss: bool = True) -> dict[str, Any]:
    """`summarize_run` of the file at `path` (raises UserError if it cannot be read)."""
    with open_results(path) as results:
        try:
            return summarize_run(results, check_loss=check_loss)
        except (KeyError, IndexError, ValueError, OSError) as exc:
            raise UserError(damaged_file_message(path, exc)) from None


def damaged_file_message(path: str | Path, exc: Exception) -> str:
    """One line for a file that opened but whose content does not follow the schema or is damaged."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{path}: damaged or not following the results schema ({type(exc).__name__}: {detail})"


def summarize_runs(paths: Iterable[str | Path], check_loss: bool = True) -> list[dict[str, Any]]:
    """One summary per job found under `paths` (files, run directories, multirun directories).

    One path given explicitly must be readable (else UserError). Of several paths, one that cannot
    be read becomes a summary with status "unreadable", its reason in `error` and `given: True`
    (so that `eprop eval good.h5 bad.h5` still reports good.h5). Inside a multirun directory, a
    job is tolerated and reported with its status even if its results file is unreadable
    ("unreadable") or missing while the job directory holds an error file ("failed"); its `error`
    key says why. Each summary also carries `job`: the job directory relative to the multirun
    directory.
    """
    paths = [Path(p) for p in paths]
    summaries = []
    for given in paths:
        try:
            summaries.extend(summarize_path(given, check_loss=check_loss))
        except UserError as exc:
            if len(paths) == 1:
                raise
            summaries.append({"path": str(given), "job": str(given), "status": "unreadable", "error": str(exc),
                              "given": True, "overrides": [], "overrides_parsed": {}})
    return summaries


def summarize_path(given: Path, check_loss: bool = True) -> list[dict[str, Any]]:
    """The summaries of one path given on the command line (a file, a run or a multirun directory)."""
    if not given.exists():
        raise UserError(f"{given}: no such file or directory")
    own = given if given.is_file() else results_file_in(given)
    if own is not None:
        summary = summarize_file(own, check_loss=check_loss)
        summary["job"] = str(given.parent if given.is_file() else given)
        return [summary]
    if error_files(given):
        return [summarize_job(given, given.parent, check_loss=check_loss)]
    return [summarize_job(job_dir, given, check_loss=check_loss) for job_dir in job_directories(given)]


def job_directories(multirun_dir: Path) -> list[Path]:
    """Job directories under a multirun directory: those holding results.h5, an error file or .hydra/."""
    found = {p.parent for p in find_result_files_or_none(multirun_dir)}
    for candidate in multirun_dir.rglob("*"):
        if candidate.is_dir() and candidate.name != ".hydra" and ".hydra" not in candidate.parts[len(multirun_dir.parts):]:
            if error_files(candidate) or ((candidate / ".hydra").is_dir() and candidate != multirun_dir
                                          and not _left_empty(candidate)):
                found.add(candidate)
    if not found:
        raise UserError(f"{multirun_dir}: contains no {RESULTS_FILE} (expected a results file, a run directory or a multirun directory)")
    return sorted(found, key=natural_key)


def _left_empty(job_dir: Path) -> bool:
    """A directory that an error before training left with only .hydra/ and an empty eprop.log.

    eprop < issue 9 left these behind (eprop run now removes them); they are not runs.
    """
    log = job_dir / "eprop.log"
    return ({p.name for p in job_dir.iterdir()} <= {".hydra", "eprop.log"}
            and (not log.exists() or log.stat().st_size == 0))


def find_result_files_or_none(path: Path) -> list[Path]:
    try:
        return find_result_files(path)
    except UserError:
        return []


def error_files(job_dir: Path) -> list[Path]:
    """Files named error* (error.txt, error.log, ...) directly in a job directory."""
    return sorted(p for p in job_dir.glob("error*") if p.is_file())


def summarize_job(job_dir: Path, multirun_dir: Path, check_loss: bool = True) -> dict[str, Any]:
    """Summary of one job of a multirun; never raises for a broken or missing results file."""
    job = str(job_dir.relative_to(multirun_dir)) if job_dir != multirun_dir else "."
    try:
        results_file = results_file_in(job_dir)
    except UserError as exc:  # several candidate files
        results_file, ambiguous = None, str(exc)
    else:
        ambiguous = ""
    if results_file is not None:
        try:
            summary = summarize_file(results_file, check_loss=check_loss)
        except UserError as exc:
            summary = {"path": str(results_file), "status": "unreadable", "error": str(exc),
                       "overrides": hydra_overrides(job_dir)}
    elif ambiguous:
        summary = {"path": str(job_dir), "status": "unreadable", "error": ambiguous, "overrides": hydra_overrides(job_dir)}
    else:
        errors = error_files(job_dir)
        message = _first_line(errors[0]) if errors else "no results file"
        summary = {"path": str(job_dir), "status": "failed", "error": message, "overrides": hydra_overrides(job_dir)}
    summary.setdefault("overrides_parsed", parse_overrides(summary.get("overrides") or []))
    summary["job"] = job
    return summary


def hydra_overrides(job_dir: Path) -> list[str]:
    """The job's overrides from Hydra's .hydra/overrides.yaml, or [] if absent or unreadable."""
    try:
        loaded = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return []
    return [str(item) for item in loaded] if isinstance(loaded, list) else []


def last_line(path: Path) -> str:
    """The last non-blank line of a text file such as error.txt ("" if none); raises OSError."""
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _first_line(path: Path) -> str:
    try:
        line = last_line(path)
    except OSError as exc:
        return f"{path.name}: {exc.strerror}"
    return f"{path.name}: {line or '(empty)'}"


# ---------------------------------------------------------------- tables


def flat_row(summary: dict[str, Any]) -> dict[str, Any]:
    """One summary as a flat row of scalars (for tables, CSV and sorting); drops the loss list."""
    row: dict[str, Any] = {"job": summary.get("job", summary.get("path")), "status": summary.get("status")}
    for key, value in (summary.get("overrides_parsed") or {}).items():
        row[key] = _number_or_text(value)
    for key in ("n_iter_done", "n_iter", "final_loss", "min_loss", "min_loss_iteration", "first_loss",
                "relative_loss_reduction"):
        row[key] = summary.get(key)
    for k, value in enumerate(summary.get("final_loss_per_output") or []):
        row[f"final_loss_{k}"] = value
    for key in ("rate_mean", "rate_min", "rate_median", "rate_max", "f_target"):
        row[key] = summary.get(key)
    for projection, norms in (summary.get("weight_change") or {}).items():
        row[f"weight_change_{projection}"] = norms["change"]
    for key in ("runtime_s", "peak_rss_mb", "loss_recomputed_max_rel_diff", "error"):
        if key in summary:
            row[key] = summary[key]
    return row


def table_rows(summaries: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Flat rows and the union of their columns, in first-seen order."""
    rows = [flat_row(s) for s in summaries]
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return columns, rows


def override_columns(summaries: list[dict[str, Any]]) -> list[str]:
    """The override keys of all jobs, in first-seen order (the table's override columns)."""
    keys: list[str] = []
    for summary in summaries:
        keys.extend(k for k in (summary.get("overrides_parsed") or {}) if k not in keys)
    return keys


def sort_order(rows: list[dict[str, Any]], key: str = "final_loss") -> list[int]:
    """Indices that sort rows ascending by `key` ("-key" for descending); rows lacking it go last.

    Numbers sort numerically, text alphabetically, numbers before text.
    """
    descending = key.startswith("-")
    key = key.lstrip("-")
    known = {k for row in rows for k in row}
    if rows and key not in known:
        raise UserError(f"--sort {key}: no such column; valid: {', '.join(sorted(known))}")
    present = [i for i, row in enumerate(rows) if _sortable(row.get(key))]
    missing = [i for i, row in enumerate(rows) if not _sortable(row.get(key))]
    present.sort(key=lambda i: _sort_key(rows[i][key]), reverse=descending)
    return present + missing


def sort_rows(rows: list[dict[str, Any]], key: str = "final_loss") -> list[dict[str, Any]]:
    """Rows sorted by `key`, see `sort_order`."""
    return [rows[i] for i in sort_order(rows, key)]


def sort_summaries(summaries: list[dict[str, Any]], key: str = "final_loss") -> list[dict[str, Any]]:
    """Summaries sorted by a column of their flat rows, see `sort_order`."""
    return [summaries[i] for i in sort_order([flat_row(s) for s in summaries], key)]


def _sortable(value: Any) -> bool:
    return value is not None and value != "" and not (isinstance(value, float) and math.isnan(value))


def _sort_key(value: Any) -> tuple:
    if isinstance(value, (int, float)):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _number_or_text(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


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

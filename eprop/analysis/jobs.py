"""The jobs of a multirun (or the paths given to `eprop eval`): finding them, one summary per job
(also for jobs that failed, diverged or left an unreadable file), and shaping the summaries into
sorted table rows. `eprop eval` (report.py) and the sweep summary (sweep.py) share it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from eprop.analysis.summary import summarize_file
from eprop.config.overrides import key_values as parse_overrides
from eprop.errors import EpropError, UserError
from eprop.results import RESULTS_FILE, find_result_files, natural_key, results_file_in


def summarize_runs(paths: Iterable[str | Path], check_loss: bool = True) -> list[dict[str, Any]]:
    """One summary per job found under `paths` (files, run directories, multirun directories).

    One path given explicitly must be readable (else UserError). Of several paths, one that cannot
    be read becomes a summary with status "unreadable", its reason in `error` and `given: True`
    (so that `eprop eval good.h5 bad.h5` still reports good.h5). Inside a multirun directory, a
    job is tolerated and reported with its status even if its results file is unreadable
    ("unreadable") or missing while the job directory holds an error file ("failed"); its `error`
    key says why. Each summary also carries `job`: the job directory relative to the multirun
    directory. A run named twice (the same path twice, or its file and its directory) is one
    summary, at its first place.
    """
    named: dict[Path, Path] = {}
    for p in paths:
        named.setdefault(_same(Path(p)), Path(p))  # the first of two names of one run is kept
    paths = list(named.values())
    summaries = []
    seen: set[Path] = set()
    for given in paths:
        try:
            for summary in summarize_path(given, check_loss=check_loss):
                if _same(Path(summary["path"])) not in seen:
                    seen.add(_same(Path(summary["path"])))
                    summaries.append(summary)
        except EpropError as exc:  # a UserError, or the reader's ResultsError
            if len(paths) == 1:
                raise
            summaries.append(
                {
                    "path": str(given),
                    "job": str(given),
                    "status": "unreadable",
                    "error": str(exc),
                    "given": True,
                    "overrides": [],
                    "overrides_parsed": {},
                }
            )
    return summaries


def _same(path: Path) -> Path:
    """The path that `path` names, as one key for the same file named in two ways."""
    try:
        own = results_file_in(path) if path.is_dir() else None
    except EpropError:  # several candidates: summarize_path says so
        own = None
    return (own or path).resolve()


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
        if (
            candidate.is_dir()
            and candidate.name != ".hydra"
            and ".hydra" not in candidate.parts[len(multirun_dir.parts) :]
        ):
            if error_files(candidate) or (
                (candidate / ".hydra").is_dir() and candidate != multirun_dir and not _left_empty(candidate)
            ):
                found.add(candidate)
    if not found:
        raise UserError(
            f"{multirun_dir}: contains no {RESULTS_FILE} (expected a results file, a run directory or a multirun directory)"
        )
    return sorted(found, key=natural_key)


def _left_empty(job_dir: Path) -> bool:
    """A directory that an error before training left with only .hydra/ and an empty eprop.log.

    eprop < issue 9 left these behind (eprop run now removes them); they are not runs.
    """
    log = job_dir / "eprop.log"
    return {p.name for p in job_dir.iterdir()} <= {".hydra", "eprop.log"} and (
        not log.exists() or log.stat().st_size == 0
    )


def find_result_files_or_none(path: Path) -> list[Path]:
    try:
        return find_result_files(path)
    except EpropError:
        return []


def error_files(job_dir: Path) -> list[Path]:
    """Files named error* (error.txt, error.log, ...) directly in a job directory."""
    return sorted(p for p in job_dir.glob("error*") if p.is_file())


def summarize_job(job_dir: Path, multirun_dir: Path, check_loss: bool = True) -> dict[str, Any]:
    """Summary of one job of a multirun; never raises for a broken or missing results file."""
    job = str(job_dir.relative_to(multirun_dir)) if job_dir != multirun_dir else "."
    try:
        results_file = results_file_in(job_dir)
    except EpropError as exc:  # several candidate files
        results_file, ambiguous = None, str(exc)
    else:
        ambiguous = ""
    if results_file is not None:
        try:
            summary = summarize_file(results_file, check_loss=check_loss)
        except EpropError as exc:
            summary = {
                "path": str(results_file),
                "status": "unreadable",
                "error": str(exc),
                "overrides": hydra_overrides(job_dir),
            }
    elif ambiguous:
        summary = {
            "path": str(job_dir),
            "status": "unreadable",
            "error": ambiguous,
            "overrides": hydra_overrides(job_dir),
        }
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


CLASSIFICATION_KEYS = (
    "final_accuracy",
    "final_error",
    "final_accuracy_phase",
    "final_accuracy_from",
    "test_accuracy",
    "test_error",
)


def flat_row(summary: dict[str, Any]) -> dict[str, Any]:
    """One summary as a flat row of scalars (for tables, CSV and sorting); drops the loss list."""
    row: dict[str, Any] = {"job": summary.get("job", summary.get("path")), "status": summary.get("status")}
    for key, value in (summary.get("overrides_parsed") or {}).items():
        row[key] = _number_or_text(value)
    for key in (
        "n_iter_done",
        "n_iter",
        "final_loss",
        "min_loss",
        "min_loss_iteration",
        "first_loss",
        "relative_loss_reduction",
    ):
        row[key] = summary.get(key)
    for k, value in enumerate(summary.get("final_loss_per_output") or []):
        row[f"final_loss_{k}"] = value
    if "final_accuracy" in summary:  # classification: the final (test) accuracy and the accuracy per phase
        for key in CLASSIFICATION_KEYS:
            row[key] = summary.get(key)
        for phase, value in (summary.get("accuracy_per_phase") or {}).items():
            row[f"accuracy_{phase}"] = value
    for key in ("rate_mean", "rate_min", "rate_median", "rate_max", "f_target"):
        row[key] = summary.get(key)
    for projection, norms in (summary.get("weight_change") or {}).items():
        row[f"weight_change_{projection}"] = norms["change"]
    for key in ("runtime_s", "peak_rss_mb", "loss_recomputed_max_rel_diff", "error"):
        if key in summary:
            row[key] = summary[key]
    return row


def flat_rows(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """flat_row of each summary; where the jobs differ in task or in loss function, also `task` (from
    each file, also where the command line did not name it) and `loss_function` in every row, so that
    the table says which loss each job's loss is (and sort_order never ranks different losses together)."""
    rows = [flat_row(s) for s in summaries]
    tasks = {s.get("task") for s in summaries if s.get("task")}
    if len(tasks) > 1 or any("task" in row for row in rows):
        for row, summary in zip(rows, summaries):
            if summary.get("task"):
                row["task"] = summary["task"]
    if len({s.get("loss_function") for s in summaries if s.get("loss_function")}) > 1:
        for row, summary in zip(rows, summaries):
            row["loss_function"] = summary.get("loss_function")
    return rows


def table_rows(summaries: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Flat rows (flat_rows) and the union of their columns, in first-seen order."""
    rows = flat_rows(summaries)
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return columns, rows


def override_columns(summaries: list[dict[str, Any]]) -> list[str]:
    """The override keys of all jobs, in first-seen order (the table's override columns); `task`
    first when the jobs' files hold different tasks (flat_rows fills it from the file)."""
    keys: list[str] = []
    for summary in summaries:
        keys.extend(k for k in (summary.get("overrides_parsed") or {}) if k not in keys)
    if len({s.get("task") for s in summaries if s.get("task")}) > 1:
        keys = ["task", *(k for k in keys if k != "task")]
    return keys


LOSS_COLUMNS = ("final_loss", "min_loss", "first_loss")  # compared only between jobs of one loss_function


def sort_order(rows: list[dict[str, Any]], key: str = "final_loss") -> list[int]:
    """Indices that sort rows ascending by `key` ("-key" for descending); rows lacking it go last.
    A loss column (LOSS_COLUMNS) sorts the jobs of each loss function among themselves, one group
    after the other (the group of the best job first), never a cross-entropy against a squared error.

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
    if (
        key in LOSS_COLUMNS
    ):  # a cross-entropy and a squared error are not comparable: each loss function's jobs together
        kinds = list(dict.fromkeys(str(rows[i].get("loss_function") or "") for i in present))
        present.sort(key=lambda i: kinds.index(str(rows[i].get("loss_function") or "")))  # stable: sorted within
    return present + missing


def sort_rows(rows: list[dict[str, Any]], key: str = "final_loss") -> list[dict[str, Any]]:
    """Rows sorted by `key`, see `sort_order`."""
    return [rows[i] for i in sort_order(rows, key)]


def sort_summaries(summaries: list[dict[str, Any]], key: str = "final_loss") -> list[dict[str, Any]]:
    """Summaries sorted by a column of their flat rows, see `sort_order`."""
    return [summaries[i] for i in sort_order(flat_rows(summaries), key)]


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

"""The sweep summary: `summary.csv` in a multirun directory, written at the multirun's end
(`SweepCallback.on_multirun_end`, callback.py), with one row per job: job number, overrides,
status, final loss, final accuracy and error (classification), runtime, iterations, directory,
error, then one column per override key; when a job is a classification run, the columns
CLASSIFICATION_SUMMARY_COLUMNS follow final_error. The values are those of `eprop eval` on the
sweep directory (both come from `jobs.summarize_job`); jobs that wrote error.txt instead of a
results file are rows with status `failed`; a job whose training diverged has status
`diverged` and the error line stored in its results file.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

log = logging.getLogger("eprop.sweep")  # the package's logger, as before the split into modules

SUMMARY_FILE = "summary.csv"
SUMMARY_COLUMNS = (
    "job",
    "overrides",
    "status",
    "final_loss",
    "final_accuracy",
    "final_error",
    "runtime_s",
    "n_iter_done",
    "n_iter",
    "dir",
    "error",
)
# after final_error, when a job is a classification run: where the final accuracy comes from, the test
# phase's accuracy and error, the mean accuracy of every phase (phase names of eprop/config/phases.py)
CLASSIFICATION_SUMMARY_COLUMNS = (
    "final_accuracy_phase",
    "final_accuracy_from",
    "test_accuracy",
    "test_error",
    "accuracy_training",
    "accuracy_validation",
    "accuracy_early_stopping",
    "accuracy_test",
)


def summarize_sweep(sweep_dir: str | Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and one row per job of a multirun directory, ordered by job number."""
    from eprop.analysis.jobs import CLASSIFICATION_KEYS, error_files, flat_row, job_directories, summarize_job

    sweep_dir = Path(sweep_dir)
    rows = []
    for job_dir in job_directories(sweep_dir):
        summary = summarize_job(job_dir, sweep_dir, check_loss=False)
        row = {
            "job": _job_number(job_dir, summary["job"]),
            "overrides": " ".join(summary.get("overrides") or []),
            "status": summary.get("status"),
            "final_loss": summary.get("final_loss"),
            "final_accuracy": summary.get("final_accuracy"),  # classification tasks; empty otherwise
            "final_error": summary.get("final_error"),
            "runtime_s": summary.get("runtime_s"),
            "n_iter_done": summary.get("n_iter_done"),
            "n_iter": summary.get("n_iter"),
            "dir": str(job_dir),
            "error": summary.get("error") or _error_text(error_files(job_dir)),
        }
        flat = flat_row(summary)
        classification = [key for key in flat if key in CLASSIFICATION_KEYS or key.startswith("accuracy_")]
        row.update({key: flat[key] for key in classification if key not in row})
        for key, value in flat.items():
            if key not in row and key in (summary.get("overrides_parsed") or {}):
                row[key] = value
        rows.append(row)
    rows.sort(key=lambda r: (0, r["job"], "") if isinstance(r["job"], int) else (1, 0, str(r["job"])))
    columns = list(SUMMARY_COLUMNS)
    extra = [key for key in CLASSIFICATION_SUMMARY_COLUMNS if any(key in row for row in rows)]
    columns[columns.index("final_error") + 1 : columns.index("final_error") + 1] = extra  # classification jobs only
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return columns, rows


def _job_number(job_dir: Path, fallback: str) -> int | str:
    """hydra.job.num from the job's .hydra/hydra.yaml, else its directory relative to the sweep."""
    try:
        num = OmegaConf.load(job_dir / ".hydra" / "hydra.yaml").hydra.job.num
        return int(num)
    except Exception:
        return int(fallback) if str(fallback).isdigit() else fallback


def _error_text(files: Iterable[Path]) -> str:
    """The last line of the first readable, non-empty error file ("" if none)."""
    from eprop.analysis.jobs import last_line

    for path in files:
        try:
            line = last_line(path)
        except OSError:
            continue
        if line:
            return line
    return ""


def write_summary(sweep_dir: str | Path) -> Path:
    """Write `summary.csv` into a multirun directory; returns its path."""
    columns, rows = summarize_sweep(sweep_dir)
    path = Path(sweep_dir) / SUMMARY_FILE
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _cell(row.get(key)) for key in columns})
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row["status"])] = counts.get(str(row["status"]), 0) + 1
    log.info("sweep summary: %s (%s)", path, ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return path


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value

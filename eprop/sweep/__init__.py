"""Multiruns: the thread budget, the sweep summary and failed trials in optuna searches.

`SweepCallback` is a Hydra callback (configured under `hydra.callbacks.eprop_sweep` in
conf/config.yaml). It does three things (the fourth item is not the callback's):

- **Thread budget** (`on_multirun_start`, before Hydra builds the sweeper and launcher):
  NEST runs `kernel.threads` OpenMP threads per job, so parallel jobs must share the cores.
  With `hydra/launcher=joblib` and `hydra.launcher.n_jobs` left at its default (-1, "all
  CPUs") it sets n_jobs = cores // kernel.threads (at least 1). An explicit n_jobs with
  n_jobs × kernel.threads > cores is kept, with a warning. With the submitit launchers it
  sets `cpus_per_task` to kernel.threads if it is unset, and warns if it is smaller. A
  swept `kernel.threads=1,2` counts with its largest value.
- **Failed trials in optuna searches**: eprop's failed multirun jobs return NaN (see
  run_job.py). hydra-optuna-sweeper 1.3 with optuna 2.10 crashes on a NaN result (it tells
  optuna the trial failed *and* passes the NaN value, which optuna refuses). The callback
  replaces the sweeper's `_target_` by `hydra_plugins.eprop_sweeper.EpropOptunaSweeper`
  (Hydra instantiates plugins only from that namespace), which wraps the launcher with
  `failed_trial_launcher` below, so that such a job reaches optuna as a failed trial.
  Whether the search then goes on is Hydra's `hydra.sweeper.max_failure_rate` (the
  plugin's default 0.0 stops it at the first failure; `hparams_search=eta_creg` sets 0.5).
- **Sweep summary** (`on_multirun_end`): `summary.csv` in the sweep directory with one row
  per job: job number, overrides, status, final loss, final accuracy and error (classification),
  runtime, iterations, directory, error, then one column per override key; when a job is a
  classification run, the columns CLASSIFICATION_SUMMARY_COLUMNS follow final_error. The
  values are those of `eprop eval` on the sweep directory (both come from
  `jobs.summarize_job`); jobs that wrote error.txt instead of a results file are rows with
  status `failed`; a job whose training diverged has status `diverged` and the error line
  stored in its results file.
- **The objective** (`job_objective`, returned by each job): the final loss of a regression
  task, the final accuracy of a classification task; `check_direction` (called by
  EpropOptunaSweeper.setup) refuses an optuna search in the other direction.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from eprop.errors import EpropError, UserError

log = logging.getLogger(__name__)

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
JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
SUBMITIT_LAUNCHERS = {
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher": "submitit_local",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher": "submitit_slurm",
}
PLUGIN_OPTUNA_SWEEPER = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
EPROP_OPTUNA_SWEEPER = "hydra_plugins.eprop_sweeper.EpropOptunaSweeper"


# ---------------------------------------------------------------- thread budget


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a SLURM or taskset limit)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def swept_threads(cfg: DictConfig) -> int:
    """The largest kernel.threads of a multirun: the base value or any value of a sweep override."""
    from eprop.config.overrides import key_of, values

    threads = [int(cfg.kernel.threads)]
    for override in _task_overrides(cfg):
        if key_of(override) == "kernel.threads":  # sweep syntax Hydra's parser does not expand: the base value counts
            threads.extend(
                int(value) for value in values(override) if isinstance(value, int) and not isinstance(value, bool)
            )
    return max(threads)


def _task_overrides(cfg: DictConfig) -> list[str]:
    try:
        return [str(o) for o in cfg.hydra.overrides.task]
    except Exception:  # no hydra node (a config composed without return_hydra_config)
        return []


def joblib_jobs(n_jobs: int | None, cores: int) -> int:
    """joblib's n_jobs as a number of processes (-1: all cores, -2: all but one, ...)."""
    if n_jobs is None or n_jobs == 0:
        return 1
    return n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)


def apply_thread_budget(cfg: DictConfig, cores: int | None = None) -> list[str]:
    """Fit the launcher's parallelism to kernel.threads (see the module docstring).

    Changes `cfg.hydra.launcher` in place; returns the warnings it logged.
    """
    cores = cores or available_cores()
    threads = swept_threads(cfg)
    launcher = cfg.hydra.launcher
    target = launcher.get("_target_", "")
    warnings: list[str] = []
    if target == JOBLIB_LAUNCHER:
        if launcher.n_jobs is None or launcher.n_jobs == -1:
            n_jobs = max(1, cores // threads)
            with open_dict(launcher):
                launcher.n_jobs = n_jobs
            log.info(
                "thread budget: %d parallel job(s) x kernel.threads=%d on %d cores (hydra.launcher.n_jobs=%d)",
                n_jobs,
                threads,
                cores,
                n_jobs,
            )
        else:
            n_jobs = joblib_jobs(launcher.n_jobs, cores)
            if n_jobs * threads > cores:
                warnings.append(
                    f"oversubscribed: hydra.launcher.n_jobs={launcher.n_jobs} x kernel.threads={threads} = "
                    f"{n_jobs * threads} threads on {cores} cores; the jobs will slow each other down "
                    f"(use hydra.launcher.n_jobs={max(1, cores // threads)}, or leave it at -1 for the thread budget)"
                )
    elif target in SUBMITIT_LAUNCHERS:
        name = SUBMITIT_LAUNCHERS[target]
        if launcher.get("cpus_per_task") is None:
            with open_dict(launcher):
                launcher.cpus_per_task = threads
            log.info("%s: cpus_per_task=%d from kernel.threads", name, threads)
        elif launcher.cpus_per_task < threads:
            warnings.append(
                f"oversubscribed: hydra.launcher.cpus_per_task={launcher.cpus_per_task} < kernel.threads={threads}; "
                f"each job runs {threads} NEST threads on {launcher.cpus_per_task} CPU(s)"
            )
        if name == "submitit_local":
            log.info(
                "submitit_local starts every job of the sweep at once, each with %d NEST thread(s), on %d cores",
                threads,
                cores,
            )
    elif threads > cores:
        warnings.append(f"oversubscribed: kernel.threads={threads} on {cores} cores; NEST's threads will share cores")
    for message in warnings:
        log.warning("warning: %s", message)
    return warnings


def use_nan_safe_optuna(cfg: DictConfig) -> bool:
    """Point an optuna sweeper at EpropOptunaSweeper (same parameters); True if changed."""
    sweeper = cfg.hydra.sweeper
    if sweeper.get("_target_") != PLUGIN_OPTUNA_SWEEPER:
        return False
    with open_dict(sweeper):
        sweeper._target_ = EPROP_OPTUNA_SWEEPER
    return True


# ---------------------------------------------------------------- the objective


def task_kind(cfg: DictConfig) -> str:
    """ "classification" or "regression": the kind of the config's task (task.target in tasks.TASKS)."""
    from eprop.tasks import TASKS

    task = TASKS.get(str(cfg.task.get("target", "")))
    return task.kind if task is not None else "regression"


def job_objective(cfg: DictConfig, results_path: Path, final_loss: float) -> float:
    """What a job returns to the sweeper: the final loss (regression), the final accuracy (classification:
    the mean over the test phase's iterations, else over the last training iterations; eprop eval's
    final_accuracy), which an optuna search maximizes (`hparams_search=evidence_accumulation`)."""
    if task_kind(cfg) != "classification":
        return final_loss
    from eprop.analysis.metrics import classification_summary
    from eprop.results import open_results

    with open_results(results_path) as results:
        accuracy = classification_summary(results).get("final_accuracy")
    return float("nan") if accuracy is None else float(accuracy)


def check_direction(cfg: DictConfig) -> None:
    """An optuna search in the wrong direction is refused: a classification task's jobs return the final
    accuracy (maximize), a regression task's the final loss (minimize). Called by EpropOptunaSweeper.setup
    (Hydra turns an exception in a callback into a warning)."""
    sweeper = cfg.hydra.sweeper
    direction = str(sweeper.get("direction", "")).lower().replace("direction.", "")
    wanted = "maximize" if task_kind(cfg) == "classification" else "minimize"
    if direction in ("minimize", "maximize") and direction != wanted:
        returns = "the final accuracy" if wanted == "maximize" else "the final loss"
        raise UserError(
            f"hydra.sweeper.direction={direction}: task.target={cfg.task.target} is a {task_kind(cfg)} task, "
            f"whose jobs return {returns}; use hydra.sweeper.direction={wanted} (hparams_search="
            f"{'evidence_accumulation' if wanted == 'maximize' else 'eta_creg'} does)"
        )


# ---------------------------------------------------------------- sweep summary


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


# ---------------------------------------------------------------- the callback


def _hydra_callback_base():
    try:
        from hydra.experimental.callback import Callback
    except ImportError:  # pragma: no cover - Hydra < 1.1
        return object
    return Callback


class SweepCallback(_hydra_callback_base()):
    """Hydra callback: thread budget at the start of a multirun, summary.csv at its end."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        threads = int(config.kernel.threads)
        cores = available_cores()
        if threads > cores:
            log.warning(
                "warning: oversubscribed: kernel.threads=%d on %d cores; NEST's threads will share cores",
                threads,
                cores,
            )

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        apply_thread_budget(config)
        if use_nan_safe_optuna(config):
            log.info(
                "optuna: a failed job (NaN loss) is told to optuna as a failed trial "
                "(hydra.sweeper.max_failure_rate=%s)",
                config.hydra.sweeper.max_failure_rate,
            )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            write_summary(sweep_dir)
        except (EpropError, OSError) as err:
            log.warning("no sweep summary written in %s: %s", sweep_dir, err)


# ---------------------------------------------------------------- optuna


class TrialFailed(UserError):
    """A job of an optuna search that failed (its run function returned NaN)."""


def failed_trial_launcher(launcher):
    """Wrap a launcher so that jobs returning NaN come back as failed jobs."""
    from hydra.core.utils import JobStatus

    class FailedTrialLauncher:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def launch(self, job_overrides, initial_job_idx):
            returns = self.inner.launch(job_overrides, initial_job_idx)
            for ret in returns:  # JobReturn's public status and return_value (read only when completed)
                if ret.status != JobStatus.COMPLETED:
                    continue
                value = ret.return_value
                if isinstance(value, float) and math.isnan(value):
                    ret.status = JobStatus.FAILED
                    ret.return_value = TrialFailed(_failure_message(ret))
            return returns

    return FailedTrialLauncher(launcher)


def _failure_message(ret) -> str:
    try:
        job_dir = Path(ret.hydra_cfg.hydra.runtime.output_dir)
        num = ret.hydra_cfg.hydra.job.num
    except Exception:
        job_dir, num = None, "?"
    reason = _error_text([job_dir / "error.txt"]) if job_dir else ""
    return (
        f"optuna trial (job {num}) failed{': ' + reason if reason else ''}; the search stops when failed trials "
        "exceed hydra.sweeper.max_failure_rate"
    )


def end_of_failed_search(config: DictConfig, err: Exception) -> None:
    """An optuna search stopped by failed trials: write summary.csv, then raise a one-line error."""
    sweep_dir = Path(config.hydra.sweep.dir)
    try:
        write_summary(sweep_dir)
    except (EpropError, OSError) as summary_err:
        log.warning("no sweep summary written in %s: %s", sweep_dir, summary_err)
    if isinstance(err, TrialFailed):
        raise err
    raise TrialFailed(
        f"optuna: every trial failed, so there is no best trial; see {sweep_dir / SUMMARY_FILE}"
    ) from None

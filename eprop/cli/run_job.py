"""The function Hydra runs for each job: progress bar, output directory, error capture.

It reads what it needs from Hydra's runtime config, then calls the Hydra-free `train()`, and
returns the job's objective (sweep.job_objective: the final loss, or a classification task's
final accuracy).
In a multirun, a failing job writes `error.txt` into its directory and returns NaN, so the
other jobs of the sweep still run; in a single run the error goes into the job's eprop.log
and reaches the CLI as `StopRun` (errors.py), which the CLI prints as one line.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from eprop.cli.boundary import user_error
from eprop.cli.run_dir import write_to_log
from eprop.errors import StopRun, UserError
from eprop.results import natural_key
from eprop.sweep import job_objective
from eprop.training.job import expand_paths, train_job
from eprop.training.loop import train
from eprop.training.resume import resume_config

log = logging.getLogger(__name__)


def run_job(cfg: DictConfig) -> float:
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    overrides = list(OmegaConf.to_container(hc.overrides.task, resolve=False))  # as typed, ${...} included
    multirun = hc.mode == RunMode.MULTIRUN
    try:
        parent = None
        expand_paths(cfg)
        if cfg.resume:
            cfg, parent = resume_config(cfg, overrides)
            expand_paths(cfg)
        cfg, final_loss = train_job(cfg, run_dir, overrides, parent, progress=bool(cfg.progress), trainer=train)
        return job_objective(cfg, run_dir / cfg.output.file, final_loss)
    except Exception as exc:
        err = user_error(exc)  # a UserError (config errors translated), an Interrupted run, or None: a bug
        if err is None:
            if not multirun:
                raise
            return _job_failed(hc, run_dir, exc)
        interrupted = not isinstance(err, UserError)
        if not multirun or interrupted:
            # An interrupted job ends a whole multirun too: Ctrl-C means stop, not "next job".
            write_to_log(f"{'interrupted by ' if interrupted else ''}{err}")
            raise StopRun(err)
        return _job_failed(hc, run_dir, err)


def _job_failed(hc, run_dir: Path, err: Exception) -> float:
    """Record a failed multirun job in its directory and let the sweep go on."""
    message = str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
    (run_dir / "error.txt").write_text(message + "\n")
    log.error("job %s failed: %s", hc.job.num, message)
    print(f"eprop: job {hc.job.num} failed: {message}", file=sys.stderr)
    return float("nan")


class FailedJobsCallback(Callback):
    """Finds the jobs of a multirun that wrote error.txt; `eprop run -m` then exits with code 1.

    It runs in the process that launched the multirun, whatever the launcher, and leaves the
    job directories whose error.txt this sweep wrote in `FailedJobsCallback.failed`.
    """

    failed: list[Path] = []
    _started: float = 0.0

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        FailedJobsCallback.failed = []
        FailedJobsCallback._started = time.time()

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        errors = sweep_dir.rglob("error.txt") if sweep_dir.is_dir() else []
        new = {p.parent for p in errors if p.stat().st_mtime >= FailedJobsCallback._started - 1.0}
        FailedJobsCallback.failed = sorted(new, key=natural_key)

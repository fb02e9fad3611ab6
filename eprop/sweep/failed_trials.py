"""Failed trials in optuna searches.

eprop's failed multirun jobs return NaN (see run_job.py). hydra-optuna-sweeper 1.3 with optuna
2.10 crashes on a NaN result (it tells optuna the trial failed *and* passes the NaN value, which
optuna refuses). `use_nan_safe_optuna` (called by SweepCallback.on_multirun_start) replaces the
sweeper's `_target_` by `hydra_plugins.eprop_sweeper.EpropOptunaSweeper` (Hydra instantiates
plugins only from that namespace), which wraps the launcher with `failed_trial_launcher` below,
so that such a job reaches optuna as a failed trial. Whether the search then goes on is Hydra's
`hydra.sweeper.max_failure_rate` (the plugin's default 0.0 stops it at the first failure;
`hparams_search=eta_creg` sets 0.5).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from omegaconf import DictConfig, open_dict

from eprop.errors import EpropError, UserError
from eprop.sweep.summary import SUMMARY_FILE, _error_text, write_summary

log = logging.getLogger("eprop.sweep")  # the package's logger, as before the split into modules

PLUGIN_OPTUNA_SWEEPER = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
EPROP_OPTUNA_SWEEPER = "hydra_plugins.eprop_sweeper.EpropOptunaSweeper"


def use_nan_safe_optuna(cfg: DictConfig) -> bool:
    """Point an optuna sweeper at EpropOptunaSweeper (same parameters); True if changed."""
    sweeper = cfg.hydra.sweeper
    if sweeper.get("_target_") != PLUGIN_OPTUNA_SWEEPER:
        return False
    with open_dict(sweeper):
        sweeper._target_ = EPROP_OPTUNA_SWEEPER
    return True


# ---------------------------------------------------------------- the objective


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

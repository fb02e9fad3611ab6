"""Multiruns: the thread budget (budget.py), the objective each job returns (objective.py), the
sweep summary summary.csv (summary.py), failed trials in optuna searches (failed_trials.py), and
`SweepCallback` (callback.py), the Hydra callback conf/config.yaml names as
`eprop.sweep.SweepCallback` that applies them at a multirun's start and end.
"""

from eprop.sweep.budget import (
    JOBLIB_LAUNCHER,
    SUBMITIT_LAUNCHERS,
    apply_thread_budget,
    available_cores,
    joblib_jobs,
    swept_threads,
)
from eprop.sweep.callback import SweepCallback
from eprop.sweep.failed_trials import (
    EPROP_OPTUNA_SWEEPER,
    PLUGIN_OPTUNA_SWEEPER,
    TrialFailed,
    end_of_failed_search,
    failed_trial_launcher,
    use_nan_safe_optuna,
)
from eprop.sweep.objective import check_direction, job_objective, task_kind
from eprop.sweep.summary import (
    CLASSIFICATION_SUMMARY_COLUMNS,
    SUMMARY_COLUMNS,
    SUMMARY_FILE,
    summarize_sweep,
    write_summary,
)

__all__ = [
    "CLASSIFICATION_SUMMARY_COLUMNS",
    "EPROP_OPTUNA_SWEEPER",
    "JOBLIB_LAUNCHER",
    "PLUGIN_OPTUNA_SWEEPER",
    "SUBMITIT_LAUNCHERS",
    "SUMMARY_COLUMNS",
    "SUMMARY_FILE",
    "SweepCallback",
    "TrialFailed",
    "apply_thread_budget",
    "available_cores",
    "check_direction",
    "end_of_failed_search",
    "failed_trial_launcher",
    "job_objective",
    "joblib_jobs",
    "summarize_sweep",
    "swept_threads",
    "task_kind",
    "use_nan_safe_optuna",
    "write_summary",
]

"""`SweepCallback`, eprop's Hydra callback (configured under `hydra.callbacks.eprop_sweep` in
conf/config.yaml): the thread budget (budget.py) and the NaN-safe optuna sweeper
(failed_trials.py) at the start of a multirun, summary.csv (summary.py) at its end.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from eprop.errors import EpropError
from eprop.sweep.budget import apply_thread_budget, available_cores
from eprop.sweep.failed_trials import use_nan_safe_optuna
from eprop.sweep.summary import write_summary

log = logging.getLogger("eprop.sweep")  # the package's logger, as before the split into modules


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

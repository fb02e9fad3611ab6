"""Everything eprop relies on in Hydra beyond its public API, in this one module.

Tested with hydra-core 1.3.8 and hydra-optuna-sweeper 1.3.0 (pyproject allows hydra-core
>=1.3.2,<1.4); tests/unit/test_hydra_internals.py fails loudly when a Hydra release changes any
of these:

1. `hydra._internal.hydra.Hydra.get_mode(self, config_name, overrides)` (private). Before a
   run, `@hydra.main` composes the whole config once only to read `hydra.mode` from it, then
   composes it again to run: about 0.2 s of every run's start. `one_composition` replaces the
   method, for the duration of one `eprop run`, by one that answers None ("not set")
   without composing, when the command line cannot set `hydra.mode` (run_mode.mode_is_null;
   eprop's configs never set it, tests/unit/test_run_mode.py checks every preset). With None,
   Hydra's `hydra._internal.utils._run_app` (private) runs a single run without `-m` and a
   multirun with it: the answer a composition would have given. Hydra has no public way to
   skip that composition.
2. `@hydra.main` takes no argv: the decorated function reads `sys.argv` (public behaviour,
   but no parameter). `hydra_main` sets `sys.argv = ["eprop run", *argv]` for the call
   (`eprop run` is the program name in Hydra's own usage and errors) and restores it.
3. `HYDRA_FULL_ERROR=1` (public, documented): Hydra re-raises a failing job's exception
   instead of printing its own report, so that the boundary (boundary.py) prints one line.
4. hydra-optuna-sweeper's `OptunaSweeper.sweeper` (an instance of its private
   `_impl.OptunaSweeperImpl`) and that object's `launcher` and `config` attributes:
   hydra_plugins/eprop_sweeper wraps the launcher so that a failed job reaches optuna as a
   failed trial (eprop.sweep.failed_trial_launcher), and reads the config to write
   summary.csv when the search stops. The plugin has no public hook for either.
5. `hydra._internal.core_plugins.basic_sweeper.BasicSweeper.split_arguments(overrides,
   max_batch_size)` (a static method of a private module): the jobs of a basic sweep, each a
   list of `key=value` strings, in Hydra's job order. sweep_check.py validates every job with
   it before the first runs; Hydra has no public way to expand a sweep.

The launcher wrapper uses only `JobReturn`'s public `status` and `return_value` (getter and
setter), not its private `_return_value`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

TESTED_HYDRA = "1.3.8"


def hydra_main(task_function: Callable[[Any], Any], argv: list[str], config_dir: str, config_name: str) -> None:
    """Run `task_function` as `@hydra.main` would for the command line `eprop run ARGV`.

    Exceptions are not caught: Hydra's own exits are SystemExit, a job's error is raised as is.
    """
    import hydra

    from eprop.cli.run_mode import mode_is_null

    os.environ["HYDRA_FULL_ERROR"] = "1"  # let errors reach the boundary, which prints one line
    entry = hydra.main(version_base="1.3", config_path=config_dir, config_name=config_name)(task_function)
    saved_argv = sys.argv
    sys.argv = ["eprop run", *argv]
    try:
        with one_composition(mode_is_null(argv)):
            entry()
    finally:
        sys.argv = saved_argv


@contextmanager
def one_composition(mode_is_null: bool) -> Iterator[None]:
    """Within the block, Hydra's get_mode answers None without composing, when `mode_is_null`."""
    from hydra._internal.hydra import Hydra

    if not mode_is_null:
        yield
        return
    composing = Hydra.get_mode
    Hydra.get_mode = lambda self, config_name, overrides: None
    try:
        yield
    finally:
        Hydra.get_mode = composing


def optuna_launcher(sweeper: Any) -> Any:
    """The launcher that hydra-optuna-sweeper's OptunaSweeper runs its trials with (after its setup)."""
    return sweeper.sweeper.launcher


def set_optuna_launcher(sweeper: Any, launcher: Any) -> None:
    """Have hydra-optuna-sweeper's OptunaSweeper run its trials with `launcher`."""
    sweeper.sweeper.launcher = launcher


def optuna_config(sweeper: Any) -> Any:
    """The composed config (hydra.sweep.dir, ...) of hydra-optuna-sweeper's OptunaSweeper (after its setup)."""
    return sweeper.sweeper.config


def sweep_jobs(overrides: list[Any]) -> list[list[str]]:
    """The jobs the basic sweeper makes of parsed OVERRIDES, in its order (job 0 first)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    return [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]

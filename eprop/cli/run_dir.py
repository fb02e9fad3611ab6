"""The run directory of `eprop run`: made before Hydra uses it, removed if an error leaves it
without results, named when the run ends.

`RunDirCallback` is a Hydra callback (`hydra.callbacks.eprop_run_dir` in conf/config.yaml):

- `on_run_start` / `on_multirun_start` create `hydra.run.dir` / `hydra.sweep.dir` before Hydra
  does and note which directories did not exist before this call. Hydra turns an exception
  in a callback into a warning, so a directory that cannot be made (`/proc/x`, a path under a
  file, no permission) is kept as `RunDirCallback.error`, a one-line UserError naming the
  key, which the CLI prints when Hydra's own mkdir then fails.

When `eprop run` ends with an error, the boundary (boundary.py) calls `after_error`: after an
error of a single run, `discard_if_empty()` removes a run directory that this call created and
that holds nothing but Hydra's `.hydra/` and `eprop.log` (and the empty parents this call
created), so mistakes do not leave directories that look like runs; a results file written
before the error is named instead (`eprop: results in DIR`, on stdout). Nothing else is ever
removed.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from eprop.errors import UserError
from eprop.training.job import make_dir

HYDRA_FILES = {".hydra", "eprop.log"}  # what Hydra and the job's logging put into every run directory


class RunDirCallback(Callback):
    """Creates the run or sweep directory and remembers what this call created (class state)."""

    run_dir: Path | None = None  # the single run's directory (absolute)
    sweep_dir: Path | None = None  # the multirun's directory (absolute)
    created: list[Path] = []  # directories this call created, the run directory first, then its new parents
    results_file: Path | None = None  # the single run's results file (output.file in run_dir)
    results_before: bool = False  # that file existed before this call
    error: UserError | None = None  # why the run or sweep directory cannot be made

    @classmethod
    def reset(cls) -> None:
        cls.run_dir = cls.sweep_dir = None
        cls.created = []
        cls.results_file = None
        cls.results_before = False
        cls.error = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        path = Path(str(config.hydra.run.dir))
        try:
            RunDirCallback.created = make_dir("hydra.run.dir", path, "run")
        except UserError as err:
            RunDirCallback.error = err
            return
        RunDirCallback.run_dir = path.absolute()
        RunDirCallback.results_file = RunDirCallback.run_dir / str(config.output.file)
        RunDirCallback.results_before = RunDirCallback.results_file.exists()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        path = Path(str(config.hydra.sweep.dir))
        try:
            make_dir("hydra.sweep.dir", path, "sweep")
        except UserError as err:
            RunDirCallback.error = err
            return
        RunDirCallback.sweep_dir = path.absolute()


def write_to_log(message: str) -> None:
    """Append an error line to the job's eprop.log only (the console shows it as `eprop: error:`)."""
    record = logging.LogRecord("eprop", logging.ERROR, __file__, 0, "%s", (message,), None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def discard_if_empty() -> bool:
    """Remove the single run's directory if this call created it and it holds no results.

    Only a directory with nothing but `.hydra/` (files only) and `eprop.log` is removed, then
    the parents this call created, as long as they are empty. Returns True if it was removed.
    """
    run_dir = RunDirCallback.run_dir
    if run_dir is None or run_dir not in RunDirCallback.created or not run_dir.is_dir():
        return False
    entries = {p.name for p in run_dir.iterdir()}
    hydra_dir = run_dir / ".hydra"
    if not entries <= HYDRA_FILES or (hydra_dir.is_dir() and any(not p.is_file() for p in hydra_dir.iterdir())):
        return False
    root = logging.getLogger()
    for handler in list(root.handlers):  # the job's log file is about to go
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == run_dir:
            root.removeHandler(handler)
            handler.close()
    if hydra_dir.is_dir():
        shutil.rmtree(hydra_dir)
    if (run_dir / "eprop.log").is_file():
        (run_dir / "eprop.log").unlink()
    run_dir.rmdir()
    for parent in RunDirCallback.created[1:]:
        try:
            parent.rmdir()  # only if empty
        except OSError:
            break
    return True


def after_error(exc: BaseException, bug: bool) -> None:
    """What `eprop run` leaves when it ends with `exc` (called by the boundary after its line).

    A bug or a second signal: the results written so far are named. A signal before the first
    iteration: the empty run directory goes. A user error: the empty run directory goes, or the
    results written (a single run's, or a multirun's summary.csv) are named. An interrupted run
    (its line names the directory) and Hydra's own exits leave everything as it is.
    """
    from eprop.cli.boundary import user_error
    from eprop.sweep import SUMMARY_FILE

    if bug or (isinstance(exc, KeyboardInterrupt) and exc.args):
        if results_written():
            print(f"eprop: results in {shown(results_written())}")
    elif isinstance(exc, KeyboardInterrupt):  # before the training loop: nothing to keep
        discard_if_empty()
    elif isinstance(user_error(exc), UserError):
        sweep_dir = RunDirCallback.sweep_dir
        if not discard_if_empty() and results_written():
            print(f"eprop: results in {shown(results_written())}")
        elif sweep_dir is not None and (sweep_dir / SUMMARY_FILE).is_file():
            print(f"eprop: results in {shown(sweep_dir)}")


def results_written() -> Path | None:
    """The single run's directory if this call wrote its results file, else None."""
    results = RunDirCallback.results_file
    if results is None or RunDirCallback.results_before or not results.is_file():
        return None
    return results.parent


def shown(path: Path) -> str:
    """A path to print: relative to the working directory when it lies below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)

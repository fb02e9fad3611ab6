"""The exceptions that end eprop, and `exit_status`: the one place that turns any of them into
the line printed on stderr and the exit code.

A `UserError` is a mistake the user can fix: one line, exit code 2 (or its `exit_code`, e.g. 3
for a diverged run). Hydra's and OmegaConf's config errors become UserErrors through
config_errors.py. An interrupted run exits with 130. Anything else is a bug and keeps its
traceback (`exit_status` returns `BUG`, and the caller re-raises).
"""

from __future__ import annotations

from pathlib import Path
BUG = ("", 1)  # exit_status of an exception that is a bug: the caller re-raises it


class UserError(Exception):
    """A mistake in the user's input: a config value, a file, a path."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


class Diverged(UserError):
    """Training blew up: a loss that is not finite, or a saturated recurrent firing rate.

    The results file keeps every finished iteration (the one that diverged included) and gets
    status "diverged"; the CLI prints the one-line message and exits with code 3.
    """

    EXIT_CODE = 3

    def __init__(self, message: str):
        super().__init__(message, exit_code=self.EXIT_CODE)


class Interrupted(Exception):
    """Training stopped early by a signal; the results file is marked interrupted."""

    def __init__(self, signal_name: str, n_iter_done: int, n_iter: int, run_dir: Path, complete: bool = False):
        if complete:
            message = f"{signal_name} during the last iteration; the run is complete: {run_dir}"
        else:
            message = (f"{signal_name} after {n_iter_done} of {n_iter} iterations; results kept in {run_dir}; "
                       f"continue with: eprop run resume={run_dir}")
        super().__init__(message)
        self.signal_name = signal_name
        self.n_iter_done = n_iter_done
        self.run_dir = run_dir
        self.exit_code = 130


class StopRun(BaseException):
    """Ends a single run with a user error or an interrupt; the CLI prints `error` as one line.

    A BaseException, so that Hydra passes it on without its own "Error executing job" report.
    """

    def __init__(self, error: Exception):
        super().__init__(error)
        self.error = error


def user_error(exc: BaseException) -> Exception | None:
    """`exc` as the error a user can act on: a UserError (config errors translated), an
    Interrupted run, or None if `exc` is a bug (or not an error at all)."""
    if isinstance(exc, StopRun):
        exc = exc.error
    if isinstance(exc, (UserError, Interrupted)):
        return exc
    from .config_errors import config_error_types, one_line

    if isinstance(exc, config_error_types()):
        return UserError(one_line(exc))
    return None


def exit_status(exc: BaseException) -> tuple[str, int]:
    """The line to print on stderr ("" for none) and the exit code for an exception that ends eprop.

    `BUG` for an exception that is a bug: the caller lets it propagate with its traceback.
    """
    if isinstance(exc, SystemExit):  # Hydra's own exits (--help, --info, ...)
        return "", exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if isinstance(exc, KeyboardInterrupt):
        if not exc.args:  # Python's own SIGINT handler: the signal came before the training loop
            return "eprop: interrupted by SIGINT before the first iteration; nothing to resume", 130
        return ("eprop: stopped at once by a second signal; the results file keeps every finished iteration "
                "(status interrupted, no final weights)", 130)
    err = user_error(exc)
    if err is None:
        return BUG
    if isinstance(err, Interrupted):  # the message names the run directory already
        return f"eprop: interrupted by {err}", 130
    return f"eprop: error: {err}", getattr(err, "exit_code", 2)

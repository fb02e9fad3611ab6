"""The exceptions that end eprop with a one-line message instead of a traceback.

Every error eprop raises on purpose is an `EpropError`; its message is one line. Two kinds:

- `UserError`: a mistake the user of the command line can fix (a config value, a path): one
  line, exit code 2 (or its `exit_code`, e.g. 3 for a diverged run, `Diverged`).
- `ResultsError`: the library's reader or writer of results files (`eprop.results`) refuses a
  file (missing, truncated, not an eprop file, an unsupported schema version, several candidates
  in one directory, one that exists already). It does not know the command line; the command
  line's error boundary (eprop/cli/boundary.py) prints it like a `UserError`, exit code 2.

An `Interrupted` run exits with 130. boundary.py turns any exception into the line printed and
the exit code. This module imports nothing of eprop.
"""

from __future__ import annotations

from pathlib import Path


class EpropError(Exception):
    """Base of the errors eprop raises on purpose: a one-line message, no traceback needed.

    `exit_code` is the command line's exit status for it (2).
    """

    exit_code = 2


class ResultsError(EpropError):
    """A results file cannot be read or written as asked: missing, damaged, not an eprop results file,
    an unsupported schema version, ambiguous (several in one directory) or already there.

    Raised by `eprop.results` (the reader `open_results`/`Results`, the writer `ResultsWriter`, the file
    discovery); the message names the path and says what is wrong, in one line.
    """


class UserError(EpropError):
    """A mistake in the user's input: a config value, a file, a path."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def as_user_error(exc: EpropError) -> UserError:
    """The command line's `UserError` for an eprop error: `exc` itself if it is one, else a UserError
    with the same one-line message (a `ResultsError`: the same line and exit code 2)."""
    return exc if isinstance(exc, UserError) else UserError(str(exc), exit_code=exc.exit_code)


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

    def __init__(self, signal_name: str, n_iter_done: int, n_iter: int | str, run_dir: Path, complete: bool = False):
        if complete:
            message = f"{signal_name} during the last iteration; the run is complete: {run_dir}"
        else:
            message = (
                f"{signal_name} after {n_iter_done} of {n_iter} iterations; results kept in {run_dir}; "
                f"continue with: eprop run resume={run_dir}"
            )
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


def nest_missing_message() -> str:
    """The one line for training where `import nest` cannot find NEST (`eprop run` prints it after
    `eprop: error: `); NEST 3.10 comes from the `nest` extra's wheel, conda-forge or a source build."""
    return (
        'eprop run needs NEST 3.10 (the nest-simulator package), which is not installed here: pip install "eprop[nest]" '
        "on Linux x86_64; elsewhere conda install -c conda-forge nest-simulator, or a source build (for MPI)"
    )

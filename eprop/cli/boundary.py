"""The one error boundary: any exception that ends eprop -> (line printed on stderr, exit code).

`exit_status` is called by the CLI and by the Hydra job function. User errors (config errors
translated to one line by config_errors.py, results files that eprop.results refuses with a
ResultsError), interrupts and diverged runs get their line and code; anything else is a bug:
`BUG`, and the caller re-raises it with its traceback.
"""

from __future__ import annotations

from eprop.config.hydra_errors import config_error_types, one_line
from eprop.errors import EpropError, Interrupted, StopRun, UserError, as_user_error

BUG = ("", 1)  # exit_status of an exception that is a bug: the caller re-raises it


def user_error(exc: BaseException) -> Exception | None:
    """`exc` as the error a user can act on: a UserError (config errors and the results reader's
    ResultsError translated, same line), an Interrupted run, or None if `exc` is a bug (or not an
    error at all)."""
    if isinstance(exc, StopRun):
        exc = exc.error
    if isinstance(exc, (UserError, Interrupted)):
        return exc
    if isinstance(exc, EpropError):  # ResultsError: the library's refusal of a results file
        return as_user_error(exc)
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
        return (
            "eprop: stopped at once by a second signal; the results file keeps every finished iteration "
            "(status interrupted, no final weights)",
            130,
        )
    err = user_error(exc)
    if err is None:
        return BUG
    if isinstance(err, Interrupted):  # the message names the run directory already
        return f"eprop: interrupted by {err}", 130
    return f"eprop: error: {err}", getattr(err, "exit_code", 2)

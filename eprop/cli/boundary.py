"""The one error boundary: every `eprop` command runs through `invoke`, which maps the exception
that ends it to (line printed on stderr, exit code).

- an eprop error (`EpropError`: a `UserError`, a `Diverged` run with exit code 3, a results
  file that eprop.results refuses with a `ResultsError`) or a Hydra or OmegaConf config error
  translated to one line by config/hydra_errors.py: `eprop: error: <line>`, 2;
- a command-line mistake that click finds (unknown option, bad choice, missing argument):
  `eprop: error: <what>: <problem>; valid ...`, 2 (one line, never click's usage block);
- an interrupt: its line, 130;
- Hydra's own exits (`--help`, `--info`, its argparse errors): their code, and nothing printed;
- anything else is a bug: its traceback is re-raised.

`eprop run` tells the boundary when it starts (`run_started`): a bare KeyboardInterrupt then
means the signal came before the first iteration, and the run's cleanup (run_dir.after_error:
remove a run directory without results, or name the results written before the error) is
called here, after the line, and before a bug is re-raised. Within a Hydra job, run_job.py
asks `user_error` which errors a user can act on (a multirun's failed job is recorded and the
sweep goes on; a single run's error reaches this boundary as StopRun).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Sequence

import click

from eprop.config.hydra_errors import config_error_types, one_line
from eprop.errors import EpropError, Interrupted, StopRun, UserError, as_user_error

BUG = ("", 1)  # exit_status of an exception that is a bug: the boundary re-raises it

Cleanup = Callable[[BaseException, bool], None]  # (the exception, whether it is a bug)
_run_cleanups: list[Cleanup] = []  # set by run_started for the `eprop run` being invoked


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


def exit_status(exc: BaseException, run: bool = True) -> tuple[str, int]:
    """The line to print on stderr ("" for none) and the exit code for an exception that ends eprop
    (`run`: it ends an `eprop run`).

    `BUG` for an exception that is a bug: the boundary lets it propagate with its traceback.
    """
    if isinstance(exc, SystemExit):  # Hydra's own exits (--help, --info, ...)
        return "", exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if isinstance(exc, click.exceptions.Exit):  # click's --help and --version
        return "", exc.exit_code
    if isinstance(exc, click.UsageError):
        return f"eprop: error: {usage_line(exc)}", 2
    if isinstance(exc, KeyboardInterrupt):
        if not run:
            return "eprop: interrupted by SIGINT", 130
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


def run_started(cleanup: Cleanup) -> None:
    """The command being invoked is an `eprop run`: if it ends with an exception, `cleanup(exc, bug)`
    is called after its line is printed (and before a bug is re-raised)."""
    _run_cleanups.append(cleanup)


def ended(exc: BaseException) -> int:
    """Print how the command ended and return its exit code; a bug is re-raised (after the run's cleanup)."""
    message, code = exit_status(exc, run=bool(_run_cleanups))
    bug = (message, code) == BUG
    if message:
        print(message, file=sys.stderr)
    for cleanup in list(_run_cleanups):
        cleanup(exc, bug)
    if bug:
        raise exc
    return code


def invoke(command: click.Command, args: Sequence[str], prog_name: str) -> int:
    """Run a click command on `args` through the boundary; returns the exit code.

    Not click's `main()`: that turns Ctrl-C into click's `Abort` and prints usage blocks;
    here every exception reaches `ended` as it was raised.
    """
    saved = list(_run_cleanups)
    _run_cleanups.clear()
    try:
        with command.make_context(prog_name, list(args)) as ctx:
            result = command.invoke(ctx)
    except BaseException as exc:  # noqa: B902 - the one boundary: exit_status decides what is a bug
        return ended(exc)
    finally:
        _run_cleanups[:] = saved
    return result if isinstance(result, int) else 0


# ---------------------------------------------------------------- click's errors as one line


def usage_line(exc: click.UsageError) -> str:
    """A command-line mistake as `<what>: <problem>; valid ...`, from click's exception (not its text)."""
    ctx = exc.ctx
    command = ctx.command_path if ctx else "eprop"
    if isinstance(exc, click.NoSuchOption):
        valid = option_names(ctx.command, ctx) if ctx else []
        closest = difflib.get_close_matches(exc.option_name, valid, n=1)
        near = f" (did you mean {closest[0]}?)" if closest else ""
        return f"{exc.option_name}: no such option{near}; valid options of {command}: {', '.join(valid)}"
    if isinstance(exc, click.BadOptionUsage) and ctx is not None:  # a value missing, or given to a flag
        param = next((p for p in ctx.command.params if exc.option_name in getattr(p, "opts", ())), None)
        if getattr(param, "is_flag", False):
            return f"{exc.option_name}: takes no value (a flag: give {exc.option_name} alone)"
        metavar = f" ({param.metavar or param.name.upper()})" if param is not None else ""
        return f"{exc.option_name}: needs a value{metavar}"
    if isinstance(exc, click.MissingParameter) and exc.param is not None:
        name = exc.param.human_readable_name.rstrip(".")
        what = getattr(exc.param, "description", "") or name
        return f"{command}: missing {name}; give {what}"
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        name = exc.param.opts[0] if isinstance(exc.param, click.Option) else exc.param.human_readable_name
        return f"{name} {exc.message}"  # eprop's parameter types word the message after the name (cli/options.py)
    return exc.message


def option_names(command: click.Command, ctx: click.Context) -> list[str]:
    """The long (else short) name of each option of `command`, its help option included."""
    names = []
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            longs = [opt for opt in param.opts if opt.startswith("--")]
            names.append((longs or param.opts)[0])
    return names

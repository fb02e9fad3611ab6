"""The `eprop` command: dispatches to `run` (Hydra), `plot` and `eval` (argparse), `--version`.

`eprop run ARGS` hands ARGS to `@hydra.main`: Hydra owns that argv (overrides, `-m`,
`--cfg job`, `hydra.run.dir=...`). Before that, run_args.py expands `~` in values and refuses
the overrides Hydra would fail on with a traceback; `--params` and `resume=DIR --cfg job` are
answered by show_config.py without running. User errors, whether Hydra finds them while
composing or eprop finds them while validating, end as one line on stderr and exit code 2
(errors.exit_status, the one map from an exception to the printed line and the exit code);
a run that ends names its directory on stdout (`eprop: results in DIR`, run_dir.py).
"""

from __future__ import annotations

import logging
import os
import sys

from eprop.cli.boundary import BUG, exit_status, user_error
from eprop.config.store import conf_dir  # noqa: F401  (eprop.cli.main.conf_dir for callers)
from eprop.errors import UserError

log = logging.getLogger("eprop")

USAGE = """usage: eprop {run,plot,eval} ...

  eprop run [OVERRIDES...]          train a network (Hydra overrides, -m for sweeps, --help for the config)
  eprop run --params [OVERRIDES...] every parameter of the composed config with its unit and meaning
  eprop plot PATH [options]         figures from a results file, run directory or multirun directory
  eprop eval PATH... [options]      metrics table from results files or directories
  eprop --version                   eprop's, NEST's and Python's versions
"""


def version_line() -> str:
    """eprop's, NEST's and Python's versions, read from the package metadata (NEST is not imported)."""
    import platform
    from importlib import metadata

    from eprop import __version__

    try:
        nest = metadata.version("nest-simulator")
    except metadata.PackageNotFoundError:
        nest = "not installed"
    return f"eprop {__version__}, NEST {nest}, Python {platform.python_version()}"


def run_main(argv: list[str]) -> int:
    """`eprop run`: compose the config with Hydra and train."""
    import hydra
    from omegaconf import OmegaConf

    from eprop.cli.run_args import argv_error, expand_home, resumed_cfg_job
    from eprop.cli.run_dir import RunDirCallback, shown
    from eprop.cli.run_job import FailedJobsCallback, run_job
    from eprop.cli.run_mode import one_composition
    from eprop.cli.show_config import help_groups, print_params, print_resumed_config
    from eprop.config.store import register_configs

    register_configs()
    if not OmegaConf.has_resolver("eprop.help_groups"):
        OmegaConf.register_new_resolver("eprop.help_groups", help_groups)  # used by hydra.help.template
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let errors reach us, so we can print one line

    @hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")
    def _entry(cfg):
        return run_job(cfg)

    argv = [expand_home(arg) for arg in argv]
    if message := argv_error(argv):
        print(f"eprop: error: {message}", file=sys.stderr)
        return 2
    if "--params" in argv:
        return print_params([arg for arg in argv if arg != "--params"])
    if (overrides := resumed_cfg_job(argv)) is not None:
        return print_resumed_config(overrides, resolve="--resolve" in argv)
    FailedJobsCallback.failed = []  # a failed earlier multirun in this process must not count
    RunDirCallback.reset()
    saved_argv = sys.argv
    sys.argv = ["eprop run", *argv]
    try:
        with one_composition(argv):  # Hydra would compose once more only to read hydra.mode
            _entry()
    except BaseException as exc:  # noqa: B902 - one boundary: exit_status decides what is a user error and what a bug
        return _run_ended(exc)
    finally:
        sys.argv = saved_argv
    if FailedJobsCallback.failed:
        dirs = ", ".join(str(d) for d in FailedJobsCallback.failed)
        print(
            f"eprop: {len(FailedJobsCallback.failed)} job(s) of the multirun failed; their error.txt: {dirs}",
            file=sys.stderr,
        )
        print(f"eprop: results in {shown(RunDirCallback.sweep_dir)}")
        return 1
    done = RunDirCallback.sweep_dir or RunDirCallback.run_dir
    if done is not None:
        print(f"eprop: results in {shown(done)}")
    return 0


def _run_ended(exc: BaseException) -> int:
    """Print how the run ended (errors.exit_status) and return the exit code; a bug is re-raised.

    A single run's directory that holds no results after an error is removed (run_dir.py); a
    results file written before the error is named on a second line, on stdout.
    """
    from eprop.cli.run_dir import RunDirCallback, discard_if_empty, results_written, shown
    from eprop.sweep import SUMMARY_FILE

    if isinstance(exc, OSError) and RunDirCallback.error is not None:
        exc = RunDirCallback.error  # Hydra could not make the run or sweep directory
    message, code = exit_status(exc)
    if (message, code) == BUG:  # keep the traceback, and say where the run's results are
        if results_written():
            print(f"eprop: results in {shown(results_written())}")
        raise exc
    if message:
        print(message, file=sys.stderr)
    if isinstance(exc, SystemExit):
        return code
    if isinstance(exc, KeyboardInterrupt):
        if not exc.args:  # before the training loop: nothing to keep
            discard_if_empty()
        elif results_written():
            print(f"eprop: results in {shown(results_written())}")
        return code
    if isinstance(user_error(exc), UserError):
        sweep_dir = RunDirCallback.sweep_dir
        if not discard_if_empty() and results_written():
            print(f"eprop: results in {shown(results_written())}")
        elif sweep_dir is not None and (sweep_dir / SUMMARY_FILE).is_file():
            print(f"eprop: results in {shown(sweep_dir)}")
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    if argv[0] in ("--version", "-V"):
        print(version_line())
        return 0
    command, rest = argv[0], argv[1:]
    if command == "run":
        code = run_main(rest)
    elif command in ("plot", "eval"):
        from eprop.cli import report

        code = (report.plot_main if command == "plot" else report.eval_main)(rest)
    else:
        print(f"eprop: error: unknown command {command!r}; valid commands: run, plot, eval", file=sys.stderr)
        code = 2
    return code


def _console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _console_main()

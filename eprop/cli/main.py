"""The `eprop` command: a click group of `run` (Hydra), `plot` and `eval` (report.py), and `--version`.

`eprop run ARGS` hands ARGS untouched to `@hydra.main` (hydra_internals.hydra_main): Hydra owns
that argv (overrides, `-m`, `--cfg job`, `--help`, `hydra.run.dir=...`). Before that, run_args.py
expands `~` in values and refuses the overrides Hydra would fail on with a traceback;
`--params` and `resume=DIR --cfg job` are answered by show_config.py without running, and a run
without NEST installed is one line (nest_install.py). Every command runs through the one
boundary (boundary.invoke), which prints an error as one line on stderr with its exit code; a
run that ends names its directory on stdout (`eprop: results in DIR`, run_dir.py).
"""

from __future__ import annotations

import logging
import sys

import click

from eprop.cli.boundary import invoke
from eprop.cli.options import HELP_OPTIONS, Context, parse_in
from eprop.config.schema import conf_dir
from eprop.errors import UserError

log = logging.getLogger("eprop")

COMMANDS = ("run", "plot", "eval")

USAGE = """\b
  eprop run [OVERRIDES...]          train a network (Hydra overrides, -m for sweeps, --help for the config)
  eprop run --params [OVERRIDES...] every parameter of the composed config with its unit and meaning
  eprop plot PATH [options]         figures from a results file, run directory or multirun directory
  eprop eval PATH... [options]      metrics table from results files or directories
  eprop --version                   eprop's, NEST's and Python's versions
"""


def version_line() -> str:
    """eprop's, NEST's and Python's versions, read from the package metadata (NEST is not imported)."""
    import platform

    from eprop import __version__
    from eprop.cli.nest_install import nest_version_text

    return f"eprop {__version__}, NEST {nest_version_text()}, Python {platform.python_version()}"


class Eprop(click.Group):
    """The command group: `plot` and `eval` are imported only when used (they load rich and the readers);
    no command, or an unknown one, is one line naming the commands."""

    context_class = Context

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in ("plot", "eval"):
            from eprop.cli import report

            return report.plot_command() if name == "plot" else report.eval_command()
        return super().get_command(ctx, name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args:
            raise click.UsageError(f"no command given; valid commands: {', '.join(COMMANDS)}", ctx)
        return parse_in(self, super().parse_args, ctx, args)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0]
        if not name.startswith("-") and self.get_command(ctx, name) is None:
            raise click.UsageError(f"unknown command {name!r}; valid commands: {', '.join(COMMANDS)}", ctx)
        return super().resolve_command(ctx, args)


class HydraArgv(click.Command):
    """`eprop run`'s arguments as typed: click parses nothing (not even `--`); Hydra owns them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.args = list(args)
        return ctx.args


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        print(version_line())
        ctx.exit(0)


@click.group(
    cls=Eprop,
    context_settings=dict(help_option_names=HELP_OPTIONS),
    help=f"e-prop learning in spiking networks simulated with NEST.\n\n{USAGE}",
)
@click.option(
    "--version",
    "-V",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="eprop's, NEST's and Python's versions",
)
def eprop_command() -> None:
    pass


@eprop_command.command(
    "run",
    cls=HydraArgv,
    context_settings=dict(ignore_unknown_options=True, allow_extra_args=True, help_option_names=[]),
    short_help="train a network (Hydra overrides, -m for sweeps, --help for the config)",
)
@click.pass_context
def run(ctx: click.Context) -> int:
    """Train a network; the arguments are Hydra's (eprop run --help)."""
    from eprop.cli.boundary import run_started
    from eprop.cli.run_dir import RunDirCallback, after_error

    RunDirCallback.reset()  # nothing of an earlier run in this process is this run's to clean up
    run_started(after_error)
    return run_main(ctx.args)


def run_task(cfg):
    """The function `@hydra.main` runs for each job (its module names Hydra's job: `main`)."""
    from eprop.cli.run_job import run_job

    return run_job(cfg)


def run_main(argv: list[str]) -> int:
    """`eprop run`: compose the config with Hydra and train. Errors are raised for the boundary."""
    from omegaconf import OmegaConf

    from eprop.cli.hydra_internals import hydra_main
    from eprop.cli.nest_install import require_nest
    from eprop.cli.run_args import argv_error, expand_home, resumed_cfg_job, trains
    from eprop.cli.run_dir import RunDirCallback, shown
    from eprop.cli.run_job import FailedJobsCallback
    from eprop.cli.show_config import help_groups, print_params, print_resumed_config
    from eprop.config.schema import register_configs

    argv = [expand_home(arg) for arg in argv]
    if message := argv_error(argv):
        raise UserError(message)
    register_configs()
    if not OmegaConf.has_resolver("eprop.help_groups"):
        OmegaConf.register_new_resolver("eprop.help_groups", help_groups)  # used by hydra.help.template
    if "--params" in argv:
        return print_params([arg for arg in argv if arg != "--params"])
    if (overrides := resumed_cfg_job(argv)) is not None:
        return print_resumed_config(overrides, resolve="--resolve" in argv)
    if trains(argv):
        require_nest()  # before anything is composed or a run directory made
    FailedJobsCallback.failed = []  # a failed earlier multirun in this process must not count
    try:
        hydra_main(run_task, argv, config_dir=conf_dir(), config_name="config")
    except OSError as exc:
        if RunDirCallback.error is None:
            raise
        raise RunDirCallback.error from exc  # Hydra could not make the run or sweep directory
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


def main(argv: list[str] | None = None) -> int:
    """`eprop ARGV` (default: the process's command line); returns the exit code (a bug raises)."""
    return invoke(eprop_command, sys.argv[1:] if argv is None else list(argv), "eprop")


def _console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _console_main()

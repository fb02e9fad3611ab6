"""The `eprop` command: dispatches to `run` (Hydra), `plot` and `eval` (argparse), `--version`.

`eprop run ARGS` hands ARGS to `@hydra.main`: Hydra owns that argv (overrides, `-m`,
`--cfg job`, `hydra.run.dir=...`). Before that, run_args.py expands `~` in values and refuses
the overrides Hydra would fail on with a traceback; `--params` and `resume=DIR --cfg job` are
answered by show_config.py without running. User errors, whether Hydra finds them while
composing or eprop finds them while validating, end as one line on stderr and exit code 2;
a run that ends names its directory on stdout (`eprop: results in DIR`, run_dir.py).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

from .errors import UserError

log = logging.getLogger("eprop_cli")

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

    from . import __version__

    try:
        nest = metadata.version("nest-simulator")
    except metadata.PackageNotFoundError:
        nest = "not installed"
    return f"eprop {__version__}, NEST {nest}, Python {platform.python_version()}"


def conf_dir() -> str:
    """The config directory: packaged in the wheel, or conf/ at the top of a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return str(candidate)
    raise RuntimeError(f"eprop's conf/ directory was not found next to {here}")


def one_line(err: BaseException) -> str:
    """A readable single line from a (possibly chained) Hydra or OmegaConf exception."""
    chain = []
    while err is not None and len(chain) < 5:
        chain.append(err)
        err = err.__cause__ or err.__context__
    text = " ".join(" ".join(str(e) for e in chain).split())
    if getattr(chain[0], "override", None) and type(chain[0]).__name__ == "OverrideParseException":
        lines = [line.strip() for line in str(chain[0]).splitlines()]
        skip = ("Error parsing override", "See https", "^", "LexerNoViableAltException")
        detail = next((line for line in lines if line and not line.startswith(skip)), "unexpected character")
        return (f"{chain[0].override}: cannot parse this override ({detail}); "
                "write key=value and quote values that hold brackets, commas or quotes")
    if m := re.search(r"Ambiguous value for argument '([^']*)'", text):
        return f"{m.group(1)}: ambiguous value; for a sweep add -m, for a list write key=[a,b], for a string quote it"
    if m := re.search(r"Interpolation key '([^']*)' not found\s+full_key: ([\w.]+)", text):
        return f"{m.group(2)}: the interpolation ${{{m.group(1)}}} names no key of the config"
    if m := re.search(r"(\w+) raised while resolving interpolation: (.*?)\s+full_key: ([\w.]+)", text):
        kind, detail, full_key = m.groups()
        return f"{full_key}: cannot be derived ({kind}: {detail}); check the values it is computed from (eprop run --cfg job)"
    if m := re.search(r"Could not find '([\w/]+)'\s+Available options in '([\w/]+)':\s+(.*?)\s+Config search path", text):
        wanted, group, options = m.groups()
        valid = ", ".join(o for o in options.split() if not o.startswith("_"))
        choice = f"{group}={wanted[len(group) + 1:]}" if wanted.startswith(group + "/") else group
        return f"{choice}: no such option; valid options: {valid}"
    if m := re.search(r"Key '([^']+)' not in '(\w+)'\s+full_key: ([\w.]+)", text):
        key, _, full_key = m.groups()
        parent = full_key.rsplit(".", 1)[0] if "." in full_key else ""
        if key in schema_keys(parent):
            return f"{full_key}: missing; the run needs this key (was it deleted with ~{full_key}?)"
        return f"{full_key}: unknown key; valid keys{' in ' + parent if parent else ''}: {', '.join(schema_keys(parent))}"
    if m := re.search(r"Key '([^']+)' is not in struct\s+full_key: ([\w.]+)", text):
        return f"{m.group(2)}: unknown key; add new entries with a leading '+' (e.g. +{m.group(2)}=...)"
    if m := re.search(r"Value '([^']*)' (?:of type '\w+' could not be converted to|is not a valid) (\w+)(?: \(type \w+\))?\s+full_key: ([\w.]+)", text):
        value, kind, full_key = m.groups()
        return f"{full_key}={value}: not a valid {kind.lower()}"
    first = str(chain[0]).strip().splitlines()
    return " ".join(first[0].split()) if first else type(chain[0]).__name__


def schema_keys(path: str) -> list[str]:
    """The keys the config schema allows at a dotted path ('' for the top level)."""
    from omegaconf import OmegaConf

    from .config import typed_schema

    node = typed_schema()
    selected = OmegaConf.select(node, path) if path else node
    return sorted(selected.keys()) if selected is not None and hasattr(selected, "keys") else []


def _config_errors() -> tuple[type[BaseException], ...]:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return (HydraException, OmegaConfBaseException)


def run_main(argv: list[str]) -> int:
    """`eprop run`: compose the config with Hydra and train."""
    import hydra

    from .config import register_configs
    from .run_args import argv_error, expand_home, resumed_cfg_job
    from .run_dir import RunDirCallback, discard_if_empty, results_written, shown
    from .show_config import help_groups, print_params, print_resumed_config
    from .run_job import FailedJobsCallback, StopRun, run_job
    from .errors import Interrupted

    from omegaconf import OmegaConf

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
        _entry()
    except StopRun as stop:  # a single run's user error or interrupt (run_job)
        return _run_ended(stop.error)
    except SystemExit as stop:  # Hydra's own exits (--help, --info, ...), as a return code for in-process callers
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except (UserError, Interrupted) as err:
        return _run_ended(err)
    except KeyboardInterrupt as err:
        if not err.args:  # Python's own SIGINT handler: the signal came before the training loop
            discard_if_empty()
            print("eprop: interrupted by SIGINT before the first iteration; nothing to resume", file=sys.stderr)
            return 130
        print("eprop: stopped at once by a second signal; the results file keeps every finished iteration "
              "(status interrupted, no final weights)", file=sys.stderr)
        if results_written():
            print(f"eprop: results in {shown(results_written())}")
        return 130
    except _config_errors() as err:
        return _run_ended(UserError(one_line(err)))
    except OSError:
        if RunDirCallback.error is None:
            raise
        return _run_ended(RunDirCallback.error)  # Hydra could not make the run or sweep directory
    except Exception:  # a bug: keep the traceback, and say where the run's results are
        if results_written():
            print(f"eprop: results in {shown(results_written())}")
        raise
    finally:
        sys.argv = saved_argv
    if FailedJobsCallback.failed:
        dirs = ", ".join(str(d) for d in FailedJobsCallback.failed)
        print(f"eprop: {len(FailedJobsCallback.failed)} job(s) of the multirun failed; their error.txt: {dirs}", file=sys.stderr)
        print(f"eprop: results in {shown(RunDirCallback.sweep_dir)}")
        return 1
    done = RunDirCallback.sweep_dir or RunDirCallback.run_dir
    if done is not None:
        print(f"eprop: results in {shown(done)}")
    return 0


def _run_ended(err: Exception) -> int:
    """Print a run's user error or interrupt as one line on stderr; returns the exit code.

    A single run's directory that holds no results after an error is removed (run_dir.py); a
    results file written before the error is named on a second line, on stdout.
    """
    from .run_dir import RunDirCallback, discard_if_empty, results_written, shown
    from .sweep import SUMMARY_FILE
    from .errors import Interrupted

    if isinstance(err, Interrupted):  # the message names the run directory already
        print(f"eprop: interrupted by {err}", file=sys.stderr)
        return 130
    print(f"eprop: error: {err}", file=sys.stderr)
    sweep_dir = RunDirCallback.sweep_dir
    if not discard_if_empty() and results_written():
        print(f"eprop: results in {shown(results_written())}")
    elif sweep_dir is not None and (sweep_dir / SUMMARY_FILE).is_file():
        print(f"eprop: results in {shown(sweep_dir)}")
    return getattr(err, "exit_code", 2)


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
        from . import report

        code = (report.plot_main if command == "plot" else report.eval_main)(rest)
    else:
        print(f"eprop: error: unknown command {command!r}; valid commands: run, plot, eval", file=sys.stderr)
        code = 2
    return code


def _console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _console_main()

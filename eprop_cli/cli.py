"""The `eprop` command: dispatches to `run` (Hydra), `plot` and `eval` (argparse).

`eprop run ARGS` hands ARGS to `@hydra.main` unchanged: Hydra owns that argv (overrides,
`-m`, `--cfg job`, `hydra.run.dir=...`). User errors, whether Hydra finds them while
composing or eprop finds them while validating, end as one line on stderr and exit code 2.
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


def help_groups() -> str:
    """`group: option, option` for each config group in conf/ (for `eprop run --help`; schemas left out)."""
    lines = []
    for group in sorted(p for p in Path(conf_dir()).iterdir() if p.is_dir() and p.name != "hydra"):
        options = sorted(f.stem for f in group.glob("*.yaml") if not f.stem.startswith("_"))
        lines.append(f"{group.name}: {', '.join(options)}")
    return "\n".join(lines)


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


def compose_config(overrides: list[str]):
    """The config `eprop run OVERRIDES` would run, composed with Hydra's compose API (nothing runs)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from .config import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
            return compose("config", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def resumed_config(overrides: list[str]):
    """The config with `resume=DIR` applied: the parent's, plus this command line's values."""
    from .resume import resume_config
    from .run_job import expand_paths

    cfg = compose_config(overrides)
    expand_paths(cfg)
    task_overrides = [o for o in overrides if not o.lstrip("+~").startswith("hydra")]
    return resume_config(cfg, task_overrides)[0] if cfg.resume else cfg


def params_main(argv: list[str]) -> int:
    """`eprop run --params [OVERRIDES]`: `key = value  # unit, meaning` for every parameter."""
    from .params_doc import render

    try:
        cfg = resumed_config(argv)
        text = render(cfg)
    except UserError as err:
        print(f"eprop: error: {err}", file=sys.stderr)
        return err.exit_code
    except _config_errors() as err:
        print(f"eprop: error: {one_line(err)}", file=sys.stderr)
        return 2
    print(text, end="")
    return 0


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


def expand_home(arg: str) -> str:
    """`key=~/x` -> `key=/home/me/x` (also each item of `key=~/a,~/b`): Hydra cannot parse a `~` value.

    The shell does not expand `~` after `key=` when the key has a dot, so eprop does, for any
    key (task.data_file, weights.load, resume, hydra.run.dir, ...). A leading `~` of the key
    (delete the key) is left alone.
    """
    key, sep, value = arg.partition("=")
    if not sep or "~" not in value:
        return arg
    items = [os.path.expanduser(item) if item.startswith("~") else item for item in value.split(",")]
    return f"{key}={','.join(items)}"


# Hydra options that come from the [sweep] extra: (group, option) -> (plugin module, distribution)
SWEEP_EXTRA = {
    ("hydra/launcher", "joblib"): ("hydra_plugins.hydra_joblib_launcher", "hydra-joblib-launcher"),
    ("hydra/launcher", "submitit_local"): ("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher"),
    ("hydra/launcher", "submitit_slurm"): ("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher"),
    ("hydra/launcher", "slurm"): ("hydra_plugins.hydra_submitit_launcher", "hydra-submitit-launcher"),
    ("hydra/sweeper", "optuna"): ("hydra_plugins.hydra_optuna_sweeper", "hydra-optuna-sweeper"),
}
OPTUNA = SWEEP_EXTRA[("hydra/sweeper", "optuna")]


def missing_sweep_extra(argv: list[str]) -> str | None:
    """A one-line message if an override needs a plugin of the [sweep] extra that is not installed.

    Without it Hydra says "Could not find 'hydra/launcher/joblib'" or "Could not load
    'hydra/sweeper/optuna'", which does not tell what to install. Every `hparams_search`
    preset is an optuna search.
    """
    import importlib.util

    for arg in argv:
        key, _, value = arg.lstrip("+~").partition("=")
        needed = SWEEP_EXTRA.get((key, value))
        if key == "hparams_search" and value not in ("", "null"):
            needed = OPTUNA
        if needed is None:
            continue
        try:
            found = importlib.util.find_spec(needed[0]) is not None
        except ImportError:
            found = False
        if not found:
            return (f"{key}={value}: needs {needed[1]}, which is not installed; "
                    "install eprop's sweep extra: pip install 'eprop[sweep]' (in a source checkout: pip install -e '.[sweep]')")
    return None


def _config_errors() -> tuple[type[BaseException], ...]:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return (HydraException, OmegaConfBaseException)


def run_main(argv: list[str]) -> int:
    """`eprop run`: compose the config with Hydra and train."""
    import hydra

    from .config import register_configs
    from .run_dir import RunDirCallback, discard_if_empty, results_written, shown
    from .run_job import FailedJobsCallback, StopRun, run_job
    from .train import Interrupted

    from omegaconf import OmegaConf

    register_configs()
    if not OmegaConf.has_resolver("eprop.help_groups"):
        OmegaConf.register_new_resolver("eprop.help_groups", help_groups)  # used by hydra.help.template
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let errors reach us, so we can print one line

    @hydra.main(version_base="1.3", config_path=conf_dir(), config_name="config")
    def _entry(cfg):
        return run_job(cfg)

    argv = [expand_home(arg) for arg in argv]
    if message := missing_sweep_extra(argv):
        print(f"eprop: error: {message}", file=sys.stderr)
        return 2
    for arg in argv:  # Hydra takes an empty key for a config group and fails with a traceback
        if re.match(r"[+~]*=", arg):
            print(f"eprop: error: {arg}: no key before '='; write key=value (e.g. task.n_iter=10)", file=sys.stderr)
            return 2
        key, _, value = arg.lstrip("+~").partition("=")
        group = Path(conf_dir()) / key
        items = value[1:-1].split(",") if value.startswith("[") and value.endswith("]") else [value]
        not_a_name = r"\s*([-+]?(\d[\d_]*\.?\d*([eE][-+]?\d+)?|\.\d+|inf|nan)|true|false|null)\s*"
        if "=" in arg and not key.startswith("hydra") and group.is_dir() and (
                any(re.fullmatch(not_a_name, item, re.IGNORECASE) or item.strip().startswith("_") for item in items)
                or (arg.startswith("~") and value.startswith("["))):
            # Hydra fails with a traceback on a group option that parses as a number, bool, null or list
            # of them; `_schema` is the group's schema (config.py), not an option
            options = sorted(p.stem for p in group.glob("*.yaml") if not p.stem.startswith("_"))
            print(f"eprop: error: {key}={value}: no such option; valid options: {', '.join(options)}", file=sys.stderr)
            return 2
    if "--params" in argv:
        return params_main([arg for arg in argv if arg != "--params"])
    if (overrides := _resumed_cfg_job(argv)) is not None:
        return _print_resumed_cfg(overrides, resolve="--resolve" in argv)
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


def _resumed_cfg_job(argv: list[str]) -> list[str] | None:
    """The overrides of `eprop run resume=DIR ... --cfg job [--resolve]`, else None (Hydra prints the rest).

    Hydra would print the freshly composed config; a resumed run runs the parent's config
    with this command line's values on top, so eprop prints that one.
    """
    flags = {"--resolve"}
    for i, arg in enumerate(argv):
        if arg == "--cfg=job" or (arg in ("--cfg", "-c") and argv[i + 1:i + 2] == ["job"]):
            flags |= {arg} | ({"job"} if arg in ("--cfg", "-c") else set())
            break
    else:
        return None
    overrides = [arg for i, arg in enumerate(argv) if arg not in flags]
    if any(arg.startswith("-") for arg in overrides):
        return None  # --package and friends: Hydra's business
    if not any(o.startswith("resume=") and o not in ("resume=null", "resume=") for o in overrides):
        return None
    return overrides


def _print_resumed_cfg(overrides: list[str], resolve: bool) -> int:
    from omegaconf import OmegaConf

    try:
        cfg = resumed_config(overrides)
        text = OmegaConf.to_yaml(cfg, resolve=resolve)
    except UserError as err:
        print(f"eprop: error: {err}", file=sys.stderr)
        return err.exit_code
    except _config_errors() as err:
        print(f"eprop: error: {one_line(err)}", file=sys.stderr)
        return 2
    print(text, end="")
    return 0


def _run_ended(err: Exception) -> int:
    """Print a run's user error or interrupt as one line on stderr; returns the exit code.

    A single run's directory that holds no results after an error is removed (run_dir.py); a
    results file written before the error is named on a second line, on stdout.
    """
    from .run_dir import RunDirCallback, discard_if_empty, results_written, shown
    from .sweep import SUMMARY_FILE
    from .train import Interrupted

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

"""What `eprop run` checks and rewrites in its argv before Hydra sees it.

Hydra owns `eprop run`'s argv; these are the few cases where Hydra would print a traceback or
an unhelpful message, or where eprop answers itself (`--cfg job` of a resumed run).
"""

from __future__ import annotations

import os
import re
from pathlib import Path


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

    from eprop.config.overrides import key_of

    for arg in argv:
        key, value = key_of(arg), arg.partition("=")[2]
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
            return (
                f"{key}={value}: needs {needed[1]}, which is not installed; "
                "install eprop's sweep extra: pip install 'eprop[sweep]' (in a source checkout: pip install -e '.[sweep]')"
            )
    return None


def argv_error(argv: list[str]) -> str | None:
    """The one-line message for an override Hydra would fail on with a traceback or no hint, else None."""
    from eprop.config.schema import conf_dir

    if message := missing_sweep_extra(argv):
        return message
    from eprop.config.overrides import parse

    for arg in argv:  # Hydra takes an empty key for a config group and fails with a traceback
        if re.match(r"[+~]*=", arg):
            return f"{arg}: no key before '='; write key=value (e.g. task.n_iter=10)"
        parsed = parse(arg) if "=" in arg else None
        if (
            parsed is None
            or parsed.key_or_group.startswith("hydra")
            or not (Path(conf_dir()) / parsed.key_or_group).is_dir()
        ):
            continue
        key, value = parsed.key_or_group, arg.partition("=")[2]
        given = parsed.value()
        items = list(given.list) if hasattr(given, "list") else given if isinstance(given, list) else [given]
        if any(not isinstance(item, str) or item.startswith("_") for item in items) or (
            parsed.is_delete() and isinstance(given, list)
        ):
            # Hydra fails with a traceback on a group option that parses as a number, bool, null or list
            # of them; `_schema` is the group's schema (config.py), not an option
            options = sorted(p.stem for p in (Path(conf_dir()) / key).glob("*.yaml") if not p.stem.startswith("_"))
            return f"{key}={value}: no such option; valid options: {', '.join(options)}"
    return None


def resumed_cfg_job(argv: list[str]) -> list[str] | None:
    """The overrides of `eprop run resume=DIR ... --cfg job [--resolve]`, else None (Hydra prints the rest).

    Hydra would print the freshly composed config; a resumed run runs the parent's config
    with this command line's values on top, so eprop prints that one.
    """
    flags = {"--resolve"}
    for i, arg in enumerate(argv):
        if arg == "--cfg=job" or (arg in ("--cfg", "-c") and argv[i + 1 : i + 2] == ["job"]):
            flags |= {arg} | ({"job"} if arg in ("--cfg", "-c") else set())
            break
    else:
        return None
    overrides = [arg for arg in argv if arg not in flags]
    if any(arg.startswith("-") for arg in overrides):
        return None  # --package and friends: Hydra's business
    if not any(o.startswith("resume=") and o not in ("resume=null", "resume=") for o in overrides):
        return None
    return overrides


# Hydra's options that show something (help, a config, info, completion, its version) and run no job
SHOWING = ("--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc", "--version")


def trains(argv: list[str]) -> bool:
    """True when `eprop run ARGV` runs jobs (and so needs NEST); False when Hydra only shows something."""
    return not any(arg.split("=", 1)[0] in SHOWING for arg in argv)

"""Overrides as Hydra reads them (`key=value`, `+key=value`, `~key`, sweeps `a,b` / `range(...)`),
parsed with Hydra's own OverridesParser: the one place eprop looks inside an override.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def _parser():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


def parse(text: str):
    """Hydra's `Override` for one override, or None if Hydra cannot parse it (Hydra then says why)."""
    from hydra.errors import HydraException

    try:
        return _parser().parse_overrides([text])[0]
    except HydraException:
        return None


def key_of(text: str) -> str:
    """The key or config group an override sets or deletes (`+a.b=1` -> `a.b`, `~c` -> `c`)."""
    parsed = parse(text)
    return parsed.key_or_group if parsed is not None else text.partition("=")[0].lstrip("+~")


def key_values(overrides: Iterable[str]) -> dict[str, str]:
    """["optimizer.eta=0.001", "+x=1", "~y"] -> {"optimizer.eta": "0.001", "x": "1", "y": ""}: values as typed.

    The same as evaluate.parse_overrides (an override Hydra cannot parse is split at its first '=').
    """
    return {key_of(str(item)): str(item).partition("=")[2] for item in overrides}


def values(text: str) -> list[Any]:
    """The values an override gives: one for `key=value`, each of a sweep `a,b` / `choice(a,b)` /
    `range(start,stop[,step])`; [] for a deletion, an interval or an override Hydra cannot parse."""
    from hydra.core.override_parser.types import ChoiceSweep, RangeSweep

    parsed = parse(text)
    if parsed is None or parsed.is_delete() and parsed.value() is None:
        return []
    value = parsed.value()
    if isinstance(value, ChoiceSweep):
        return list(value.list)
    if isinstance(value, RangeSweep):
        ends = (value.start, value.stop, value.step)
        return list(range(*ends)) if all(isinstance(end, int) for end in ends) else []
    return [] if parsed.is_sweep_override() else [value]


def is_delete(text: str) -> bool:
    parsed = parse(text)
    return parsed.is_delete() if parsed is not None else text.startswith("~")


# ---------------------------------------------------------------- eprop run's checks of its overrides
# (cli/run_args.py re-exports them; eprop.compose runs them too)


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


# Hydra's own options of `eprop run` that take one of a few values; Hydra's argparse would print
# its usage block (several lines) for a wrong or missing one.
HYDRA_FLAG_CHOICES = {
    ("--cfg", "-c"): ("job", "hydra", "all"),
    ("--info", "-i"): ("all", "config", "defaults", "defaults-tree", "plugins", "searchpath"),
}


def hydra_flag_error(argv: list[str]) -> str | None:
    """`--cfg jobb`, `--cfg` without a value, `--info foo`: one line naming the valid values."""
    for i, arg in enumerate(argv):
        name, eq, attached = arg.partition("=")
        for flags, choices in HYDRA_FLAG_CHOICES.items():
            if name not in flags:
                continue
            value = attached if eq else (argv[i + 1] if i + 1 < len(argv) else None)
            optional = flags[0] == "--info"  # `--info` alone means `--info all`
            if value is None or (not eq and value.startswith("-")) or (not eq and "=" in value):
                if optional:
                    break
                return f"{name}: needs a value; valid: {', '.join(choices)}"
            if value not in choices:
                return f"{name} {value}: no such choice; valid: {', '.join(choices)}"
    return None


def argv_error(argv: list[str]) -> str | None:
    """The one-line message for an override Hydra would fail on with a traceback or no hint, else None."""
    from eprop.config.store import conf_dir

    if message := missing_sweep_extra(argv):
        return message
    if message := hydra_flag_error(argv):
        return message
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
            # of them; `_schema` is the group's schema (config/store.py), not an option
            options = sorted(p.stem for p in (Path(conf_dir()) / key).glob("*.yaml") if not p.stem.startswith("_"))
            return f"{key}={value}: no such option; valid options: {', '.join(options)}"
    return None

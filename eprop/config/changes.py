"""What the Python API remembers of a composed config (api.py): the overrides it was composed from,
its values then, and its run directory; so that `eprop.run(cfg)` records in the results file the
overrides, followed by `key=value` for each value changed on the config since (provenance, and
the override columns of `eprop eval` and `Sweep.to_pandas`).
"""

from __future__ import annotations

import math
import re
import weakref
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf


@dataclass
class Composition:
    """What `compose` knows about a config beyond its values: for provenance and the run directory."""

    overrides: list[str]  # the task overrides as Hydra records them (hydra.* left out)
    values: dict[str, Any]  # the config's values when it was composed (flat, dotted keys, unresolved)
    run_dir: str  # hydra.run.dir, unresolved (${now:...} is resolved when the run starts)
    ref: weakref.ref


_COMPOSED: list[Composition] = []  # the latest compositions, newest last
_KEEP = 64


def remember(cfg: DictConfig, overrides: list[str], run_dir: str) -> Composition:
    """Note a config just composed (a weak reference: the config itself is not kept)."""
    composition = Composition(overrides, flat(cfg), run_dir, weakref.ref(cfg))
    _COMPOSED.append(composition)
    del _COMPOSED[:-_KEEP]
    return composition


def flat(cfg: DictConfig) -> dict[str, Any]:
    """The config's values under dotted keys, interpolations unresolved, closed choices as strings."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(OmegaConf.to_container(cfg, resolve=False, enum_to_str=True), "")
    return flat


def composition_of(cfg: DictConfig) -> Composition | None:
    """The composition `cfg` came from: itself, else the one it differs least from (a copy of it)."""
    for composition in reversed(_COMPOSED):
        if composition.ref() is cfg:
            return composition
    values = flat(cfg)
    best, fewest = None, math.inf
    for composition in reversed(_COMPOSED):
        changed = len(changes(composition.values, values))
        if changed < fewest:
            best, fewest = composition, changed
    return best if best is not None and fewest < len(values) // 2 else None


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Overrides that turn the values `before` into `after`: key=value, +key=value, ~key."""
    changes = [
        f"{key}={_override_value(value)}" for key, value in after.items() if key in before and before[key] != value
    ]
    changes += [f"+{key}={_override_value(value)}" for key, value in after.items() if key not in before]
    changes += [f"~{key}" for key in before if key not in after]
    return changes


def _override_value(value: Any) -> str:
    """A value as Hydra's override grammar writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_override_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_override_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if re.fullmatch(r"[\w./\-+:@]+", text) and text not in ("null", "true", "false"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def recorded_overrides(cfg: DictConfig, composition: Composition | None) -> list[str]:
    """The overrides a results file records for a config: compose's, then what was changed since."""
    if composition is None:
        return []
    return composition.overrides + changes(composition.values, flat(cfg))

"""Overrides as Hydra reads them (`key=value`, `+key=value`, `~key`, sweeps `a,b` / `range(...)`),
parsed with Hydra's own OverridesParser: the one place eprop looks inside an override.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
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

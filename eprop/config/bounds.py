"""The bounds loop of config validation: every bound in the schema's field metadata (min_int,
positive, probability, ... of config.fields.param) checked on the composed config, set values
before derived ones, with the message naming the key, the value, the valid range and the unit;
a derived value that breaks a bound is named by the set values it is computed from.
validation.py calls `check_bounds` among its cross-field checks.
"""

from __future__ import annotations

import functools
import math
import re
import typing
from typing import Any

from omegaconf import DictConfig, OmegaConf

from eprop.config.fields import BOUNDS
from eprop.config.lookup import schema_field, schema_fields
from eprop.errors import UserError

PHYSICAL = {"ms", "pF", "mV", "pA", "spikes/s"}  # units named in bound messages ("dimensionless" is not)


def unit_of(key: str) -> str:
    """The unit of a schema field, as its metadata gives it (config.fields.param)."""
    found = schema_field(key)
    return found.unit if found else ""


def is_float_field(found) -> bool:
    """A float field (float or float | None): finite unless its metadata says allow_inf."""
    return found.type is float or float in typing.get_args(found.type)


def field_bounds(found) -> dict[str, Any]:
    """The bounds of a schema field: its metadata, with `finite` added for a float field (the default)."""
    meta = found.meta
    if is_float_field(found) and not meta.get("allow_inf"):
        meta.setdefault("finite", True)
    return meta


def bound_error(key: str, value: Any, meta: dict[str, Any]) -> str | None:
    """The message if `value` breaks a bound of the field's metadata (config.fields.param), else None.

    NaN fails every float field with one message; +-inf fails unless the field says allow_inf.
    """
    unit = meta.get("unit", "")
    shown_unit = f" {unit}" if unit in PHYSICAL else ""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isnan(value):
        return f"{key}={value}: must be a {'number' if meta.get('allow_inf') else 'finite number'}"
    if "min_int" in meta and value < meta["min_int"]:
        return f"{key}={value}: must be an integer >= {meta['min_int']}"
    if meta.get("positive") and (not value > 0 or value == math.inf):
        return f"{key}={value}: must be {'a finite number > 0' if value == math.inf else '> 0'}{shown_unit}"
    if meta.get("nonnegative") and not value >= 0:  # also refuses NaN
        return f"{key}={value}: must be >= 0{shown_unit}"
    if meta.get("probability") and not 0.0 <= value <= 1.0:
        return f"{key}={value}: must be a probability in [0, 1]"
    if meta.get("below_one") and not 0.0 <= value < 1.0:
        return f"{key}={value}: must be in [0, 1)"
    if meta.get("finite") and not math.isfinite(value):
        return f"{key}={value}: must be a finite number"
    if meta.get("finite_nonzero") and (value == 0 or not math.isfinite(value)):
        return f"{key}={value}: must be a finite non-zero number"
    return None


@functools.lru_cache(maxsize=16)
def bounded_fields(target: str | None = None, tasks: tuple = ()) -> tuple[tuple[str, dict[str, Any]], ...]:
    """(key, bounds) of the schema fields with a bound, every float field included (finite by
    default), in schema order (task.*: task TARGET's)."""
    found = ((f.key, field_bounds(f)) for f in schema_fields(target=target))
    return tuple((key, meta) for key, meta in found if meta.keys() & set(BOUNDS))


_REFERENCE = re.compile(r"\$\{(\.*[A-Za-z_][\w.]*)\}")


def interpolation_sources(cfg: DictConfig, key: str) -> list[str]:
    """`key=value` of each set (not derived) key that the derived value at KEY is computed from,
    following derived keys it names; e.g. neuron.rec.gamma=0.3 and neuron.rec.V_th=-0.03 for
    neuron.rec.surrogate_gradient_height."""
    found: list[str] = []
    todo, seen = [key], set()
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.add(current)
        parent, _, name = current.rpartition(".")
        container = OmegaConf.select(cfg, parent) if parent else cfg
        if container is None or name not in container:
            continue
        if not OmegaConf.is_interpolation(container, name):
            found.append(f"{current}={container[name]}")
            continue
        for ref in _REFERENCE.findall(str(container._get_node(name)._value())):
            if ref.startswith("."):  # relative to the key's parent: .V_th, ..x
                dots = len(ref) - len(ref.lstrip("."))
                base = parent.split(".") if parent else []
                base = base[: len(base) - (dots - 1)] if dots > 1 else base
                ref = ".".join([*base, ref.lstrip(".")])
            todo.append(ref)
    return found


def check_bounds(cfg: DictConfig, derived: bool | None = None) -> None:
    """Every bound of the schema's field metadata: set values first, then derived ones (`${...}`),
    so that a bad value is named where it was written, not where it was copied to. A derived value
    that breaks a bound is named by the set values it is computed from. `derived`: only set
    (False) or only derived (True) values; None: both."""
    from eprop.tasks import TASKS

    bounded = bounded_fields(str(cfg.task.target), tuple(TASKS.items()))
    for is_derived in (False, True) if derived is None else (derived,):
        for key, meta in bounded:
            parent, _, name = key.rpartition(".")
            container = OmegaConf.select(cfg, parent) if parent else cfg
            if container is None or name not in container or OmegaConf.is_interpolation(container, name) != is_derived:
                continue
            if message := bound_error(key, container[name], meta):
                if is_derived and (sources := interpolation_sources(cfg, key)):
                    _, _, why = message.partition(": ")
                    verb = "gives" if len(sources) == 1 else "give"
                    message = f"{', '.join(sources)}: {verb} {key}={container[name]:.6g} (derived), which {why}"
                raise UserError(message)
    if derived is not True:
        _check_extra_population_bounds(cfg)


def _check_extra_population_bounds(cfg: DictConfig) -> None:
    """The bounds of neuron.rec's fields on the values of neuron.rec_extra[i].overrides."""
    for i, extra in enumerate(cfg.neuron.get("rec_extra") or []):
        overrides = extra.get("overrides") or {}
        for name in overrides:
            found = schema_field(f"neuron.rec.{name}")
            if found is None or OmegaConf.is_interpolation(overrides, name):
                continue
            if isinstance(overrides[name], bool) or not isinstance(overrides[name], (int, float)):
                continue  # not a number: the merge into neuron.rec's schema names it (schema.recurrent_populations)
            if message := bound_error(f"neuron.rec_extra[{i}].overrides.{name}", overrides[name], field_bounds(found)):
                raise UserError(message)

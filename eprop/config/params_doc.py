"""`eprop run --params`: every parameter of the composed config with its value, unit and meaning.

The unit and meaning of each field come from the schema's field metadata (config.fields.param), the
one place they are written; a derived value shows the interpolation it is computed from. The
task keys are those of the composed task (task.target); the keys that only other tasks have
follow at the end as comment lines marked by task (`# task=NAME: task.key = default  # ...`).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


def field_docs(target: str | None = None) -> dict[str, str]:
    """Dotted config key -> "unit, meaning", for every field of the schema (config.Config); task.*:
    the fields of task TARGET (None: of every task)."""
    from eprop.config.lookup import schema_fields

    return {found.key: _doc(found) for found in schema_fields(target=target)}


def _doc(found) -> str:
    return ", ".join(part for part in (found.unit, found.field.metadata.get("doc", "")) if part)


def other_task_keys(target: str) -> list[str]:
    """Comment lines `# task=A: task.key = default  # unit, meaning`, one for each key of another task's
    schema that task TARGET's schema does not have (its schema default; A: the tasks with that schema)."""
    import dataclasses

    from eprop.config.lookup import schema_fields, task_schemas

    own = {found.key for found in schema_fields(target=target)}
    by_schema: dict[type, list[str]] = {}
    for name, schema in task_schemas().items():
        by_schema.setdefault(schema, []).append(name)
    rows = []
    for schema, names in by_schema.items():
        for found in schema_fields(target=names[0]):
            if found.key not in own:
                f = found.field
                default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
                rows.append((f"# task={'|'.join(names)}: {found.key} = {shown_value(default)}", _doc(found)))
    if not rows:
        return []
    width = min(max(len(left) for left, _ in rows), 72)
    return [f"{left:<{width}}  # {note}" if note else left for left, note in rows]


def _leaves(node: Any, prefix: str = ""):
    """(dotted key, unresolved node value) for every leaf; lists and the `params` dicts are leaves."""
    for key in node.keys():
        dotted = f"{prefix}{key}"
        child = node._get_node(key)
        if isinstance(child, DictConfig) and key != "params" and not OmegaConf.is_interpolation(node, key):
            yield from _leaves(child, dotted + ".")
        else:
            yield dotted, child


def shown_value(value: Any, *, resolve: bool = True) -> str:
    """A value as one would type it in an override: null, true, [a, b], {k: v}; a closed choice
    by its name. `resolve=False` keeps a derived value's interpolation (the docs' reference)."""
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=resolve, enum_to_str=True)
    if isinstance(value, Enum):
        value = value.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(shown_value(item, resolve=resolve) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {shown_value(item, resolve=resolve)}" for key, item in value.items()) + "}"
    return str(value)


def render(cfg: DictConfig) -> str:
    """`key = value  # unit, meaning` for every leaf of `cfg` (the hydra part left out), then the
    other tasks' own keys as comment lines (other_task_keys)."""
    target = str(cfg.task.target)
    docs = field_docs(target)
    rows = []
    for key, node in _leaves(cfg):
        if key == "hydra" or key.startswith("hydra."):
            continue
        parent, _, name = key.rpartition(".")
        container = OmegaConf.select(cfg, parent) if parent else cfg
        value = shown_value(OmegaConf.select(cfg, key, throw_on_missing=False))
        note = docs.get(key, "")
        if OmegaConf.is_interpolation(container, name):
            source = container._get_node(name)._value()
            if note.endswith(", derived in YAML") or "derived in YAML" in note:
                note = note.replace(", derived in YAML", "; derived in YAML").replace(
                    "derived in YAML", f"derived: {source}"
                )
            else:
                note = f"{note}; derived: {source}" if note else f"derived: {source}"
        rows.append((f"{key} = {value}", note))
    width = min(max(len(left) for left, _ in rows), 56)
    lines = [f"{left:<{width}}  # {note}" if note else left for left, note in rows]
    return "\n".join(lines + other_task_keys(target)) + "\n"

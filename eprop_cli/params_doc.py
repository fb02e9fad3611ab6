"""`eprop run --params`: every parameter of the composed config with its value, unit and meaning.

The unit and meaning of each field come from the schema's field metadata (config.param), the
one place they are written; a derived value shows the interpolation it is computed from.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


def field_docs() -> dict[str, str]:
    """Dotted config key -> "unit, meaning", for every field of the schema (config.Config)."""
    from .config import schema_fields

    docs = {}
    for found in schema_fields():
        doc = found.field.metadata.get("doc", "")
        docs[found.key] = ", ".join(part for part in (found.unit, doc) if part)
    return docs


def _leaves(node: Any, prefix: str = ""):
    """(dotted key, unresolved node value) for every leaf; lists and the `params` dicts are leaves."""
    for key in node.keys():
        dotted = f"{prefix}{key}"
        child = node._get_node(key)
        if isinstance(child, DictConfig) and key != "params" and not OmegaConf.is_interpolation(node, key):
            yield from _leaves(child, dotted + ".")
        else:
            yield dotted, child


def _shown(value: Any) -> str:
    """A value as one would type it in an override: null, true, [a, b], {k: v}."""
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=True)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_shown(item)}" for key, item in value.items()) + "}"
    return str(value)


def render(cfg: DictConfig) -> str:
    """`key = value  # unit, meaning` for every leaf of `cfg` (the hydra part left out)."""
    docs = field_docs()
    rows = []
    for key, node in _leaves(cfg):
        if key == "hydra" or key.startswith("hydra."):
            continue
        parent, _, name = key.rpartition(".")
        container = OmegaConf.select(cfg, parent) if parent else cfg
        value = _shown(OmegaConf.select(cfg, key, throw_on_missing=False))
        note = docs.get(key, "")
        if OmegaConf.is_interpolation(container, name):
            source = container._get_node(name)._value()
            if note.endswith(", derived in YAML") or "derived in YAML" in note:
                note = note.replace(", derived in YAML", "; derived in YAML").replace("derived in YAML", f"derived: {source}")
            else:
                note = f"{note}; derived: {source}" if note else f"derived: {source}"
        rows.append((f"{key} = {value}", note))
    width = min(max(len(left) for left, _ in rows), 56)
    return "\n".join(f"{left:<{width}}  # {note}" if note else left for left, note in rows) + "\n"

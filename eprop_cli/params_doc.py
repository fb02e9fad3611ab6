"""`eprop params`: every parameter of the composed config with its value, unit and meaning.

The unit and meaning of each field are the comments beside the schema dataclasses in
eprop_cli/config.py (`tau_m: float = 50.0  # ms, membrane time constant`); this module reads
them from that source file with `ast` and `tokenize`, so there is one place to write them.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import tokenize
import typing
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


def _comments(source: str) -> dict[int, str]:
    """Line number -> the text of the `#` comment that ends that line."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string.lstrip("#").strip()
    return found


def _class_field_comments(module) -> dict[str, dict[str, str]]:
    """Class name -> field name -> the comment on the field's line, for every class of `module`."""
    source = inspect.getsource(module)
    comments = _comments(source)
    classes = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {
                item.target.id: comments.get(item.end_lineno, comments.get(item.lineno, ""))
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
    return classes


def field_docs() -> dict[str, str]:
    """Dotted config key -> unit and meaning, for every field of the schema (config.Config)."""
    from . import config

    per_class = _class_field_comments(config)
    docs: dict[str, str] = {}

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            key = prefix + field.name
            docs[key] = per_class.get(cls.__name__, {}).get(field.name, "")
            kind = hints.get(field.name)
            if dataclasses.is_dataclass(kind):
                walk(kind, key + ".")

    walk(config.Config, "")
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
            if "derived in YAML" in note:
                note = note.replace("derived in YAML", f"derived: {source}")
            else:
                note = f"{note}; derived: {source}" if note else f"derived: {source}"
        rows.append((f"{key} = {value}", note))
    width = min(max(len(left) for left, _ in rows), 56)
    return "\n".join(f"{left:<{width}}  # {note}" if note else left for left, note in rows) + "\n"

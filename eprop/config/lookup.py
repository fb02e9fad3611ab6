"""Lookups in the config schema: each task's typed schema (task_schemas, task_schema,
target_of_schema), the whole typed schema (typed_schema), its leaves with their metadata
(schema_fields, schema_field), and a config's copy with plain strings for its choices
(with_plain_choices).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf

from eprop.config.choices import Target
from eprop.config.fields import TaskConfig, param
from eprop.config.schema import GROUP_SCHEMAS, Config
from eprop.tasks import TASKS

# ---------------------------------------------------------------------------- task schemas


@functools.lru_cache(maxsize=4)
def _task_schemas(tasks: tuple[tuple[str, type], ...]) -> dict[str, type]:
    names = [name for name, _ in tasks]
    targets = (
        Target if names == [t.value for t in Target] else StrEnum("Target", {n: n for n in names}, module=__name__)
    )
    target_doc = next(f for f in dataclasses.fields(TaskConfig) if f.name == "target").metadata["doc"]
    made: dict[type, type] = {}
    for _, task in tasks:
        schema = task.config_schema
        if schema not in made:  # one class per schema, even if several tasks share it
            typed = dataclasses.make_dataclass(
                schema.__name__, [("target", targets, param(MISSING, target_doc))], bases=(schema,)
            )
            typed.__module__, typed.__qualname__, typed.__doc__ = schema.__module__, schema.__qualname__, schema.__doc__
            made[schema] = typed
    return {name: made[task.config_schema] for name, task in tasks}


def task_schemas() -> dict[str, type]:
    """target -> the schema of that task's keys: its Task's `config_schema`, with `target` the closed
    choice of every task name (so that `task.target=typo` fails at composition, listing them).

    Built from the task registry when asked, so that a task added to TASKS (e.g. by a test) is seen.
    """
    return _task_schemas(tuple(TASKS.items()))


def task_schema(target: Any = None) -> type:
    """The schema of task.* for TARGET; the keys of every task (config.fields.TaskConfig) for None or an unknown target."""
    return task_schemas().get(str(target), TaskConfig) if target is not None else TaskConfig


def target_of_schema(class_name: str) -> str | None:
    """The (first) task target whose schema class is named CLASS_NAME (as OmegaConf's messages name it), else None."""
    return next((target for target, schema in task_schemas().items() if schema.__name__ == class_name), None)


# ---------------------------------------------------------------------------- schema lookups


def typed_schema(target: Any = None) -> DictConfig:
    """The whole config schema, with each group's dataclass filled in (values MISSING where required);
    task.* is the schema of task TARGET (task_schema(target))."""
    schema = OmegaConf.structured(Config)
    for group, group_schema in GROUP_SCHEMAS.items():
        schema[group] = OmegaConf.structured(task_schema(target) if group == "task" else group_schema)
    return schema


@dataclass(frozen=True)
class SchemaField:
    """One leaf of the schema: its dotted key, the dataclass field, and its metadata."""

    key: str
    field: dataclasses.Field
    type: Any

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.field.metadata)

    @property
    def unit(self) -> str:
        return self.field.metadata.get("unit", "")

    @property
    def choices(self) -> type[Enum] | None:
        """The Enum of a closed choice (also of a list of choices or an optional choice), else None."""
        kinds = [self.type, *typing.get_args(self.type)]
        return next((k for k in kinds if isinstance(k, type) and issubclass(k, Enum)), None)


def schema_fields(cls: type = None, prefix: str = "", target: Any = None):
    """Every field of the schema (config.Config and the group schemas), nested ones included.

    task.*: the fields of task TARGET's schema; with target=None, those of every task (each key
    once, the first task in TASKS that has it giving its metadata).
    """
    if cls is None:
        cls = Config
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if cls is Config and f.name == "task":
            schemas = [task_schema(target)] if target is not None else list(dict.fromkeys(task_schemas().values()))
            seen = set()
            for schema in schemas:
                for found in schema_fields(schema, "task."):
                    if found.key not in seen:
                        seen.add(found.key)
                        yield found
            continue
        kind = GROUP_SCHEMAS.get(f.name, hints[f.name]) if cls is Config else hints[f.name]
        yield SchemaField(prefix + f.name, f, kind)
        if dataclasses.is_dataclass(kind):
            yield from schema_fields(kind, f"{prefix}{f.name}.")


@functools.lru_cache(maxsize=16)
def _fields_by_key(target: str | None, tasks: tuple) -> dict[str, SchemaField]:
    return {f.key: f for f in schema_fields(target=target)}


def schema_field(key: str, target: Any = None) -> SchemaField | None:
    """The schema field at a dotted key (e.g. neuron.rec.V_th), or None; a task.* key in task
    TARGET's schema (target=None: in the first task's schema that has it)."""
    return _fields_by_key(None if target is None else str(target), tuple(TASKS.items())).get(key)


def with_plain_choices(cfg: DictConfig) -> DictConfig:
    """The config with each closed choice (Enum) as its plain string, interpolations kept.

    NEST (and h5py) take `str`, not an Enum; the run gets this copy after the schema has checked
    the choices at composition. Struct mode stays on, so a misspelt key still fails.
    """
    plain = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False, enum_to_str=True))
    OmegaConf.set_struct(plain, True)
    return plain

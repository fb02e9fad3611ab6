"""Hydra's and OmegaConf's config errors as one line that names the key and says what is valid.

It reads the schema (config/schema.py, config/lookup.py) for the valid keys of a group and the valid values of a closed
choice (an Enum field), so that the messages follow the schema. Under `task`, the keys are those
of the task being composed: OmegaConf's message names its schema class (`object_type=...`).
"""

from __future__ import annotations

import re


def config_error_types() -> tuple[type[BaseException], ...]:
    """The exception types of a config that fails to compose or to resolve."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return (HydraException, OmegaConfBaseException)


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
        return (
            f"{chain[0].override}: cannot parse this override ({detail}); "
            "write key=value and quote values that hold brackets, commas or quotes"
        )
    if m := re.search(r"Ambiguous value for argument '([^']*)'", text):
        return f"{m.group(1)}: ambiguous value; for a sweep add -m, for a list write key=[a,b], for a string quote it"
    if m := re.search(r"Interpolation key '([^']*)' not found\s+full_key: ([\w.]+)", text):
        return f"{m.group(2)}: the interpolation ${{{m.group(1)}}} names no key of the config"
    if m := re.search(r"(\w+) raised while resolving interpolation: (.*?)\s+full_key: ([\w.]+)", text):
        kind, detail, full_key = m.groups()
        return f"{full_key}: cannot be derived ({kind}: {detail}); check the values it is computed from (eprop run --cfg job)"
    if m := re.search(
        r"Could not find '([\w/]+)'\s+Available options in '([\w/]+)':\s+(.*?)\s+Config search path", text
    ):
        wanted, group, options = m.groups()
        valid = ", ".join(o for o in options.split() if not o.startswith("_"))
        choice = f"{group}={wanted[len(group) + 1 :]}" if wanted.startswith(group + "/") else group
        return f"{choice}: no such option; valid options: {valid}"
    if (m := re.search(r"Missing mandatory value: (\w+)\s+full_key: (\w+)\s", text + " ")) and (
        options := group_options(m.group(2))
    ):
        group = m.group(2)
        choices = [f"{group}={option}" for option in options]
        listed = f"{', '.join(choices[:-1])} or {choices[-1]}" if len(choices) > 1 else choices[0]
        return f"{group}: no option chosen (~{group} removed it); choose one: {listed}"
    if m := re.search(r"Key '([^']+)' not in '(\w+)'\s+full_key: ([\w.]+)", text):
        key, object_type, full_key = m.groups()
        parent = full_key.rsplit(".", 1)[0] if "." in full_key else ""
        target = _task_target(parent, object_type)
        valid = schema_keys(parent, target)
        if key in valid:
            return deleted_key(full_key)
        return f"{full_key}: unknown key; valid keys{' in ' + parent if parent else ''}: {', '.join(valid)}{_other_task_note(parent, key)}"
    if m := re.search(r"Key '([^']+)' is not in struct\s+full_key: ([\w.]+)", text):
        key, full_key = m.groups()
        parent = full_key.rsplit(".", 1)[0] if "." in full_key else ""
        if key in schema_keys(parent) or parent == "task" and _tasks_with_key(key):
            return deleted_key(full_key)  # the run's plain copy of the config (config.with_plain_choices)
        return f"{full_key}: unknown key; add new entries with a leading '+' (e.g. +{full_key}=...)"
    if m := re.search(r"Invalid value '([^']*)', expected one of \[([^\]]*)\]\s+full_key: ([\w.]+)", text):
        value, valid, full_key = m.groups()  # an Enum field (a closed choice); list items name the list
        object_type = re.search(r"object_type=(\w+)", text[m.end() : m.end() + 200])
        return choice_error(
            full_key, value, _task_target(full_key.rsplit(".", 1)[0], object_type and object_type.group(1))
        )
    if m := re.search(
        r"Value '([^']*)' (?:of type '\w+' could not be converted to|is not a valid) (\w+)(?: \(type \w+\))?\s+full_key: ([\w.]+)",
        text,
    ):
        value, kind, full_key = m.groups()
        if kind == "Integer" and (whole := _whole_float(value)) is not None:  # Hydra reads 1e3 as the float 1000.0
            return (
                f"{full_key}: must be an integer; write {full_key}={whole} "
                "(a value with an exponent or a decimal point, such as 1e3, is a float)"
            )
        return f"{full_key}={value}: not a valid {kind.lower()}"
    first = str(chain[0]).strip().splitlines()
    return " ".join(first[0].split()) if first else type(chain[0]).__name__


def group_options(group: str) -> list[str]:
    """The options of config group GROUP (its conf/GROUP/*.yaml, private ones left out); [] for no group."""
    from pathlib import Path

    from eprop.config.store import conf_dir

    folder = Path(conf_dir()) / group
    if group == "hydra" or not folder.is_dir():
        return []
    return sorted(f.stem for f in folder.glob("*.yaml") if not f.stem.startswith("_"))


def _whole_float(text: str) -> int | None:
    """The integer of a float spelled like "1000.0" (what Hydra makes of 1e3), else None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def deleted_key(full_key: str) -> str:
    return f"{full_key}: missing; the run needs this key (was it deleted with ~{full_key}?)"


def choice_error(key: str, value: object, target: str | None = None) -> str:
    """`key=value: must be one of a, b, c` for a closed choice of the schema (with the field's note);
    a task.* key in task TARGET's schema."""
    from eprop.config.lookup import schema_field

    found = schema_field(key, target)
    valid = [member.value for member in found.choices] if found and found.choices else []
    note = f" ({found.meta['choices_note']})" if found and "choices_note" in found.meta else ""
    return f"{key}={value}: must be one of {', '.join(valid)}{note}"


def _task_target(parent: str, object_type: str | None) -> str | None:
    """The task whose schema class OmegaConf's message names, for a key directly under task; else None."""
    from eprop.config.lookup import target_of_schema

    return target_of_schema(object_type) if parent == "task" and object_type else None


def _tasks_with_key(key: str) -> list[str]:
    """The tasks whose schema has task.KEY (in TASKS order)."""
    from eprop.config.lookup import task_schemas

    return [target for target in task_schemas() if key in schema_keys("task", target)]


def _other_task_note(parent: str, key: str) -> str:
    """`; KEY is a key of the X task` for a task key that another task has, else ''."""
    others = _tasks_with_key(key) if parent == "task" else []
    if not others:
        return ""
    return f"; {key} is a key of the {', '.join(others)} task{'s' if len(others) > 1 else ''}"


def schema_keys(path: str, target: str | None = None) -> list[str]:
    """The keys the config schema allows at a dotted path ('' for the top level); under task,
    those of task TARGET (None: the keys every task has)."""
    from omegaconf import OmegaConf

    from eprop.config.lookup import typed_schema

    node = typed_schema(target)
    selected = OmegaConf.select(node, path) if path else node
    return sorted(selected.keys()) if selected is not None and hasattr(selected, "keys") else []

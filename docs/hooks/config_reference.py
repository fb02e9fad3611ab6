"""MkDocs hook: the configuration reference page, generated from the config schema.

The page `configuration/reference.md` is not a file in docs/: `on_files` adds it to the build,
written from the same source as `eprop run --params`: the schema's field metadata
(`eprop.config.fields.param`: meaning, unit, bounds; `eprop.config.schema.schema_fields`) and
the config that `eprop run` composes without overrides (`eprop.cli.show_config.compose_config`).
One table per config group, one section per task schema.

Run it alone to print the page: `python docs/hooks/config_reference.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

PAGE = "configuration/reference.md"
REPO = Path(__file__).resolve().parents[2]

# The groups in the order of the page: (heading, key prefix, what it is).
GROUPS = (
    ("Top-level keys", "", "keys at the top of the config"),
    ("neuron", "neuron.", "the recurrent (`neuron.rec`, `neuron.rec_extra`) and readout (`neuron.readout`) neurons"),
    ("optimizer", "optimizer.", "the e-prop synapses' optimizer"),
    ("recording", "recording.", "what the recorders record, the recording schedule, the divergence bound"),
    ("kernel", "kernel.", "NEST's kernel"),
    ("synapse", "synapse.", "the e-prop synapse model"),
    ("model", "model.", "the model family"),
    ("weights", "weights.", "the initial weights of the four projections"),
    ("output", "output.", "the results file"),
    ("phases", "phases.", "the phases of a classification run"),
)


def _import_eprop() -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def _shown(value: Any) -> str:
    """A value as one types it in an override, its interpolation kept (eprop run --params resolves it)."""
    from eprop.config.params_doc import shown_value

    return shown_value(value, resolve=False)


def default_of(cfg, key: str) -> str:
    """KEY's value in the composed config CFG; a derived value as its interpolation; ??? if required."""
    from omegaconf import OmegaConf

    parent, _, name = key.rpartition(".")
    container = OmegaConf.select(cfg, parent) if parent else cfg
    if container is None or name not in container:
        return "—"
    if OmegaConf.is_interpolation(container, name):
        return str(container._get_node(name)._value())
    if OmegaConf.is_missing(container, name):
        return "??? (required)"
    return _shown(container._get_node(name)._value())


def bounds_of(found) -> str:
    """The bounds that eprop.config.bounds checks (`field_bounds`: a float field is finite unless
    it allows inf), and the closed choice of an Enum field."""
    from eprop.config.bounds import field_bounds

    meta = field_bounds(found)
    parts = []
    if "min_int" in meta:
        parts.append(f"integer ≥ {meta['min_int']}")
    if meta.get("positive"):
        parts.append("> 0")
    if meta.get("nonnegative"):
        parts.append("≥ 0")
    if meta.get("probability"):
        parts.append("in [0, 1]")
    if meta.get("below_one"):
        parts.append("in [0, 1)")
    if meta.get("finite_nonzero"):
        parts.append("≠ 0")
    if meta.get("finite") or meta.get("positive") or meta.get("finite_nonzero"):
        parts.append("finite")
    if meta.get("allow_inf"):
        parts.append("inf allowed, not NaN")
    choices = found.choices
    if choices is not None:
        note = meta.get("choices_note")
        parts.append("one of " + ", ".join(f"`{c.value}`" for c in choices) + (f" ({note})" if note else ""))
    return ", ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _text(text: str) -> str:
    """Prose for a table cell: <digit> stays text, not an HTML tag."""
    return _cell(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _code(text: str) -> str:
    return f"`{text}`" if text and text != "—" else text


def _leaves(target: Any = None):
    """The schema's leaf fields (a nested dataclass is no row; its fields are)."""
    import dataclasses

    from eprop.config.lookup import schema_fields

    return [f for f in schema_fields(target=target) if not dataclasses.is_dataclass(f.type)]


def group_table(rows, cfg) -> list[str]:
    lines = ["| key | default | unit | bounds | meaning |", "|---|---|---|---|---|"]
    for found in rows:
        doc = found.meta.get("doc", "")
        lines.append(
            f"| `{found.key}` | {_cell(_code(default_of(cfg, found.key)))} | {_cell(found.unit)} "
            f"| {_cell(bounds_of(found))} | {_text(doc)} |"
        )
    return lines


def _per_task(found, cfgs) -> str:
    """KEY's default in each task's config: one value, or each value with its tasks."""
    values: dict[str, list[str]] = {}
    for name, cfg in cfgs.items():
        values.setdefault(default_of(cfg, found.key), []).append(name)
    if len(values) == 1:
        return _cell(_code(next(iter(values))))
    if all(value == who[0] and len(who) == 1 for value, who in values.items()):
        return "the task's name"
    return "<br>".join(f"{_cell(_code(value))} ({', '.join(who)})" for value, who in values.items())


def _task_table(rows, cfgs) -> list[str]:
    lines = ["| key | default | unit | bounds | meaning |", "|---|---|---|---|---|"]
    for found in rows:
        lines.append(
            f"| `{found.key}` | {_per_task(found, cfgs)} | {_cell(found.unit)} | {_cell(bounds_of(found))} "
            f"| {_text(found.meta.get('doc', ''))} |"
        )
    return lines


def task_sections(compose) -> list[str]:
    """The keys every task has (TaskConfig), then one section per task schema with its own keys."""
    import dataclasses

    from eprop.config.fields import TaskConfig
    from eprop.config.lookup import task_schemas

    by_schema: dict[type, list[str]] = {}
    for name, schema in task_schemas().items():
        by_schema.setdefault(schema, []).append(name)
    cfgs = {name: compose([f"task={name}"]) for name in task_schemas()}
    common = {f"task.{f.name}" for f in dataclasses.fields(TaskConfig)}
    first = next(iter(cfgs))
    base = {f.key: f for f in _leaves(target=first) if f.key in common}  # in TaskConfig's order
    lines = ["", "### Keys of every task", "", "`TaskConfig` in `eprop/config/fields.py`.", ""]
    lines += _task_table(list(base.values()), cfgs)
    for schema, names in by_schema.items():
        own = [
            f
            for f in _leaves(target=names[0])
            if f.key.startswith("task.")
            and (f.key not in base or (f.meta, f.type) != (base[f.key].meta, base[f.key].type))
        ]
        tasks = ", ".join(f"`task={name}`" for name in names)
        module = schema.__module__.replace(".", "/") + ".py"
        lines += ["", f"### {schema.__name__}", "", f"The own keys of {tasks} (`{module}`).", ""]
        lines += _task_table(own, {name: cfgs[name] for name in names})
    return lines


def render() -> str:
    """The Markdown of the configuration reference page."""
    _import_eprop()
    from eprop.cli.show_config import compose_config

    cfg = compose_config([])
    leaves = [f for f in _leaves(target=str(cfg.task.target)) if not f.key.startswith("task.")]
    lines = [
        "# Parameter reference",
        "",
        "<!-- generated by docs/hooks/config_reference.py from the config schema; do not edit -->",
        "",
        "Every key of the config, generated when the site is built from the schema's field metadata:",
        "the same source as `eprop run --params`, the bound checks and their error messages",
        "(`param(...)` in `eprop/config/schema.py`, `eprop/config/fields.py` and each task's module).",
        "",
        "- **default**: the value of the config that `eprop run` composes without overrides",
        "  (`eprop run --params`); a derived value shows its interpolation. Group options and presets",
        "  change some of them: `eprop run --params neuron=lif` lists the values of a choice.",
        "- **unit**: empty for names, flags and counts.",
        "- **bounds**: what `eprop run` checks before anything runs; a value outside them is one line",
        "  with exit code 2. `null` passes every bound. Checks across fields (for example",
        "  `neuron.rec.V_th` > `neuron.rec.E_L`) and each task's own checks come on top.",
        "",
        "See [Configuration](index.md) for the groups, their options and the presets.",
    ]
    for heading, prefix, what in GROUPS:
        rows = [f for f in leaves if (f.key.count(".") == 0 if not prefix else f.key.startswith(prefix))]
        lines += ["", f"## {heading}", "", f"{what[0].upper()}{what[1:]}.", ""]
        lines += group_table(rows, cfg)
    lines += [
        "",
        "## task",
        "",
        "One schema per task, declared in the task's module in `eprop/tasks/` and extending `TaskConfig`",
        "(`eprop/config/fields.py`), the keys every task has. The defaults are those of `task=NAME`'s",
        "YAML file (`eprop run --params task=NAME`); where tasks differ, each task's is listed.",
    ]
    lines += task_sections(compose_config)
    return "\n".join(lines) + "\n"


def on_files(files, config):
    """Add the generated page to the build (MkDocs hook)."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=render()))
    return files


if __name__ == "__main__":
    print(render(), end="")

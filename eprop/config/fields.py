"""The pieces of the config schema that a task module declares its own config with, without
importing config/schema.py (whose choices import the task registry): `param()` (a field with its unit,
meaning and bounds), `BOUNDS`, and `TaskConfig`, the fields every task has.

A task's config is a dataclass extending TaskConfig in the task's own module, named by its Task
class (`config_schema`); config/store.py registers it in Hydra's ConfigStore as
`task/_schema_<target>`, and the task's YAML file names it in its defaults list. Adding a task
is that module (and its line in tasks.TASKS) and one YAML file in conf/task/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

BOUNDS = (
    "min_int",
    "positive",
    "nonnegative",
    "probability",
    "below_one",
    "finite",
    "finite_nonzero",
    "allow_inf",
)


def param(default: Any = MISSING, doc: str = "", *, unit: str = "", factory: Any = None, **meta: Any) -> Any:
    """A schema field with its meaning (`doc`), `unit` and bounds (see BOUNDS) in its metadata.

    Bounds: min_int=N (an integer >= N), positive (> 0 and finite), nonnegative (>= 0),
    probability ([0, 1]), below_one ([0, 1)), finite, finite_nonzero. A float field must be finite
    (not NaN, not +-inf) whatever its other bounds, unless it says allow_inf=True (then +-inf pass,
    NaN still fails). `choices_note` is added to the "must be one of" message of an Enum field.
    None (null) passes every bound.
    """
    unknown = set(meta) - set(BOUNDS) - {"choices_note"}
    if unknown:
        raise TypeError(f"param(): unknown metadata {sorted(unknown)}")
    metadata = {"doc": doc, "unit": unit, **meta}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TaskConfig:
    """The keys of every task: what it is, how long it trains, and the seeds' timing block in steps.

    `target` is a plain string here; config/lookup.py gives each registered task schema its closed choice
    of every task name (config.choices.Target), which only the config package knows.
    """

    name: str = param(MISSING, "task name, also the first level of the output directory")
    target: str = param(MISSING, "target generator")
    n_iter: int = param(5, "training iterations", min_int=1)
    batch_size: int = param(1, "sequences per weight update", min_int=1)
    n_in: int = param(100, "input (Poisson frozen-noise) channels", min_int=1)
    sequence_steps: int | None = param(
        None, "duration of one sequence; null: data length × steps_per_data_point", unit="time steps", min_int=2
    )
    offset_gen: int = param(1, "generator signals start at step 1", unit="time steps", min_int=1)
    delay_in_rec: int = param(1, "input -> recurrent connection delay", unit="time steps", min_int=1)
    delay_rec_out: int = param(
        1, "recurrent -> readout delay in the timing (0 for model=eprop)", unit="time steps", min_int=0
    )
    delay_out_norm: int = param(
        1, "readout normalization delay in the timing (0 for model=eprop)", unit="time steps", min_int=0
    )
    extension_sim: int = param(1, "closes the right-open interval of the last Simulate", unit="time steps", min_int=1)

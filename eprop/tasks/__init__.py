"""Tasks: what each kind of experiment draws, feeds the network, and scores.

`task_for(cfg)` gives the Task (tasks/base.py) of a config, chosen by `task.target` in
`TASKS`. Adding a task is one module here (a Task subclass with its config dataclass, which
extends config.fields.TaskConfig and which the Task names as `config_schema`), its entry in TASKS,
and one YAML file in conf/task/ whose defaults list names `_schema_<target>`; nothing else
branches on the task's name, and config/store.py registers the schema from TASKS.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from eprop.errors import UserError
from eprop.tasks.base import IterationSignals, Outcome, Task
from eprop.tasks.evidence_accumulation import EvidenceAccumulation
from eprop.tasks.nmnist import Nmnist
from eprop.tasks.trajectory import Custom, Handwriting, InfiniteLoop, SineWaves

TASKS: dict[str, type[Task]] = {
    "handwriting": Handwriting,
    "infinite_loop": InfiniteLoop,
    "sine_waves": SineWaves,
    "custom": Custom,
    "evidence_accumulation": EvidenceAccumulation,
    "nmnist": Nmnist,
}

_last: tuple[object, dict, Task] | None = None  # (config, its task values, Task) of the last call


def task_for(cfg) -> Task:
    """The Task of a composed config (one line naming task.target if there is none).

    Asked again for the same config object with the same task values (validate, then the
    training), it returns the same Task, so that its data file is parsed once.
    """
    global _last
    values = OmegaConf.to_container(cfg.task, resolve=True)
    if _last is not None and _last[0] is cfg and _last[1] == values:
        return _last[2]
    target = cfg.task.target
    if target not in TASKS:
        raise UserError(f"task.target={target}: must be one of {', '.join(TASKS)}")
    task = TASKS[target](cfg)
    _last = (cfg, values, task)
    return task


__all__ = ["TASKS", "IterationSignals", "Outcome", "Task", "task_for"]

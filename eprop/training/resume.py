"""Continuing a previous run: `eprop run resume=RUN_DIR [task.n_iter=M] [key=value ...]`.

The resumed run takes the parent's resolved config, applies this command line's value
overrides on top, and starts from the parent's state:

- the weights (`/weights/final`, through the ordinary `weights.load` mechanism);
- the Adam moments m and v of every e-prop synapse (`/optimizer`), the part of the optimizer
  state that NEST lets a script read and set;
- the iteration counter: `task.n_iter` is the total, so the new run does the iterations
  from the parent's `n_iter_done` up to `task.n_iter`;
- the same input spikes and targets, because the RandomState draws are repeated in order;
- the phase schedule (`phases.*`, eprop/config/phases.py): the phases and errors of every earlier
  run of the chain (followed through `parent_run`), so that a run interrupted in its validation
  or early-stopping phase continues it; `task.n_iter` stays the number of training iterations.

NEST does not expose Adam's bias-correction powers (beta_1^t, beta_2^t) nor its step count,
so a resumed Adam run restarts the bias correction; gradient descent has no such state.
docs/reliability.md gives the measured difference to an uninterrupted run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from eprop.config.lookup import typed_schema
from eprop.config.overrides import key_of, parse
from eprop.config.phases import PhaseSchedule
from eprop.config.schema import GROUP_SCHEMAS
from eprop.errors import UserError
from eprop.results import MAX_PARENTS, RESULTS_FILE, open_results, results_file_in


@dataclass(frozen=True)
class Parent:
    """What a resumed run takes over from its parent run."""

    run_dir: Path
    n_iter_done: int
    optimizer_state: dict[str, dict[str, np.ndarray]]  # projection -> source, target, m, v
    results_file: Path  # the parent's results file (results.h5, or the name its output.file gave)
    phases: np.ndarray | None = None  # phase of every iteration of the chain; None: all training
    errors: np.ndarray | None = None  # their errors, 1 - accuracy (NaN without /accuracy)


def load_parent(path: str | Path) -> Parent:
    """The parent run at `path` (its run directory, or its results file whatever its name)."""
    given = Path(path).expanduser()
    run_dir = given.parent if given.is_file() else given
    if not run_dir.is_dir():
        raise UserError(f"resume={path}: no such run directory (expected a directory holding {RESULTS_FILE})")
    results_file = given if given.is_file() else results_file_in(run_dir)
    if results_file is None:
        raise UserError(
            f"resume={path}: the directory holds no {RESULTS_FILE} (a run that stopped before training "
            f"wrote none); give the directory of a run that did"
        )
    with open_results(results_file) as res:
        if "final" not in res.weight_stages:
            raise UserError(
                f"resume={path}: the run saved no final weights (status {res.status}); it cannot be resumed"
            )
        # a resumed parent's file holds only its own iterations; count its parents' too
        done = res.first_iteration + res.n_iter_done
        return Parent(run_dir.resolve(), done, res.optimizer_state(), results_file.resolve())


def chain_history(results_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """(phases, errors) of every iteration of a run and of the runs it was resumed from, oldest first.

    Errors are 1 - /accuracy (NaN for a file without it). A missing or unreadable earlier run
    is a UserError: the phase schedule cannot be continued without its iterations.
    """
    phases, errors = [], []
    path, seen, taken = results_file, set(), None  # taken: iterations of the file that its child continued from
    for _ in range(MAX_PARENTS + 1):
        with open_results(path) as res:
            accuracy = res.accuracy
            n = res.n_iter_done if taken is None else taken
            if n > res.n_iter_done:
                raise UserError(
                    f"resume: {path} holds {res.n_iter_done} iterations, not the {n} a later run of the chain "
                    "continued from; the phase schedule cannot be continued"
                )
            phases.insert(0, res.phases()[:n])
            errors.insert(0, 1.0 - accuracy[:n] if accuracy is not None else np.full(n, np.nan))
            parent, start = res.parent_run, res.first_iteration
        seen.add(Path(path).resolve())
        if start == 0:
            return np.concatenate(phases).astype(int), np.concatenate(errors)
        found = None
        if parent:
            found = Path(parent) if Path(parent).is_file() else results_file_in(Path(parent))
        if found is None or found.resolve() in seen:
            raise UserError(
                f"resume: {path} continued {parent or 'a run it does not name'}, whose results file is missing "
                "(or repeats in the chain); the phase schedule needs the phases of every earlier iteration"
            )
        path = found
        with open_results(path) as res:
            taken = start - res.first_iteration
    raise UserError(f"resume: more than {MAX_PARENTS} resumed runs in the chain of {results_file}")


SIZE_KEYS = ("neuron.rec.n", "task.n_in")  # with neuron.rec_extra[i].n: the keys that size the network's weights


def _check_same_size(merged: DictConfig, parent_cfg: DictConfig, resume: str) -> None:
    """A resumed run starts from the parent's weights: refuse an override that resizes the network,
    naming the key and the parent's value (not weights.load, which the user did not set)."""
    keys = list(SIZE_KEYS)
    extras = max(len(merged.neuron.get("rec_extra") or []), len(parent_cfg.neuron.get("rec_extra") or []))
    keys += [f"neuron.rec_extra[{i}].n" for i in range(extras)]
    for key in keys:
        ours, theirs = OmegaConf.select(merged, key), OmegaConf.select(parent_cfg, key)
        if theirs is not None and ours != theirs:  # None: a parent file without the key (an older eprop)
            raise UserError(
                f"{key}={ours}: the parent run (resume={resume}) has {key}={theirs}; a resumed run continues "
                "from the parent's weights, so the network keeps its size"
            )


def resume_config(cfg: DictConfig, overrides: list[str]) -> tuple[DictConfig, Parent]:
    """The config of a resumed run: the parent's, plus this command line's value overrides."""
    parent = load_parent(cfg.resume)
    with open_results(parent.results_file) as res:
        # the unresolved config, so that derived values (adapt_beta, surrogate height, ...)
        # follow the overrides below; files without it give the resolved one
        source = res.attrs.get("config_source_yaml") or res.attrs["config_yaml"]
        parent_cfg = OmegaConf.create(source)
    patch = OmegaConf.create()
    for override in overrides:
        parsed = parse(override)
        key = parsed.key_or_group if parsed is not None else key_of(override)
        if key == "resume" or key.startswith("hydra.") or key.startswith("hydra/"):
            continue
        if "." not in key and key in GROUP_SCHEMAS or key in ("model", "experiment"):
            raise UserError(
                f"{override}: a resumed run keeps the parent's config groups; override values only (e.g. task.n_iter=10)"
            )
        if parsed is None or parsed.is_delete() or parsed.is_sweep_override():
            raise UserError(f"{override}: a resumed run takes value overrides only (key=value, e.g. task.n_iter=10)")
        OmegaConf.update(patch, key, parsed.value(), force_add=True)
    # the parent's task keys against the schema of its task; a key that schema does not have comes
    # from an older eprop, whose one flat task schema held every task's keys, unused by this task
    schema = typed_schema(parent_cfg.task.target)
    for key in set(parent_cfg.task.keys()) - set(schema.task.keys()):
        del parent_cfg.task[key]
    merged = OmegaConf.merge(schema, parent_cfg, patch)
    _check_same_size(merged, parent_cfg, cfg.resume)
    merged.resume = str(parent.run_dir)
    # the directory, unless the file has another name than results.h5: then the file itself, which
    # training.weights.check_weights_source (a file, or a directory holding results.h5) accepts
    named = parent.results_file.name == RESULTS_FILE
    merged.weights.load = str(parent.run_dir if named else parent.results_file)
    return merged, continued_parent(merged, parent, cfg.resume)


def continued_parent(merged: DictConfig, parent: Parent, given: str) -> Parent:
    """`parent` with the phases and errors of its chain when `merged`'s schedule needs them; refuses a
    parent that has finished the schedule, or whose iterations reach `task.n_iter`. `given`: resume= as typed."""
    schedule = PhaseSchedule.from_config(merged)
    if schedule.trains_only:
        with open_results(parent.results_file) as res:
            phased = bool(np.any(res.phases() != 0))
    if not schedule.trains_only or phased:
        phases, errors = chain_history(parent.results_file)
        parent = replace(parent, phases=phases, errors=errors)
        try:
            following = schedule.next_phase(phases, errors)
        except ValueError as err:
            raise UserError(
                f"resume={given}: the parent runs' phases do not follow this schedule "
                f"(task.n_iter={merged.task.n_iter}, phases.*): {err}"
            )
        if following is None:
            raise UserError(
                f"resume={given}: the parent runs have finished their phase schedule "
                f"({len(phases)} iterations, the test phase included); nothing is left to run"
            )
        return parent
    if merged.task.n_iter <= parent.n_iter_done:
        raise UserError(
            f"task.n_iter={merged.task.n_iter}: the parent run has done {parent.n_iter_done} iterations already; "
            f"ask for a larger total (task.n_iter={parent.n_iter_done + merged.task.n_iter} continues for {merged.task.n_iter} more)"
        )
    return parent

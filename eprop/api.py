"""eprop's Python API: `compose`, `run`, `open` and `figure`, what `eprop run`, `eprop eval` and
`eprop plot` do, from Python (a Jupyter notebook, a script).

- `compose` composes the config as `eprop run` does (the same conf/ directory, ConfigStore schemas,
  resolvers and `validate`) and raises the one-line message `eprop run` prints as a `UserError`.
- `run` trains in the calling process through the same function as `eprop run`'s Hydra job
  (cli/run_job.py: `train_job`), so the results file holds the same numbers; it writes the run
  directory as `eprop run` does (`.hydra/config.yaml`, `.hydra/overrides.yaml`, `eprop.log`,
  the results file) without Hydra's `@hydra.main`.
- `open` reads a results file, a run directory or a sweep (analysis/sweep.py) without NEST.

The package's `__init__` exposes these names lazily, so that `import eprop` loads none of Hydra,
NEST, h5py or matplotlib.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict, read_write

from eprop.config.changes import Composition, remember
from eprop.errors import Diverged, EpropError, ResultsError, UserError, nest_missing_message

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from eprop.analysis.sweep import Sweep
    from eprop.results import Results

__all__ = ["compose", "parameters", "run", "open", "figure"]


# ---------------------------------------------------------------- compose


def compose(overrides: Sequence[str] = (), *, experiment: str | None = None) -> DictConfig:
    """Compose and validate the config that `eprop run OVERRIDES...` would run, without running it.

    The same configs, schemas, resolvers and checks as `eprop run`: `~` in values is expanded, a
    resumed run (`resume=RUN_DIR`) gets its parent's config with the value overrides on top (what
    `eprop run resume=RUN_DIR --cfg job` prints), and every value is checked against its bounds.
    The `hydra` node is not part of the returned config (as in `eprop run`'s job); a
    `hydra.run.dir=DIR` override is remembered as the run directory `run` uses by default.

    Args:
        overrides: Hydra overrides as on `eprop run`'s command line, e.g.
            `["task=handwriting", "task.n_iter=5", "optimizer.eta=1e-3"]`.
        experiment: An experiment preset (a file of conf/experiment/); the same as the override
            `experiment=NAME`.

    Returns:
        The composed config (struct mode: an unknown key fails). Change values with attribute
        access (`cfg.optimizer.eta = 1e-3`); `run` records the changes as overrides.

    Raises:
        UserError: A mistake in the overrides (an unknown key, a value outside its bounds, an
            unknown option of a config group, a missing data file, ...). Its message is the line
            `eprop run` prints after `eprop: error: `.

    Example:
        >>> cfg = eprop.compose(["task.n_iter=5"])  # doctest: +SKIP
        >>> cfg.optimizer.eta, cfg.neuron.rec.tau_m  # doctest: +SKIP
    """
    return _compose(_arguments(overrides, experiment))[0]


def _arguments(overrides: Sequence[str], experiment: str | None) -> list[str]:
    """The overrides as `eprop run` would get them: strings, `~` expanded, `experiment=` first."""
    from eprop.config.overrides import argv_error, expand_home

    if isinstance(overrides, (str, bytes)) or not isinstance(overrides, Sequence):
        raise TypeError(f"overrides: give a list of strings such as ['task.n_iter=5'], not {type(overrides).__name__}")
    if any(not isinstance(arg, str) for arg in overrides):
        raise TypeError("overrides: every override must be a string such as 'task.n_iter=5'")
    args = [expand_home(arg) for arg in overrides]
    if experiment is not None:
        args.insert(0, f"experiment={experiment}")
    for arg in args:
        if arg.startswith("-"):
            raise UserError(f"{arg}: eprop.compose and eprop.run take overrides (key=value), not command-line options")
    if message := argv_error(args):
        raise UserError(message)
    return args


def _compose(args: list[str]) -> tuple[DictConfig, Composition]:
    """Compose with Hydra's compose API, resolve a resumed run's config and validate it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from eprop.config.lookup import with_plain_choices
    from eprop.config.store import conf_dir, register_configs
    from eprop.config.validation import validate
    from eprop.training.job import expand_paths
    from eprop.training.resume import resume_config

    register_configs()
    with _config_errors():
        hydra = GlobalHydra.instance()
        if hydra.is_initialized():
            hydra.clear()
        with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
            cfg = hydra_compose("config", overrides=args, return_hydra_config=True)
        overrides = [str(o) for o in cfg.hydra.overrides.task]
        run_dir = str(OmegaConf.to_container(cfg.hydra.run, resolve=False)["dir"])
        with read_write(cfg), open_dict(cfg):
            del cfg["hydra"]  # as Hydra gives a job its config
        expand_paths(cfg)
        if cfg.resume:
            cfg, _ = resume_config(cfg, overrides)
            expand_paths(cfg)
        validate(with_plain_choices(cfg))
    return cfg, remember(cfg, overrides, run_dir)


@contextmanager
def _config_errors() -> Iterator[None]:
    """Hydra's and OmegaConf's config errors as the UserError `eprop run` prints (its boundary's translation)."""
    from eprop.config.hydra_errors import config_error_types, one_line

    try:
        yield
    except config_error_types() as err:
        raise UserError(one_line(err)) from None


def parameters(cfg: DictConfig, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """The config's parameters with their values, units and meanings (`eprop run --params` as a table).

    Args:
        cfg: A config from `compose`.
        keys: Dotted keys to show, in this order (e.g. `["optimizer.eta", "neuron.rec.tau_m"]`);
            default: every parameter of the schema that the config has.

    Returns:
        A pandas DataFrame indexed by key, with the columns `value` (resolved: a derived value shows
        what it is computed to), `unit` and `meaning`.

    Raises:
        UserError: A key that the config does not have.
    """
    import pandas as pd

    from eprop.config.lookup import schema_field, schema_fields

    target = str(cfg.task.target)
    if keys is None:
        keys = [f.key for f in schema_fields(target=target) if not _group_node(cfg, f.key)]
    rows = []
    for key in keys:
        parent, _, name = key.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if not isinstance(node, DictConfig) or name not in node:
            raise UserError(f"{key}: no such key in the config")
        with _config_errors():
            value = OmegaConf.select(cfg, key)
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value, resolve=True, enum_to_str=True)
        found = schema_field(key, target)
        unit = found.unit if found else ""
        meaning = found.field.metadata.get("doc", "") if found else ""
        rows.append({"key": key, "value": getattr(value, "value", value), "unit": unit, "meaning": meaning})
    return pd.DataFrame(rows, columns=["key", "value", "unit", "meaning"]).set_index("key")


def _group_node(cfg: DictConfig, key: str) -> bool:
    """True for a key that holds a group of parameters (a dict) rather than a parameter, or that the config lacks."""
    parent, _, name = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    return not isinstance(node, DictConfig) or name not in node or isinstance(node._get_node(name), DictConfig)


# ---------------------------------------------------------------- run


def run(
    cfg_or_overrides: DictConfig | Sequence[str], run_dir: str | Path | None = None, *, progress: bool = False
) -> Results:
    """Train one network in this process and return its results, as `eprop run` does.

    The results file holds the same numbers as `eprop run` with the same overrides (the losses
    are equal bit for bit). The run directory gets what `eprop run` writes into it: the results
    file (`output.file`, default `results.h5`), `eprop.log`, and `.hydra/config.yaml` and
    `.hydra/overrides.yaml` (so that `eprop eval`, `eprop plot` and `eprop.open` read it like a
    run of the command line). The overrides recorded in the results file are those given to
    `compose`, followed by `key=value` for every value changed on the config afterwards.

    A run that diverges (a loss that is not finite, a saturated firing rate) is not an error
    here: its Results come back with `status == "diverged"`, holding every finished iteration
    (`eprop run` exits with code 3 instead); the reason is in `Results.attrs["error"]`.

    NEST is one kernel per process: runs in one process follow each other (each starts with a
    fresh kernel, so its numbers do not depend on earlier runs); for parallel runs use
    `eprop run -m`.

    Args:
        cfg_or_overrides: A config from `compose` (possibly changed), or a list of overrides as
            `compose` takes them (`hydra.run.dir=DIR` among them names the run directory).
        run_dir: The run directory; it must not hold a results file already. Default: the one
            `eprop run` would make, `outputs/<task.name>/<date>/<time>` below the working directory.
        progress: Show a progress bar (iteration, loss, time left) on stderr while training (rich's;
            in Jupyter it needs the package `ipywidgets`). The config's own `progress` key, which
            `eprop run` reads, is left as it is (it is recorded in the results file).

    Returns:
        The run's `Results`, open for reading (its `path` is the results file); close it when done,
        or use it in a `with` block.

    Raises:
        UserError: A mistake in the config (as `compose`), a run directory that cannot be made or
            already holds results, a NEST that is not installed, or an error NEST reports for a
            parameter. A run directory that this call made and that holds no results then is removed.
        eprop.errors.Interrupted: The run was stopped by SIGINT or SIGTERM (the notebook's interrupt
            button); the results file keeps every finished iteration (status `interrupted`), and
            `eprop run resume=RUN_DIR` continues it.

    Example:
        >>> results = eprop.run(["task.n_iter=5"], "runs/first")  # doctest: +SKIP
        >>> results.loss  # doctest: +SKIP
    """
    from eprop.config.changes import composition_of, recorded_overrides
    from eprop.results import open_results
    from eprop.training.job import (
        default_run_dir,
        error_record,
        job_log,
        make_dir,
        remove_created,
        train_job,
        write_hydra_files,
    )
    from eprop.training.resume import continued_parent, load_parent

    if _nest_missing():
        raise UserError(nest_missing_message())
    if isinstance(cfg_or_overrides, DictConfig):
        cfg = cfg_or_overrides
        composition = composition_of(cfg)
        overrides = recorded_overrides(cfg, composition)
        pattern = composition.run_dir if composition is not None else None
    else:
        cfg, composition = _compose(_arguments(cfg_or_overrides, None))
        overrides, pattern = composition.overrides, composition.run_dir
    cfg = copy.deepcopy(cfg)  # the caller's config stays as it was (a resumed run's gets paths filled in)
    with _config_errors():
        from eprop.config.lookup import with_plain_choices
        from eprop.config.validation import validate
        from eprop.training.job import expand_paths

        expand_paths(cfg)
        validate(with_plain_choices(cfg))  # before the run directory is made: a mistake leaves nothing behind
        parent = continued_parent(cfg, load_parent(cfg.resume), str(cfg.resume)) if cfg.resume else None
    path = Path(run_dir).expanduser() if run_dir is not None else default_run_dir(cfg, pattern)
    results_file = path.absolute() / str(cfg.output.file)
    if results_file.exists():  # train() says the same; here before .hydra/ and eprop.log of that run are touched
        raise UserError(f"{results_file}: exists already; eprop never overwrites results, choose another run directory")
    created = make_dir("run_dir", path, "run")
    path = path.absolute()
    write_hydra_files(path, cfg, overrides)
    from eprop.errors import Interrupted
    from eprop.sweep import SweepCallback

    error = None
    with job_log(path) as handler:
        SweepCallback().on_run_start(cfg)  # the warning of an oversubscribed kernel.threads
        try:
            with _config_errors():
                train_job(cfg, path, overrides, parent, progress=progress)
        except Diverged as err:  # the results file says so: status diverged, the reason in its error attribute
            handler.handle(error_record(str(err)))
        except EpropError as err:  # a UserError, or a ResultsError of the writer
            handler.handle(error_record(str(err)))
            error = err
        except Interrupted as err:
            handler.handle(error_record(f"interrupted by {err}"))
            raise
    if error is not None:
        if not results_file.exists():
            remove_created(path, created)
        raise error
    return open_results(results_file)


def _nest_missing() -> bool:
    """True when `import nest` would not find NEST (NEST is not imported to find out)."""
    import importlib.util

    try:
        return importlib.util.find_spec("nest") is None
    except (ImportError, ValueError):
        return True


# ---------------------------------------------------------------- open, figure


def open(path: str | Path) -> Results | Sweep:  # eprop.open, named as io.open; the builtin is not used here
    """Open saved results: one run's, or a sweep's; needs no NEST.

    Args:
        path: A results file, a run directory (holding one), or a folder of runs: a multirun
            directory of `eprop run -m`, or any folder whose subdirectories are run directories.

    Returns:
        `Results` for a results file or a run directory (open for reading: close it when done,
        or use a `with` block), else a `Sweep` of the runs under the folder.

    Raises:
        ResultsError: `path` does not exist or holds no run, or a results file cannot be read
            (damaged, not an eprop results file, an unsupported schema version, several in one
            run directory): the reader's errors, with the line `eprop eval` prints.

    Example:
        >>> with eprop.open("runs/first") as results:  # doctest: +SKIP
        ...     print(results.status, results.loss[-1])
    """
    from eprop.analysis.jobs import error_files
    from eprop.analysis.sweep import Sweep
    from eprop.results import open_results, results_file_in

    path = Path(path).expanduser()
    if not path.exists():
        raise ResultsError(f"{path}: no such file or directory")
    if path.is_file():
        return open_results(path)
    own = results_file_in(path)
    if own is not None:
        return open_results(own)
    errors = error_files(path)
    if errors:
        raise ResultsError(f"{path}: the run holds no results file; it failed before training (see {errors[0]})")
    try:
        return Sweep(path)
    except UserError as exc:  # a folder without runs: the job discovery's line, as the reader's error
        raise ResultsError(str(exc)) from None


def figure(results: Results | str | Path, name: str = "loss", *, log: bool | None = None) -> Figure:
    """One of the figures `eprop plot` draws, as a matplotlib Figure (a notebook shows it).

    Args:
        results: A `Results`, or a results file or run directory to open.
        name: The figure's name, one of `eprop plot --only`'s: `loss`, `pattern`, `dynamics_first`,
            `dynamics_last`, `weight_courses`, `weight_matrices` (regression); `loss_error`,
            `confusion`, `readout_probabilities`, `input_frames` (classification).
        log: A logarithmic loss axis (True), a linear one (False), or chosen from the data (None).

    Returns:
        The matplotlib Figure; save it with `fig.savefig(path)`.

    Raises:
        UserError: An unknown figure name, or a figure that does not apply to the run (another task
            kind, or data the run did not record).
        ResultsError: A results file that cannot be read.
    """
    from eprop.analysis.figures import FIGURES, FigureUnavailable
    from eprop.results import Results, open_results

    spec = FIGURES.get(name)
    if spec is None or spec.draw is None:
        valid = ", ".join(n for n, s in FIGURES.items() if s.draw is not None)
        raise UserError(f"{name}: no such figure of a run; valid: {valid}")
    if not isinstance(results, Results):
        with open_results(Path(results).expanduser()) as opened:
            return figure(opened, name, log=log)
    if reason := spec.why_not(results):
        raise UserError(reason)
    try:
        return spec.draw(results, log)
    except FigureUnavailable as err:
        raise UserError(f"{results.path}: figure {name} cannot be drawn: {err}") from None

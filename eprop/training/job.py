"""One training job without Hydra: what `eprop run`'s Hydra job (cli/run_job.py) and the Python API
(`eprop.run`, api.py) both do around `train()`: `~` in path values, the run directory, the config as
NEST takes it, an optional progress bar; and, for the API, what Hydra would otherwise do for a job:
the default run directory, `.hydra/config.yaml` and `overrides.yaml`, the job's `eprop.log`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from eprop.config.schema import with_plain_choices
from eprop.errors import UserError
from eprop.training.loop import train as train_run

LOG_FORMAT = "[%(asctime)s][%(levelname)s] %(message)s"  # conf/hydra/job_logging/eprop.yaml's format


def _progress():
    """A rich progress bar on stderr with iteration, last loss and ETA."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


PATH_KEYS = ("task.data_file", "weights.load", "resume")


def expand_paths(cfg: DictConfig) -> None:
    """`~` and `~user` in the path keys of the config (e.g. a preset's task.data_file=~/x.csv)."""
    for key in PATH_KEYS:
        value = OmegaConf.select(cfg, key)
        if isinstance(value, str) and value.startswith("~"):
            OmegaConf.update(cfg, key, str(Path(value).expanduser()))


def train_job(
    cfg: DictConfig, run_dir: Path, overrides: list[str], parent=None, progress: bool = False, trainer=None
) -> tuple[DictConfig, float]:
    """One job's training, Hydra aside: the config as NEST takes it, `train()`, an optional progress bar.

    `cfg` is the config that runs (a resumed run's already merged with its parent's, `parent`
    the run it continues). Returns that config (its choices as plain strings) and the final loss.
    `eprop run` (run_job) and the Python API (`eprop.run`) both train through here.
    """
    train = trainer or train_run  # eprop run passes its module's `train` (tests replace it there)
    cfg = with_plain_choices(cfg)  # NEST takes str, not the schema's Enums
    bar = _progress() if progress else None
    if bar is None:
        return cfg, train(cfg, run_dir, overrides, parent=parent)
    bars = []

    def show(k: int, loss: float, total: int) -> None:
        # The bar appears with the first finished iteration, so that an error found while
        # the data is loaded or the network is built stays a single line. With phases, `total`
        # is the most iterations the schedule can still give; it shrinks as the run goes.
        if not bars:
            bar.start()
            bars.append(bar.add_task(cfg.task.name, total=total, completed=k, loss="–"))
        bar.update(bars[0], total=total, completed=k + 1, loss=f"{loss:.4g}")

    try:
        return cfg, train(cfg, run_dir, overrides, parent=parent, on_iteration=show)
    finally:
        if bars:  # a bar that never started would still print an empty line
            bar.stop()


def make_dir(key: str, path: Path, kind: str) -> list[Path]:
    """Create `path` (and its parents); returns the directories that did not exist before.

    A directory that cannot be made is a UserError naming `key`.
    """
    absolute = path.absolute()
    try:
        missing = [p for p in (absolute, *absolute.parents) if not p.exists()]
        absolute.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"{key}={path}: cannot create the {kind} directory ({_reason(absolute, err)}); "
            "choose a directory you can write to"
        )
    return missing


def _reason(path: Path, err: OSError) -> str:
    for ancestor in (path, *path.parents):
        try:
            if ancestor.exists():
                if not ancestor.is_dir():
                    return f"{ancestor} is a file, not a directory"
                break
        except OSError:
            continue
    where = f": {err.filename}" if err.filename else ""
    return f"{(err.strerror or type(err).__name__).lower()}{where}"


def default_run_dir(cfg: DictConfig, pattern: str | None) -> Path:
    """hydra.run.dir as `pattern` gives it (None: as conf/config.yaml sets it,
    outputs/${task.name}/${now:%Y-%m-%d}/${now:%H-%M-%S-%f}), resolved now."""
    import hydra.core.utils  # noqa: F401  (registers the ${now:...} resolver)

    if pattern is None:
        pattern = configured_run_dir()
    probe = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))  # a new root: ${now:} is not cached yet
    probe["_eprop_run_dir"] = pattern
    try:
        return Path(str(probe["_eprop_run_dir"]))
    except Exception as err:  # noqa: BLE001 - a pattern that needs Hydra's runtime config (${hydra:...})
        raise UserError(
            f"hydra.run.dir={pattern}: cannot be resolved outside eprop run ({type(err).__name__}); give run_dir="
        ) from None


def configured_run_dir() -> str:
    """hydra.run.dir as conf/config.yaml sets it, unresolved."""
    import yaml

    from eprop.config.schema import conf_dir

    return str(yaml.safe_load((Path(conf_dir()) / "config.yaml").read_text())["hydra"]["run"]["dir"])


def write_hydra_files(run_dir: Path, cfg: DictConfig, overrides: list[str]) -> None:
    """.hydra/config.yaml and .hydra/overrides.yaml, as Hydra saves them for a job."""
    hydra_dir = run_dir / ".hydra"
    hydra_dir.mkdir(exist_ok=True)
    OmegaConf.save(cfg, hydra_dir / "config.yaml")
    OmegaConf.save(OmegaConf.create(list(overrides)), hydra_dir / "overrides.yaml")


@contextmanager
def job_log(run_dir: Path) -> Iterator[logging.Handler]:
    """eprop's log records (level INFO) into RUN_DIR/eprop.log while the job lasts, as eprop run's job logging."""
    log = logging.getLogger("eprop")
    handler = logging.FileHandler(run_dir / "eprop.log")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(logging.INFO)
    level = log.level
    log.addHandler(handler)
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        handler.close()


def error_record(message: str) -> logging.LogRecord:
    """An error line for eprop.log, as eprop run writes it there (cli/run_dir.py: write_to_log)."""
    return logging.LogRecord("eprop", logging.ERROR, __file__, 0, "%s", (message,), None)


def remove_created(run_dir: Path, created: list[Path]) -> None:
    """Remove the run directory this call made (only .hydra/ and eprop.log in it) and its new empty parents."""
    hydra_dir = run_dir / ".hydra"
    if run_dir not in created or not {p.name for p in run_dir.iterdir()} <= {".hydra", "eprop.log"}:
        return
    if hydra_dir.is_dir() and not {p.name for p in hydra_dir.iterdir()} <= {"config.yaml", "overrides.yaml"}:
        return
    for name in ("config.yaml", "overrides.yaml"):
        (hydra_dir / name).unlink(missing_ok=True)
    if hydra_dir.is_dir():
        hydra_dir.rmdir()
    (run_dir / "eprop.log").unlink(missing_ok=True)
    for directory in created:
        try:
            directory.rmdir()  # only if empty
        except OSError:
            return

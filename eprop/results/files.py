"""Finding results files: in a run directory (whatever the file's name), under a multirun
directory, and opening one as HDF5 for reading (plainly, or in SWMR mode while it is written).

Directories come back in natural order (job 2 before job 10). Refusals are `ResultsError`s.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import yaml

from eprop.errors import ResultsError

RESULTS_FILE = "results.h5"  # a run's results file unless output.file names another


def open_hdf5(path: Path) -> h5py.File:
    """Open for reading: plainly, or in SWMR mode when a SWMR writer has the file (or was killed).

    A file whose SWMR writer is live (or was killed) refuses a plain open ("file is already open
    for write"); only then is SWMR read mode used, because a SWMR reader retries reading damaged
    metadata for a long time instead of failing, and a truncated file must fail at once.
    """
    try:
        return h5py.File(path, "r", locking=False)
    except OSError as exc:
        if "already open for write" not in str(exc):
            raise
    return h5py.File(path, "r", swmr=True, locking=False)


def is_results_file(path: Path) -> bool:
    """True if `path` is an HDF5 file with an eprop schema_version attribute and /loss."""
    try:
        with open_hdf5(path) as handle:
            return "schema_version" in handle.attrs and "loss" in handle
    except (OSError, ValueError):
        return False


def configured_file_name(run_dir: Path) -> str | None:
    """output.file of the run's composed config (.hydra/config.yaml), or None."""
    try:
        config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
        name = config["output"]["file"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    return str(name) if name and "/" not in str(name) else None


def results_file_in(run_dir: str | Path) -> Path | None:
    """The results file of a run directory, whatever its name, or None.

    In order: results.h5; the file named by output.file in .hydra/config.yaml; the only *.h5
    in the directory that is an eprop results file. Several candidates: ResultsError naming them.
    """
    run_dir = Path(run_dir)
    if (run_dir / RESULTS_FILE).is_file():
        return run_dir / RESULTS_FILE
    name = configured_file_name(run_dir)
    if name and (run_dir / name).is_file():
        return run_dir / name
    try:
        candidates = sorted(p for p in run_dir.glob("*.h5") if p.is_file() and is_results_file(p))
    except OSError:
        return None
    if len(candidates) > 1:
        raise ResultsError(
            f"{run_dir}: holds several results files ({', '.join(p.name for p in candidates)}); name the one to read"
        )
    return candidates[0] if candidates else None


def run_directories(path: Path) -> list[Path]:
    """Directories under `path` (itself included) that may be runs: they hold .hydra/ or an *.h5 file."""
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in (".hydra", "figures", ".submitit")]
        if ".hydra" in os.listdir(root) or any(name.endswith(".h5") for name in files):
            found.append(Path(root))
    return found


def find_result_files(path: str | Path) -> list[Path]:
    """The results files under PATH: a results file itself, a run directory or a multirun directory."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise ResultsError(f"{path}: no such file or directory")
    own = results_file_in(path)
    if own is not None:
        return [own]
    files = []
    for run_dir in run_directories(path):
        try:
            found = results_file_in(run_dir)
        except ResultsError:
            continue
        if found is not None:
            files.append(found)
    files.sort(key=natural_key)
    if not files:
        raise ResultsError(
            f"{path}: contains no {RESULTS_FILE} (expected a results file, a run directory or a multirun directory)"
        )
    return files


def natural_key(path: Path) -> list[tuple[int, int, str]]:
    """Sort job directories 0, 1, 2, ..., 10 rather than 0, 1, 10, 2; numbers before names."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts]

"""Task data: the pinned handwriting file and user trajectory files.

NEST's `chaos_handwriting.txt` (GPL-2.0-or-later) is never shipped with eprop. It is found,
in this order, at `$EPROP_DATA_DIR/chaos_handwriting.txt`, in the download cache (`./data`
of the working directory, or `$EPROP_CACHE_DIR`), or downloaded with pooch, pinned by URL and
sha256.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from eprop.errors import UserError

HANDWRITING_FILE = "chaos_handwriting.txt"
HANDWRITING_URL = (
    "https://raw.githubusercontent.com/nest/nest-simulator/v3.10/pynest/examples/eprop_plasticity/chaos_handwriting.txt"
)
HANDWRITING_SHA256 = "12f2336b2d982ab339a0cf8a749cacfd2e1cd96820a4203c0a9ecc35e0264b89"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_dir() -> Path:
    """Where downloads are cached: $EPROP_CACHE_DIR, else ./data (the project's data/ folder)."""
    return Path(os.environ.get("EPROP_CACHE_DIR", Path.cwd() / "data"))


@contextmanager
def removed_if_left_empty(*folders: Path) -> Iterator[None]:
    """The FOLDERS (innermost first) that do not exist yet are removed again, if empty, when the body
    fails: a failed download leaves no empty data/ behind."""
    new = [folder for folder in folders if not folder.exists()]
    try:
        yield
    except BaseException:
        for folder in new:
            try:
                folder.rmdir()
            except OSError:  # not empty, or never made
                pass
        raise


def pinned_file(name: str, url: str, sha256: str, mismatch_hint: str) -> Path:
    """A verified copy of NEST's data file NAME: $EPROP_DATA_DIR/NAME, the cache, or a pinned download.

    A copy whose sha256 differs is refused with `mismatch_hint` (what to do about it); an
    offline machine gets one line saying where to put the file.
    """
    candidates = []
    if os.environ.get("EPROP_DATA_DIR"):
        candidates.append(Path(os.environ["EPROP_DATA_DIR"]) / name)
    candidates.append(cache_dir() / name)
    for path in candidates:
        if path.is_file():
            if _sha256(path) != sha256:
                raise UserError(f"{path}: sha256 does not match the pinned {sha256[:12]}…; {mismatch_hint}")
            return path
    import pooch

    pooch.get_logger().setLevel("WARNING")  # its "Downloading ..." line would precede our error line
    try:
        with removed_if_left_empty(cache_dir()):
            fetched = pooch.retrieve(
                url, known_hash=f"sha256:{sha256}", fname=name, path=cache_dir(), progressbar=False
            )
    except Exception as err:  # network errors come in many types (requests, urllib, OSError)
        raise UserError(
            f"{name}: not found and the download failed ({type(err).__name__}); put the file in "
            f"{cache_dir()} or point EPROP_DATA_DIR at a folder holding it (source: {url})"
        )
    return Path(fetched)


def handwriting_file() -> Path:
    """Path of a verified copy of chaos_handwriting.txt, downloading it if needed."""
    return pinned_file(HANDWRITING_FILE, HANDWRITING_URL, HANDWRITING_SHA256, "delete it or set task.data_file")


def _numeric(fields: list[str]) -> bool:
    try:
        [float(field) for field in fields]
    except ValueError:
        return False
    return True


def load_trajectory(path: str | Path, key: str = "task.data_file", min_columns: int = 2) -> np.ndarray:
    """Load a trajectory file as an array of shape (n_samples, n_columns >= min_columns).

    The file is whitespace- or comma-separated numbers, one column per output; blank lines
    and lines starting with # are skipped. `~` is expanded; messages show the path as given.
    """
    expected = {1: "one or more numeric columns", 2: "two or more numeric columns"}.get(
        min_columns, f"{min_columns} or more numeric columns"
    )
    given, path = path, Path(path).expanduser()
    if path.is_dir():
        raise UserError(f"{key}={given}: is a directory; give a text file with {expected}")
    if not path.is_file():
        raise UserError(f"{key}={given}: no such file")
    lines = [
        (number, line)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]  # the data lines, numbered from 1
    rows = [line.replace(",", " ").split() for _, line in lines]
    if not rows:
        raise UserError(f"{key}={given}: empty file; expected {expected}")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise UserError(
            f"{key}={given}: rows have different numbers of columns ({sorted(widths)}); expected one column per output"
        )
    try:
        data = np.array(rows, dtype=float)
    except ValueError:
        bad = [(number, line) for (number, line), row in zip(lines, rows) if not _numeric(row)]
        if len(bad) == len(rows):
            raise UserError(f"{key}={given}: not numeric; expected {expected}")
        number, line = bad[0]  # e.g. a header line
        text = line.strip() if len(line.strip()) <= 40 else line.strip()[:39] + "…"
        raise UserError(
            f"{key}={given}: line {number} is not numeric ({text}); a header or comment line must start with #"
        )
    if data.shape[1] < min_columns:
        raise UserError(f"{key}={given}: has {data.shape[1]} column; expected {expected}")
    if not np.all(np.isfinite(data)):
        raise UserError(f"{key}={given}: contains NaN or infinite values")
    if data.shape[0] < 2:
        raise UserError(f"{key}={given}: has {data.shape[0]} row; expected at least 2 samples")
    return data

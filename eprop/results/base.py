"""Opening a results file for reading: the checks that refuse a file, and the open HDF5 handle that
every part of the reader (`Results`) reads through.

`ResultsBase` holds the handle and the number of finished iterations, read once when the file
is opened: every accessor reads up to it, so a file that is still being written is seen as one
consistent prefix of finished iterations. The parts of `Results` (iterations.py, history.py,
events.py, connectivity.py, reader.py) derive from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import h5py
import numpy as np

from eprop.errors import ResultsError
from eprop.results.files import RESULTS_FILE, open_hdf5, results_file_in
from eprop.results.schema import SCHEMA_VERSION

R = TypeVar("R", bound="ResultsBase")


class ResultsBase:
    """An open results file and its finished iterations. Open one with `open_results(path)`.

    Attributes:
        path: The results file (`pathlib.Path`).
        file: The open `h5py.File`; eprop's own code outside `eprop.results` never touches it.
    """

    def __init__(self, path: Path, handle: h5py.File):
        self.path = path
        self.file = handle
        n = int(handle.attrs.get("n_iter_done", 0))
        if "loss" in handle:
            n = min(n, len(self.dataset("loss")))
        self._n_iter_done = n

    @classmethod
    def _open(cls: type[R], path: str | Path) -> R:
        """Open a results file (or the results file of a run directory); see `open_results`."""
        path = Path(path)
        if path.is_dir():
            path = results_file_in(path) or path / RESULTS_FILE
        if not path.exists():
            raise ResultsError(f"{path}: no such results file")
        unreadable = ResultsError(f"{path}: not a readable HDF5 results file (truncated, or not HDF5)")
        try:
            handle = open_hdf5(path)
        except OSError:
            raise unreadable from None
        try:  # a truncated file of the latest HDF5 format opens, and fails when its metadata is read
            version = handle.attrs.get("schema_version")
            if version is None or "loss" not in handle:
                raise ResultsError(f"{path}: not an eprop results file (no schema_version or /loss)")
            if int(version) != SCHEMA_VERSION:
                raise ResultsError(
                    f"{path}: schema_version {int(version)} is not supported; this eprop reads version {SCHEMA_VERSION}"
                )
            results = cls(path, handle)
            results.attrs  # every root attribute decodes (a truncated file fails here)
            return results
        except ResultsError:
            handle.close()
            raise
        except (OSError, RuntimeError, KeyError, ValueError):
            handle.close()
            raise unreadable from None

    def __enter__(self: R) -> R:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (also done by leaving a `with open_results(...)` block)."""
        if self.file.id.valid:
            self.file.close()

    def dataset(self, path: str) -> h5py.Dataset:
        """The `h5py.Dataset` at `path` (the layout: `eprop.results.SCHEMA`), refreshed first when the
        file is read while its writer is live (SWMR). For eprop's own readers; prefer the methods."""
        ds = self.file[path]
        if self.file.swmr_mode:
            ds.refresh()
        return ds

    @property
    def n_iter_done(self) -> int:
        """Finished iterations in this file (a resumed run's parents not counted; see `history_loss`)."""
        return self._n_iter_done

    @property
    def first_iteration(self) -> int:
        """Iterations done by the parent runs before this (resumed) run started; 0 otherwise."""
        try:
            return int(self.file.attrs.get("first_iteration", 0))
        except (TypeError, ValueError):
            return 0

    @property
    def attrs(self) -> dict[str, Any]:
        """Every root attribute as Python values (JSON ones still as text; see `attr_json`), with
        `n_iter_done` the finished iterations read when the file was opened."""
        out = {}
        for key, value in self.file.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if isinstance(value, np.generic):
                value = value.item()
            out[key] = value
        out["n_iter_done"] = self._n_iter_done
        return out

    def attr_json(self, key: str, default: Any = None) -> Any:
        """A root attribute stored as JSON (lists, dicts), decoded; `default` if the file lacks it.

        Args:
            key: The attribute's name, e.g. "display" or "package_versions".
            default: What to return for a file without the attribute.
        """
        if key not in self.file.attrs:
            return default
        value = self.file.attrs[key]
        try:
            return json.loads(value)
        except (TypeError, ValueError):
            return value

    def units(self, path: str) -> str:
        """The units of the dataset at `path` as the file states them (its `units` attribute), e.g.
        `units("loss")` is "mV^2" for a regression run and "1" for a cross-entropy classifier.

        Args:
            path: A dataset's path, e.g. "loss", "events/multimeter_out/V_m", "weights/final/in_rec/weight".

        Returns:
            The units; "" if the dataset has no `units` attribute.

        Raises:
            KeyError: The file has no dataset at `path`.
        """
        value = self.file[path].attrs.get("units", "")
        return value.decode() if isinstance(value, bytes) else str(value)

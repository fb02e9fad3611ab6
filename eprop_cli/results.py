"""The results file: one self-describing HDF5 file per run, its writer and its reader.

The schema (version 1) is documented in the README, section "HDF5 schema". In short:

    /loss                               (n_iter_done,)        float64
    /loss_per_output                    (n_out, n_iter_done)  float64
    /target                             (n_out, steps)        float64
    /events/<recorder>/<field>          (n_events,)           resizable, appended per iteration
    /events/<recorder>/iteration_start  (n_iter_done + 1,)    index of each iteration's first event
    /weights/{initial,final}/<projection>/{source,target,weight}
    /neurons/<population>                                     NEST node ids
    root attributes                                           config, versions, seeds, timings, status

The writer appends one iteration at a time and flushes, so a file is readable at any moment;
`status` is "running" until `finish()` sets "complete" (or "interrupted"). The reader never
imports NEST and reads only the slices it is asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import h5py
import numpy as np
import yaml

from .errors import UserError

SCHEMA_VERSION = 1
RESULTS_FILE = "results.h5"
PROJECTIONS = ("in_rec", "rec_rec", "rec_out", "out_rec")
_CHUNK = 1 << 13  # elements per HDF5 chunk of an event dataset


def _to_attr(value: Any) -> Any:
    """HDF5 attributes hold scalars and strings; everything else is stored as JSON."""
    if value is None:
        return "null"
    if isinstance(value, (str, bool, int, float, np.integer, np.floating)):
        return value
    return json.dumps(value, default=str)


class ResultsWriter:
    """Creates a results file and appends one iteration at a time."""

    def __init__(self, path: str | Path, n_out: int, attrs: Mapping[str, Any], compress_events: bool = False):
        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "x")
        except FileExistsError:
            raise UserError(f"{self.path}: exists already; eprop never overwrites results, choose another run directory")
        f = self._file
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["status"] = "running"
        f.attrs["n_iter_done"] = 0
        self.set_attrs(attrs)
        f.create_dataset("loss", shape=(0,), maxshape=(None,), dtype="f8", chunks=(1024,))
        f.create_dataset("loss_per_output", shape=(n_out, 0), maxshape=(n_out, None), dtype="f8", chunks=(n_out, 1024))
        f.create_group("events")
        f.create_group("weights")
        f.create_group("neurons")
        self.n_iter_done = 0
        # Appending to a compressed chunk rewrites it whole, so a kill during that write can
        # damage events that were flushed before; uncompressed chunks only gain new bytes.
        self._compression = {"compression": "lzf", "shuffle": True} if compress_events else {}
        f.flush()

    def set_attrs(self, attrs: Mapping[str, Any]) -> None:
        for key, value in attrs.items():
            self._file.attrs[key] = _to_attr(value)

    def write_array(self, name: str, data: np.ndarray) -> None:
        self._file.create_dataset(name, data=np.asarray(data))

    def write_neurons(self, populations: Mapping[str, Iterable[int]]) -> None:
        for name, ids in populations.items():
            self._file["neurons"].create_dataset(name, data=np.asarray(list(ids), dtype="i8"))

    def write_weights(self, stage: str, weights: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Write a weight snapshot; `stage` is "initial" or "final" (replaced if present)."""
        group = self._file["weights"]
        if stage in group:
            del group[stage]
        stage_group = group.create_group(stage)
        for projection, conns in weights.items():
            g = stage_group.create_group(projection)
            g.create_dataset("source", data=np.asarray(conns["source"], dtype="i8"))
            g.create_dataset("target", data=np.asarray(conns["target"], dtype="i8"))
            g.create_dataset("weight", data=np.asarray(conns["weight"], dtype="f8"))
        self._file.flush()

    def write_optimizer_state(self, state: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Write the optimizer's per-synapse state (Adam's m and v), replacing an older snapshot."""
        if "optimizer" in self._file:
            del self._file["optimizer"]
        group = self._file.create_group("optimizer")
        for projection, arrays in state.items():
            g = group.create_group(projection)
            for key, values in arrays.items():
                g.create_dataset(key, data=np.asarray(values))
        self._file.flush()

    def declare_recorder(self, recorder: str, fields: Mapping[str, str]) -> None:
        """Create the empty, resizable datasets of one recorder: `fields` maps name -> dtype."""
        g = self._file["events"].create_group(recorder)
        for name, dtype in fields.items():
            g.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(_CHUNK,), **self._compression)
        g.create_dataset("iteration_start", data=np.zeros(1, dtype="i8"), maxshape=(None,), chunks=(1024,))

    def append_iteration(self, loss_per_output: np.ndarray, events: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Append one finished iteration: its loss per output and every recorder's new events."""
        f = self._file
        k = self.n_iter_done
        for recorder, fields in events.items():
            g = f["events"][recorder]
            n_old = int(g["iteration_start"][-1])
            n_new = n_old + (len(next(iter(fields.values()))) if fields else 0)
            for name, values in fields.items():
                ds = g[name]
                ds.resize((n_new,))
                ds[n_old:n_new] = values
            starts = g["iteration_start"]
            starts.resize((k + 2,))
            starts[k + 1] = n_new
        loss_per_output = np.asarray(loss_per_output, dtype="f8")
        f["loss_per_output"].resize((loss_per_output.shape[0], k + 1))
        f["loss_per_output"][:, k] = loss_per_output
        f["loss"].resize((k + 1,))
        f["loss"][k] = loss_per_output.sum()
        self.n_iter_done = k + 1
        f.attrs["n_iter_done"] = self.n_iter_done
        f.flush()

    def finish(self, status: str, attrs: Mapping[str, Any] | None = None) -> None:
        if attrs:
            self.set_attrs(attrs)
        self._file.attrs["status"] = status
        self._file.flush()

    def close(self) -> None:
        if self._file.id.valid:
            self._file.close()


class Results:
    """Read access to one results file. Use `open_results(path)`."""

    def __init__(self, path: Path, handle: h5py.File):
        self.path = path
        self.file = handle

    def __enter__(self) -> "Results":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.file.id.valid:
            self.file.close()

    # metadata
    @property
    def attrs(self) -> dict[str, Any]:
        out = {}
        for key, value in self.file.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if isinstance(value, np.generic):
                value = value.item()
            out[key] = value
        return out

    def attr_json(self, key: str, default: Any = None) -> Any:
        """An attribute stored as JSON (lists, dicts), decoded."""
        if key not in self.file.attrs:
            return default
        value = self.file.attrs[key]
        try:
            return json.loads(value)
        except (TypeError, ValueError):
            return value

    @property
    def status(self) -> str:
        return str(self.file.attrs.get("status", "unknown"))

    @property
    def n_iter_done(self) -> int:
        return int(self.file.attrs.get("n_iter_done", 0))

    @property
    def config(self) -> dict[str, Any]:
        """The resolved run config, as plain Python containers."""
        return yaml.safe_load(self.file.attrs.get("config_yaml", "{}")) or {}

    @property
    def task_name(self) -> str | None:
        """The run's task name from its config, or None if the config does not say."""
        try:
            return str(self.config["task"]["name"])
        except (KeyError, TypeError):
            return None

    @property
    def overrides(self) -> list[str]:
        return list(self.attr_json("overrides", []) or [])

    # data
    @property
    def loss(self) -> np.ndarray:
        return self.file["loss"][: self.n_iter_done]

    @property
    def loss_per_output(self) -> np.ndarray:
        return self.file["loss_per_output"][:, : self.n_iter_done]

    @property
    def target(self) -> np.ndarray:
        return self.file["target"][()]

    @property
    def recorders(self) -> list[str]:
        return list(self.file["events"].keys())

    def fields(self, recorder: str) -> list[str]:
        return [name for name in self.file["events"][recorder].keys() if name != "iteration_start"]

    def iteration_bounds(self, recorder: str, iteration: int) -> tuple[int, int]:
        """Event index range [start, stop) of one iteration (negative counts from the end)."""
        starts = self.file["events"][recorder]["iteration_start"]
        n_done = len(starts) - 1
        if iteration < 0:
            iteration += n_done
        if not 0 <= iteration < n_done:
            raise IndexError(f"{self.path}: {recorder} has no iteration {iteration} ({n_done} recorded)")
        return int(starts[iteration]), int(starts[iteration + 1])

    def events(self, recorder: str, fields: Iterable[str] | None = None, iteration: int | None = None) -> dict[str, np.ndarray]:
        """A recorder's events, all of them or one iteration's (read as an HDF5 slice)."""
        g = self.file["events"][recorder]
        names = list(fields) if fields is not None else self.fields(recorder)
        if iteration is None:
            start, stop = 0, int(g["iteration_start"][-1])
        else:
            start, stop = self.iteration_bounds(recorder, iteration)
        return {name: g[name][start:stop] for name in names}

    @property
    def weight_stages(self) -> list[str]:
        return list(self.file["weights"].keys())

    def weights(self, stage: str, projection: str) -> dict[str, np.ndarray]:
        g = self.file["weights"][stage][projection]
        return {name: g[name][()] for name in ("source", "target", "weight")}

    def weight_matrix(self, stage: str, projection: str) -> np.ndarray:
        """Weights as a (n_target, n_source) matrix, indexed by position in the populations."""
        source_pop, target_pop = PROJECTION_POPULATIONS[projection]
        sources, targets = self.neurons(source_pop), self.neurons(target_pop)
        w = self.weights(stage, projection)
        matrix = np.zeros((len(targets), len(sources)))
        matrix[np.searchsorted(targets, w["target"]), np.searchsorted(sources, w["source"])] = w["weight"]
        return matrix

    def neurons(self, population: str) -> np.ndarray:
        return self.file["neurons"][population][()]


PROJECTION_POPULATIONS = {
    "in_rec": ("input", "recurrent"),
    "rec_rec": ("recurrent", "recurrent"),
    "rec_out": ("recurrent", "readout"),
    "out_rec": ("readout", "recurrent"),
}


def open_results(path: str | Path) -> Results:
    """Open a results file (or the results.h5 in a run directory) for reading."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.exists():
        raise UserError(f"{path}: no such results file")
    try:
        handle = h5py.File(path, "r", locking=False)
    except OSError:
        raise UserError(f"{path}: not a readable HDF5 results file (truncated, or not HDF5)")
    version = handle.attrs.get("schema_version")
    if version is None or "loss" not in handle:
        handle.close()
        raise UserError(f"{path}: not an eprop results file (no schema_version or /loss)")
    if int(version) != SCHEMA_VERSION:
        handle.close()
        raise UserError(f"{path}: schema_version {int(version)} is not supported; this eprop reads version {SCHEMA_VERSION}")
    return Results(path, handle)


def find_result_files(path: str | Path) -> list[Path]:
    """The results files under PATH: a results.h5 itself, a run directory or a multirun directory."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    if (path / RESULTS_FILE).is_file():
        return [path / RESULTS_FILE]
    files = sorted(path.rglob(RESULTS_FILE), key=natural_key)
    if not files:
        raise UserError(f"{path}: contains no {RESULTS_FILE} (expected a results file, a run directory or a multirun directory)")
    return files


def natural_key(path: Path) -> list[tuple[int, int, str]]:
    """Sort job directories 0, 1, 2, ..., 10 rather than 0, 1, 10, 2; numbers before names."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts]

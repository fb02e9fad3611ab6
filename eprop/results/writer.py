"""Writing a results file: `ResultsWriter`, crash-safe and readable while it is written.

Live reading (HDF5 single-writer/multiple-reader, SWMR). The writer creates every object first
in `<name>.starting`, then switches the file to SWMR mode before the first iteration, gives it
its name (a hard link, so an existing file is never replaced), and appends one iteration at a
time, flushing in the order events -> iteration_start -> events_recorded -> loss -> n_iter_done. A reader in
another process (opened with `swmr=True`) therefore always sees a consistent prefix of finished
iterations: it takes n_iter_done once when it opens the file and reads everything up to it.
SWMR forbids new objects, so the end of a run (final weights, optimizer state, status,
timings) is written into a copy of the closed file (`<name>.finishing`), which then replaces
the file atomically (`os.replace`): a reader sees either the live file or the finished one.
A SIGKILL keeps every flushed iteration (status stays "running"); such a file opens with
`h5py.File(path, "r", swmr=True)` (or after `h5clear -s`), which is what `open_results` does.

Every dataset gets its `units` and `description` attributes from `schema.UNITS`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from eprop.errors import ResultsError
from eprop.results.schema import SCHEMA_VERSION, units_of

STARTING_SUFFIX = ".starting"  # the file while its objects are created, before it is live
FINISHING_SUFFIX = ".finishing"  # the copy that receives the end of a run before it replaces the file
_CHUNK = 1 << 13  # elements per HDF5 chunk of an event dataset


def _to_attr(value: Any) -> Any:
    """HDF5 attributes hold scalars and strings; everything else is stored as JSON."""
    if value is None:
        return "null"
    if isinstance(value, (str, bool, int, float, np.integer, np.floating)):
        return value
    return json.dumps(value, default=str)


@dataclass
class _LiveHandles:
    """What ResultsWriter.append_iteration keeps open between iterations."""

    file: h5py.File
    events: dict[str, dict[str, h5py.Dataset]]  # recorder -> field -> dataset
    starts: dict[str, h5py.Dataset]  # recorder -> its iteration_start dataset
    event_ends: dict[str, int]  # recorder -> events written so far
    other: dict[str, h5py.Dataset | None] = field(default_factory=dict)

    def get(self, name: str) -> h5py.Dataset | None:
        """The root-level dataset NAME (None if the file has none)."""
        if name not in self.other:
            self.other[name] = self.file.get(name)
        return self.other[name]


class ResultsWriter:
    """Creates a results file and appends one iteration at a time (see the module docstring).

    Create every object (target, neurons, initial weights, recorders) before the first
    `append_iteration`, which switches the file to SWMR mode. Anything written after that
    (final weights, optimizer state, `finish`) goes into a copy that `close()` moves over the file.
    """

    def __init__(self, path: str | Path, n_out: int, attrs: Mapping[str, Any], compress_events: bool = False):
        self.path = Path(path)
        if self.path.exists():
            raise ResultsError(self._exists_message())
        # created under another name: a reader must not find the file before it is live
        self._starting: Path | None = self.path.with_name(self.path.name + STARTING_SUFFIX)
        # The writer only appends, and HDF5 2.0 gives every dataset an 8 MB chunk cache that fills
        # with chunks already written (150 MB more resident memory after 30 iterations of batch 8
        # with the evidence-accumulation recording). Unfiltered chunks are written in place without
        # a cache; compressed ones keep room for two chunks per dataset, the one being filled and the next.
        cache = 2 * _CHUNK * 8 if compress_events else 0  # bytes per dataset
        self._file = h5py.File(self._starting, "w", libver="latest", rdcc_nbytes=cache)
        self._live = False  # SWMR mode on: no new objects or attributes from here on
        self._finishing: Path | None = None  # the copy that receives the end of the run
        self._handles: _LiveHandles | None = None  # open datasets of the live file (append_iteration)
        f = self._file
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["status"] = "running"
        f.attrs["n_iter_done"] = 0
        self.set_attrs(attrs)
        self._create("loss", shape=(0,), maxshape=(None,), dtype="f8", chunks=(1024,))
        self._create("loss_per_output", shape=(n_out, 0), maxshape=(n_out, None), dtype="f8", chunks=(n_out, 1024))
        self._create("events_recorded", shape=(0,), maxshape=(None,), dtype="i1", chunks=(1024,))
        f.create_group("events")
        f.create_group("weights")
        f.create_group("neurons")
        self.n_iter_done = 0
        # Appending to a compressed chunk rewrites it whole, so a kill during that write can
        # damage events that were flushed before; uncompressed chunks only gain new bytes.
        self._compression = {"compression": "lzf", "shuffle": True} if compress_events else {}
        f.flush()

    def _exists_message(self) -> str:
        return f"{self.path}: exists already; eprop never overwrites results, choose another run directory"

    def _publish(self) -> None:
        """Give the file its name, never replacing an existing file (link, then unlink the old name)."""
        if self._starting is None:
            return
        try:
            os.link(self._starting, self.path)
        except FileExistsError:
            raise ResultsError(self._exists_message()) from None
        os.unlink(self._starting)
        self._starting = None

    def _create(self, name: str, **kwargs) -> h5py.Dataset:
        """Create a dataset with its `units` and `description` attributes from `UNITS`."""
        ds = self._file.create_dataset(name, **kwargs)
        entry = units_of(name)
        if entry is not None:
            ds.attrs["units"], ds.attrs["description"] = entry
        return ds

    def _structure(self) -> h5py.File:
        """The file to add objects or attributes to: after the live phase, the finishing copy."""
        if self._live and self._finishing is None:
            self._handles = None
            self._file.flush()
            self._file.close()
            self._finishing = self.path.with_name(self.path.name + FINISHING_SUFFIX)
            shutil.copyfile(self.path, self._finishing)
            self._file = h5py.File(self._finishing, "r+")
        return self._file

    def set_attrs(self, attrs: Mapping[str, Any]) -> None:
        """Root attributes; values that are not scalars or strings are stored as JSON."""
        f = self._structure()
        for key, value in attrs.items():
            f.attrs[key] = _to_attr(value)

    def write_array(self, name: str, data: np.ndarray) -> None:
        """A whole dataset at once (e.g. /target, /input_pixel), with its units."""
        self._structure()
        self._create(name, data=np.asarray(data))

    def write_neurons(self, populations: Mapping[str, Iterable[int]]) -> None:
        """The NEST node ids of each population: /neurons/<name>."""
        self._structure()
        for name, ids in populations.items():
            self._create(f"neurons/{name}", data=np.asarray(list(ids), dtype="i8"))

    def write_weights(self, stage: str, weights: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Write a weight snapshot; `stage` is "initial" or "final" (replaced if present)."""
        group = self._structure()["weights"]
        if stage in group:
            del group[stage]
        group.create_group(stage)
        for projection, conns in weights.items():
            base = f"weights/{stage}/{projection}"
            self._create(f"{base}/source", data=np.asarray(conns["source"], dtype="i8"))
            self._create(f"{base}/target", data=np.asarray(conns["target"], dtype="i8"))
            self._create(f"{base}/weight", data=np.asarray(conns["weight"], dtype="f8"))
        self._file.flush()

    def write_optimizer_state(self, state: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Write the optimizer's per-synapse state (Adam's m and v), replacing an older snapshot."""
        f = self._structure()
        if "optimizer" in f:
            del f["optimizer"]
        f.create_group("optimizer")
        for projection, arrays in state.items():
            for key, values in arrays.items():
                self._create(f"optimizer/{projection}/{key}", data=np.asarray(values))
        f.flush()

    def declare_recorder(self, recorder: str, fields: Mapping[str, str]) -> None:
        """Create the empty, resizable datasets of one recorder: `fields` maps name -> dtype."""
        self._structure()["events"].create_group(recorder)
        for name, dtype in fields.items():
            self._create(
                f"events/{recorder}/{name}",
                shape=(0,),
                maxshape=(None,),
                dtype=dtype,
                chunks=(_CHUNK,),
                **self._compression,
            )
        self._create(
            f"events/{recorder}/iteration_start", data=np.zeros(1, dtype="i8"), maxshape=(None,), chunks=(1024,)
        )

    def start_live(self) -> None:
        """Switch to SWMR mode: readers in other processes may now open the file at any moment."""
        if not self._live and self._finishing is None:
            self._file.flush()
            self._file.swmr_mode = True
            self._live = True
            self._publish()

    # Classification files: what /loss and /loss_per_output hold instead of the squared error.
    CLASSIFICATION_LOSS = {
        "loss": (
            "1",
            "cross-entropy per iteration: mean over the batch's sequences and the learning-window steps of "
            "-sum over outputs of y*_k log y_k (y_k the softmax readout signal)",
        ),
        "loss_per_output": (
            "1",
            "the terms of /loss per readout neuron: -mean of y*_k log y_k (rows in /neurons/readout order)",
        ),
    }

    def declare_iteration_metrics(
        self,
        metrics: Iterable[str],
        per_sequence: Iterable[str],
        batch_size: int,
        loss_units: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        """Before the first iteration: one (n_iter,) f8 dataset per metric (e.g. /accuracy), one
        (n_iter, batch_size) i8 dataset per per-sequence array (e.g. /labels, /predicted), and
        other units/descriptions of /loss and /loss_per_output (`loss_units`)."""
        f = self._structure()
        for name in metrics:
            self._create(name, shape=(0,), maxshape=(None,), dtype="f8", chunks=(1024,))
        for name in per_sequence:
            self._create(name, shape=(0, batch_size), maxshape=(None, batch_size), dtype="i8", chunks=(64, batch_size))
        for name, (units, description) in (loss_units or {}).items():
            f[name].attrs["units"], f[name].attrs["description"] = units, description

    def declare_phases(self, names: Iterable[str]) -> None:
        """Before the first iteration: the empty /phase dataset (int8 codes) and the `phase_names` attribute."""
        f = self._structure()
        self._create("phase", shape=(0,), maxshape=(None,), dtype="i1", chunks=(1024,))
        f.attrs["phase_names"] = _to_attr(list(names))

    def append_iteration(
        self,
        loss_per_output: np.ndarray,
        events: Mapping[str, Mapping[str, np.ndarray]],
        metrics: Mapping[str, float] | None = None,
        per_sequence: Mapping[str, np.ndarray] | None = None,
        write_events: bool = True,
        phase: int | None = None,
    ) -> None:
        """Append one finished iteration: its loss per output, every recorder's new events, its
        metrics, per-sequence arrays and phase (into /phase, if `declare_phases` made it).

        `write_events=False` (the recording schedule skips the iteration): no event is written,
        each recorder's slice of the iteration is empty and /events_recorded says 0.
        Flushed in the order events, iteration_start, events_recorded, loss, n_iter_done, so
        that a reader that sees n_iter_done = k (or k losses) finds every event of the first k
        iterations.
        """
        self.start_live()
        f = self._file
        k = self.n_iter_done
        live = self._live_handles()
        new_ends = dict(live.event_ends)
        for recorder, fields in events.items() if write_events else ():
            datasets = live.events[recorder]
            n_old = live.event_ends[recorder]
            n_new = n_old + (len(next(iter(fields.values()))) if fields else 0)
            for name, values in fields.items():
                ds = datasets[name]
                ds.resize((n_new,))
                if n_new > n_old:
                    ds[n_old:n_new] = values
                ds.flush()
            new_ends[recorder] = n_new
        for recorder, n_new in new_ends.items():
            starts = live.starts[recorder]
            starts.resize((k + 2,))
            starts[k + 1] = n_new
            starts.flush()
        live.event_ends = new_ends
        self._append_scalar(live.get("events_recorded"), k, 1 if write_events else 0)
        for name, value in (metrics or {}).items():  # declared by declare_iteration_metrics
            self._append_scalar(live.get(name), k, value)
        for name, values in (per_sequence or {}).items():
            ds = live.get(name)
            ds.resize((k + 1, ds.shape[1]))
            ds[k] = values
            ds.flush()
        if phase is not None and live.get("phase") is not None:
            self._append_scalar(live.get("phase"), k, phase)
        loss_per_output = np.asarray(loss_per_output, dtype="f8")
        ds = live.get("loss_per_output")
        ds.resize((loss_per_output.shape[0], k + 1))
        ds[:, k] = loss_per_output
        ds.flush()
        self._append_scalar(live.get("loss"), k, loss_per_output.sum())
        self.n_iter_done = k + 1
        f.attrs["n_iter_done"] = self.n_iter_done  # an existing attribute, rewritten in place
        f.flush()

    @staticmethod
    def _append_scalar(ds: h5py.Dataset, k: int, value) -> None:
        """Element k of a 1-d dataset, then flushed."""
        ds.resize((k + 1,))
        ds[k] = value
        ds.flush()

    def _live_handles(self) -> _LiveHandles:
        """The open datasets that appends write to, looked up once per live file (h5py's lookups by
        path cost about 4 ms per iteration otherwise), with each recorder's event count."""
        if self._handles is None:
            f = self._file
            events = {
                name: {field: ds for field, ds in group.items() if field != "iteration_start"}
                for name, group in f["events"].items()
            }
            starts = {name: group["iteration_start"] for name, group in f["events"].items()}
            self._handles = _LiveHandles(
                f, events, starts, {name: int(ds[self.n_iter_done]) for name, ds in starts.items()}
            )
        return self._handles

    def finish(self, status: str, attrs: Mapping[str, Any] | None = None) -> None:
        """The run's end: its status ("complete", "interrupted", "diverged", "failed") and final attributes."""
        if attrs:
            self.set_attrs(attrs)
        self._structure().attrs["status"] = status
        self._file.flush()

    def close(self) -> None:
        """Close the file; a finishing copy replaces the live file in one step (os.replace)."""
        if self._file.id.valid:
            self._file.flush()
            self._file.close()
        self._publish()  # a run that ended before its first iteration
        if self._finishing is not None and self._finishing.exists():
            with open(self._finishing, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(self._finishing, self.path)
            try:
                fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError:
                pass

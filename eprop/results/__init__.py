"""The results file: one self-describing HDF5 file per run, its writer and its reader.

The schema (version 1) is the table `SCHEMA` below, which the README's "HDF5 schema" section
prints (`python -m eprop.results --schema-markdown`). This is the only module that knows the
layout: everything else reads through `Results` methods and never imports h5py.

Every dataset carries a `units` and a one-line `description` attribute (table `UNITS` below).

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
The reader never imports NEST and reads only the slices it is asked for.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import yaml

from eprop.config.projections import PROJECTIONS
from eprop.errors import UserError

SCHEMA_VERSION = 1
RESULTS_FILE = "results.h5"
STARTING_SUFFIX = ".starting"  # the file while its objects are created, before it is live
FINISHING_SUFFIX = ".finishing"  # the copy that receives the end of a run before it replaces the file
_CHUNK = 1 << 13  # elements per HDF5 chunk of an event dataset
BLOCK_EVENTS = 1 << 20  # events read per HDF5 slice when scanning a whole recorder
MAX_PARENTS = 100  # resumed runs followed back through parent_run at most

# The layout of a results file: (path, shape and type, content), one row per dataset group.
# README's "HDF5 schema" table is this table (`python -m eprop.results --schema-markdown`
# prints it; tests/test_results_file.py checks that the README holds it unchanged).
SCHEMA: tuple[tuple[str, str, str], ...] = (
    (
        "`/loss`",
        "(n_iter_done,) f8",
        "total loss per iteration: Σ over outputs of ½ Σ_t (y − y*)², the seed's definition (for "
        "`batch_size > 1`, averaged over the batch's sequences)",
    ),
    ("`/loss_per_output`", "(n_out, n_iter_done) f8", "the same per readout neuron"),
    ("`/target`", "(n_out, steps per sequence) f8", "the target signal of one sequence (regression tasks)"),
    (
        "`/accuracy`",
        "(n_iter_done,) f8",
        "classification tasks (root attribute `task_kind`): fraction of the iteration's sequences whose "
        "readout with the larger mean signal in the learning window is the label; `/loss` is then the "
        "cross-entropy, mean over sequences and window steps of −Σ_k y*_k log y_k (units 1)",
    ),
    (
        "`/phase`",
        "(n_iter_done,) i1",
        "classification tasks: each iteration's phase, 0 training, 1 validation, 2 early stopping, 3 test "
        "(root attribute `phase_names`, JSON; see eprop/config/phases.py); the learning rate is `optimizer.eta` in "
        "training and 0 otherwise. A file without it: every iteration is training",
    ),
    (
        "`/labels`, `/predicted`",
        "(n_iter_done, batch_size) i8",
        "classification tasks: each sequence's label and predicted class",
    ),
    (
        "`/input_pixel`",
        "(n_in,) i8",
        "`task=nmnist`: the pixel of each input neuron, polarity · 34 · 34 + y · 34 + x (root attribute "
        "`display` holds `input_image_shape` [2, 34, 34]); `/loss` is then the example's mean squared error "
        "(root attribute `loss_function`)",
    ),
    (
        "`/events_recorded`",
        "(n_iter_done,) i1",
        "1 if the recorders' events of the iteration are in `/events`, 0 if the recording schedule "
        "(`recording.events_every`, `events_first`, `events_last`) left them out (their slices are empty); "
        "a file without it has the events of every iteration",
    ),
    (
        "`/events/<recorder>/<field>`",
        "(n_events,) i8/f8",
        "recorder events, appended after every iteration that the recording schedule keeps. Recorders: `multimeter_rec` (`senders`, "
        "`times`, the recorded state variables), `multimeter_out` (`senders`, `times`, "
        "`readout_signal`, `target_signal`, ...), `spike_recorder` (`senders`, `times`; without the"
        " spike that the final-update generator forces from every input and recurrent neuron at the"
        " task's last step, so silent neurons count as silent), `weight_recorder` (`senders`, "
        "`targets`, `times`, `weights`, sorted by time, sender, target). Times in ms.",
    ),
    (
        "`/events/<recorder>/iteration_start`",
        "(n_iter_done + 1,) i8",
        "index of each iteration's first event: iteration k is `[start[k], start[k+1])`, so one "
        "iteration is one HDF5 slice",
    ),
    (
        "`/weights/{initial,final}/<projection>/{source,target,weight}`",
        "(n_conn,) i8, i8, f8 (pA)",
        "`in_rec`, `rec_rec`, `rec_out`, `out_rec`, sorted by (source, target); only the existing "
        "connections (no autapses; with `weights.<projection>.sparsity`, only the pairs its mask kept)",
    ),
    ("`/neurons/{input,recurrent,readout}`", "(n,) i8", "NEST node ids"),
    (
        "`/optimizer/<projection>/{source,target,m,v}`",
        "(n_conn,)",
        "Adam's per-synapse moments at the end (or interruption) of the run, for `resume`; absent for gradient descent",
    ),
)


def schema_markdown() -> str:
    """SCHEMA as the Markdown table of the README's "HDF5 schema" section."""
    lines = ["| path | shape, type | content |", "|---|---|---|"]
    lines += [f"| {path} | {shape} | {content} |" for path, shape, content in SCHEMA]
    return "\n".join(lines)


# Units and a one-line description of every dataset, by path pattern (fnmatch, first match wins).
# Event fields are matched by their name under /events/<recorder>/. Units follow NEST's model
# documentation (NEST documents the readout, target and error signals in mV).
UNITS: dict[str, tuple[str, str]] = {
    "loss": (
        "mV^2",
        "total loss per iteration: sum over outputs of 1/2 sum_t (y - y*)^2, averaged over a batch's sequences",
    ),
    "loss_per_output": ("mV^2", "loss per readout neuron (rows, in /neurons/readout order) and iteration (columns)"),
    "target": ("mV", "target signal y* of one sequence: one row per output, one column per time step"),
    "accuracy": ("1", "classification: fraction of an iteration's sequences whose predicted class is the label"),
    "phase": (
        "phase code",
        "phase of each iteration: 0 training, 1 validation, 2 early stopping, 3 test (names in the root attribute phase_names)",
    ),
    "labels": (
        "class index",
        "classification: label of each sequence (rows: iterations, columns: sequences of the batch)",
    ),
    "predicted": (
        "class index",
        "classification: predicted class (argmax over readouts of the mean readout signal in the "
        "learning window) of each sequence",
    ),
    "neurons/*": ("node id", "NEST node ids of this population, in the order of the weight matrices"),
    "input_pixel": (
        "pixel",
        "nmnist: the pixel of each input neuron, polarity * 34 * 34 + y * 34 + x (root attribute "
        "display.input_image_shape = [2, 34, 34])",
    ),
    "events_recorded": (
        "1",
        "1 if the recorders' events of this iteration are in /events, 0 if the recording schedule "
        "(recording.events_*) left them out (empty slice)",
    ),
    "events/*/iteration_start": (
        "event index",
        "index of each iteration's first event: iteration k is [start[k], start[k+1])",
    ),
    "events/*/senders": ("node id", "NEST node id of the neuron (or synapse source) that sent the event"),
    "events/*/targets": ("node id", "NEST node id of the synapse's target neuron"),
    "events/*/times": ("ms", "time of the event (simulation time)"),
    "events/multimeter_out/V_m": ("mV", "membrane voltage v_k of the readout neuron"),
    "events/*/V_m": ("mV", "membrane voltage v_j"),
    "events/*/V_th_adapt": ("mV", "adapting spike threshold A_j"),
    "events/*/adaptation": (
        "mV",
        "threshold adaptation variable a_j (A_j = V_th + adapt_beta a_j, adapt_beta dimensionless)",
    ),
    "events/*/surrogate_gradient": ("1", "surrogate gradient (pseudo-derivative) psi_j of the membrane voltage"),
    "events/*/learning_signal": ("pA", "learning signal L_j fed back from the readout errors"),
    "events/*/readout_signal": ("mV", "readout signal y_k"),
    "events/*/readout_signal_unnorm": ("mV", "readout signal before normalization"),
    "events/*/target_signal": ("mV", "target signal y*_k"),
    "events/*/error_signal": ("mV", "error signal y_k - y*_k"),
    "events/weight_recorder/weights": ("pA", "synaptic weight when the synapse transmitted a spike"),
    "events/*": ("1", "recorded state variable (no unit known to eprop)"),
    "weights/*/*/source": ("node id", "presynaptic neuron, NEST node id"),
    "weights/*/*/target": ("node id", "postsynaptic neuron, NEST node id"),
    "weights/initial/*/weight": ("pA", "synaptic weight before training"),
    "weights/final/*/weight": ("pA", "synaptic weight at the end of training (pending updates applied)"),
    "optimizer/*/source": ("node id", "presynaptic neuron, NEST node id"),
    "optimizer/*/target": ("node id", "postsynaptic neuron, NEST node id"),
    "optimizer/*/m": ("a.u.", "Adam's first moment (running mean of the e-prop gradient), as NEST holds it"),
    "optimizer/*/v": ("a.u.", "Adam's second moment (running mean of the squared gradient), as NEST holds it"),
}


def units_of(path: str) -> tuple[str, str] | None:
    """(units, description) of the dataset at `path` (no leading slash), or None if the table lacks it."""
    path = path.strip("/")
    for pattern, entry in UNITS.items():
        if fnmatch.fnmatchcase(path, pattern):
            return entry
    return None


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
            raise UserError(self._exists_message())
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
            raise UserError(self._exists_message()) from None
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
        f = self._structure()
        for key, value in attrs.items():
            f.attrs[key] = _to_attr(value)

    def write_array(self, name: str, data: np.ndarray) -> None:
        self._structure()
        self._create(name, data=np.asarray(data))

    def write_neurons(self, populations: Mapping[str, Iterable[int]]) -> None:
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


@dataclass
class LossHistory:
    """The loss of a run and of the runs it was resumed from, on one iteration numbering.

    `loss[i]` is iteration `first_iteration + i` (0-based) of the whole training; `segments`
    lists (results file, 0-based first iteration, iterations) from the oldest run on; `note`
    says why the history starts late (a parent file is missing or unreadable), or is "".
    """

    loss: np.ndarray
    loss_per_output: np.ndarray
    first_iteration: int = 0
    segments: list[tuple[Path, int, int]] = field(default_factory=list)
    note: str = ""
    accuracy: np.ndarray | None = None  # classification: /accuracy of the same iterations; None for other files
    phase: np.ndarray | None = None  # the phase code of each of them (0, training, for a file without /phase)

    @property
    def n_iter_done(self) -> int:
        """Iterations done by the whole chain: the last iteration's 1-based number."""
        return self.first_iteration + len(self.loss)

    @property
    def resume_points(self) -> list[int]:
        """0-based iterations at which a resumed run took over."""
        return [start for _, start, _ in self.segments[1:]]


class Results:
    """Read access to one results file. Use `open_results(path)`.

    `n_iter_done` is read once, when the file is opened; every accessor reads up to it, so a file
    that is still being written is seen as one consistent prefix of finished iterations.
    """

    def __init__(self, path: Path, handle: h5py.File):
        self.path = path
        self.file = handle
        n = int(handle.attrs.get("n_iter_done", 0))
        if "loss" in handle:
            n = min(n, len(self.dataset("loss")))
        self._n_iter_done = n

    def __enter__(self) -> Results:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.file.id.valid:
            self.file.close()

    def dataset(self, path: str) -> h5py.Dataset:
        """A dataset, refreshed first when the file is read while its writer is live (SWMR)."""
        ds = self.file[path]
        if self.file.swmr_mode:
            ds.refresh()
        return ds

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
        out["n_iter_done"] = self._n_iter_done
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
        """Iterations of this file (a resumed run's parents not counted; see `history_loss`)."""
        return self._n_iter_done

    @property
    def first_iteration(self) -> int:
        """Iterations done by the parent runs before this (resumed) run started; 0 otherwise."""
        try:
            return int(self.file.attrs.get("first_iteration", 0))
        except (TypeError, ValueError):
            return 0

    @property
    def parent_run(self) -> str:
        return str(self.file.attrs.get("parent_run", "") or "")

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
        return self.dataset("loss")[: self._n_iter_done]

    @property
    def loss_per_output(self) -> np.ndarray:
        return self.dataset("loss_per_output")[:, : self._n_iter_done]

    def history_loss(self) -> LossHistory:
        """This run's loss (and a classification run's accuracy and phases) preceded by its parents'
        (following parent_run while the files exist)."""
        parts = [
            (self.path, self.first_iteration, self.loss, self.loss_per_output, self._accuracy_done(), self.phases())
        ]
        note = ""
        seen = {self.path.resolve()}
        parent, start = self.parent_run, self.first_iteration
        while parent and start > 0 and len(parts) <= MAX_PARENTS:
            try:
                found = Path(parent) if Path(parent).is_file() else results_file_in(Path(parent))
                if found is None:
                    raise UserError(f"{parent}: no results file there")
                if found.resolve() in seen:
                    note = f"parent run {parent} repeats in the chain; history cut there"
                    break
                with open_results(found) as res:
                    n_taken = start - res.first_iteration
                    loss, per_output = res.loss[:n_taken], res.loss_per_output[:, :n_taken]
                    if n_taken <= 0 or len(loss) < n_taken:
                        note = (
                            f"parent run {parent} holds {len(loss)} iterations, not the {max(n_taken, 0)} "
                            f"this run continued from; history starts at iteration {start + 1}"
                        )
                        break
                    accuracy = res._accuracy_done()
                    parts.insert(
                        0,
                        (
                            found,
                            res.first_iteration,
                            loss,
                            per_output,
                            None if accuracy is None else accuracy[:n_taken],
                            res.phases()[:n_taken],
                        ),
                    )
                    seen.add(found.resolve())
                    parent, start = res.parent_run, res.first_iteration
            except (UserError, OSError, KeyError) as exc:
                note = f"parent run {parent} is not readable ({exc}); history starts at iteration {start + 1}"
                break
        if not note and start > 0:
            note = f"no parent run recorded for the first {start} iterations; history starts at iteration {start + 1}"
        n_out = self.loss_per_output.shape[0]
        per_output = [p[3] if p[3].shape[0] == n_out else np.full((n_out, len(p[2])), np.nan) for p in parts]
        accuracies = [p[4] for p in parts]
        return LossHistory(
            loss=np.concatenate([p[2] for p in parts]),
            loss_per_output=np.concatenate(per_output, axis=1),
            first_iteration=parts[0][1],
            segments=[(p[0], p[1], len(p[2])) for p in parts],
            note=note,
            accuracy=None if any(a is None for a in accuracies) else np.concatenate(accuracies),
            phase=np.concatenate([p[5] for p in parts]),
        )

    def classification_history(self, history: LossHistory | None = None) -> LossHistory:
        """`history_loss()` (or the given one) for reading accuracy and phases: if a parent has no
        /accuracy, this file's iterations alone, so that loss, accuracy and phases stay aligned."""
        history = history if history is not None else self.history_loss()
        if history.accuracy is not None or self.accuracy is None:
            return history
        return LossHistory(
            self.loss,
            self.loss_per_output,
            self.first_iteration,
            segments=[(self.path, self.first_iteration, len(self.loss))],
            accuracy=self._accuracy_done(),
            phase=self.phases(),
        )

    @property
    def target(self) -> np.ndarray:
        return self.dataset("target")[()]

    @property
    def recorders(self) -> list[str]:
        return list(self.file["events"].keys())

    def fields(self, recorder: str) -> list[str]:
        return [name for name in self.file["events"][recorder].keys() if name != "iteration_start"]

    def iteration_starts(self, recorder: str) -> np.ndarray:
        """Index of each finished iteration's first event, plus the end: (n + 1,) for n iterations."""
        starts = self.dataset(f"events/{recorder}/iteration_start")
        return starts[: self._n_iter_done + 1]

    def recorded_iterations(self, recorder: str) -> np.ndarray:
        """The finished iterations whose events of `recorder` are in the file: 0-based indices into
        this file's iterations, ascending (`first_iteration + i + 1` numbers them over the whole
        training). Every iteration, unless the recording schedule left some out (/events_recorded)."""
        n = len(self.iteration_starts(recorder)) - 1
        if "events_recorded" not in self.file:  # written before the schedule existed: every iteration
            return np.arange(n)
        return np.flatnonzero(self.dataset("events_recorded")[:n])

    @property
    def events_complete(self) -> bool:
        """True if every finished iteration's events are in the file (no recording schedule skipped one)."""
        if "events_recorded" not in self.file:
            return True
        return bool(np.all(self.dataset("events_recorded")[: self._n_iter_done]))

    def n_events(self, recorder: str) -> int:
        """Events of `recorder` in the finished iterations."""
        return int(self.iteration_starts(recorder)[-1])

    def iteration_bounds(self, recorder: str, iteration: int) -> tuple[int, int]:
        """Event index range [start, stop) of one iteration (negative counts from the end).

        IndexError for an iteration that did not finish or whose events the recording schedule
        left out (pick one of `recorded_iterations`).
        """
        starts = self.iteration_starts(recorder)
        n_done = len(starts) - 1
        if iteration < 0:
            iteration += n_done
        if not 0 <= iteration < n_done:
            raise IndexError(f"{self.path}: {recorder} has no iteration {iteration} ({n_done} recorded)")
        if "events_recorded" in self.file and not self.dataset("events_recorded")[iteration]:
            raise IndexError(
                f"{self.path}: the events of iteration {self.first_iteration + iteration + 1} were not written "
                f"(recording schedule)"
            )
        return int(starts[iteration]), int(starts[iteration + 1])

    def events(
        self, recorder: str, fields: Iterable[str] | None = None, iteration: int | None = None
    ) -> dict[str, np.ndarray]:
        """A recorder's events, all of them or one iteration's (read as an HDF5 slice)."""
        names = list(fields) if fields is not None else self.fields(recorder)
        if iteration is None:
            start, stop = 0, self.n_events(recorder)
        else:
            start, stop = self.iteration_bounds(recorder, iteration)
        return {name: self.dataset(f"events/{recorder}/{name}")[start:stop] for name in names}

    @property
    def weight_stages(self) -> list[str]:
        return list(self.file["weights"].keys())

    def weights(self, stage: str, projection: str) -> dict[str, np.ndarray]:
        return {
            name: self.dataset(f"weights/{stage}/{projection}/{name}")[()] for name in ("source", "target", "weight")
        }

    def weight_matrix(self, stage: str, projection: str, missing: float = 0.0) -> np.ndarray:
        """Weights as a (n_target, n_source) matrix, indexed by position in the populations;
        `missing` (pA, e.g. NaN) where the file lists no connection (autapses, sparse projections)."""
        sources = self.neurons(PROJECTIONS[projection].source)
        targets = self.neurons(PROJECTIONS[projection].target)
        w = self.weights(stage, projection)
        matrix = np.full((len(targets), len(sources)), missing, dtype=np.float64)
        matrix[np.searchsorted(targets, w["target"]), np.searchsorted(sources, w["source"])] = w["weight"]
        return matrix

    def connected(self, stage: str, projection: str) -> np.ndarray:
        """Boolean (n_target, n_source) matrix: True where the snapshot lists a connection."""
        sources = self.neurons(PROJECTIONS[projection].source)
        targets = self.neurons(PROJECTIONS[projection].target)
        ids = {name: self.dataset(f"weights/{stage}/{projection}/{name}")[()] for name in ("source", "target")}
        present = np.zeros((len(targets), len(sources)), dtype=bool)
        present[np.searchsorted(targets, ids["target"]), np.searchsorted(sources, ids["source"])] = True
        return present

    def neurons(self, population: str) -> np.ndarray:
        return self.dataset(f"neurons/{population}")[()]

    def population(self, name: str) -> np.ndarray:
        """NEST node ids of a population, or an empty array if the file lacks it."""
        if "neurons" in self.file and name in self.file["neurons"]:
            return self.neurons(name)
        return np.zeros(0, dtype="i8")

    def has_fields(self, recorder: str, fields: Iterable[str]) -> bool:
        """True if the file holds `recorder` with all of `fields`."""
        return recorder in self.recorders and set(fields) <= set(self.fields(recorder))

    def iter_event_blocks(
        self, recorder: str, fields: Iterable[str], stop: int | None = None, block: int = BLOCK_EVENTS
    ) -> Iterator[dict[str, np.ndarray]]:
        """A recorder's events [0, stop) as consecutive HDF5 slices of at most `block` events.

        Scanning a recorder of a long run this way keeps memory bounded by the block size.
        """
        names = list(fields)
        if stop is None:
            stop = self.n_events(recorder)
        datasets = {name: self.dataset(f"events/{recorder}/{name}") for name in names}
        for start in range(0, stop, block):
            end = min(start + block, stop)
            yield {name: ds[start:end] for name, ds in datasets.items()}

    def weight_projections(self, stage: str) -> list[str]:
        """The projections of one weight snapshot ("initial" or "final"); [] if the file lacks it."""
        if stage not in self.weight_stages:
            return []
        return list(self.file["weights"][stage].keys())

    def optimizer_state(self) -> dict[str, dict[str, np.ndarray]]:
        """Adam's per-synapse state: projection -> source, target, m, v; {} if the file holds none."""
        if "optimizer" not in self.file:
            return {}
        return {
            projection: {key: group[key][()] for key in group} for projection, group in self.file["optimizer"].items()
        }

    @property
    def accuracy(self) -> np.ndarray | None:
        """Classification: /accuracy per iteration (fraction of sequences predicted right); None for other files."""
        return self.file["accuracy"][()] if "accuracy" in self.file else None

    def _accuracy_done(self) -> np.ndarray | None:
        """/accuracy of the finished iterations as floats; None for a file without it."""
        accuracy = self.accuracy
        return None if accuracy is None else np.asarray(accuracy, dtype=float)[: self._n_iter_done]

    def phases(self) -> np.ndarray:
        """Phase code of each finished iteration (eprop/config/phases.py: 0 training, 1 validation,
        2 early_stopping, 3 test), an int array of length n_iter_done; zeros (all training) if the file has no /phase."""
        if "phase" in self.file:
            return np.asarray(self.file["phase"][: self._n_iter_done], dtype=int)
        return np.zeros(self._n_iter_done, dtype=int)

    @property
    def phase_names(self) -> list[str]:
        """Names of the phase codes (root attribute phase_names); eprop's four names for a file without it."""
        from eprop.config.phases import PHASE_NAMES

        return list(self.attr_json("phase_names", None) or PHASE_NAMES)

    def per_sequence(self, name: str) -> np.ndarray | None:
        """Classification: /labels or /predicted, (iteration, sequence) class indices; None if absent."""
        return self.file[name][()] if name in ("labels", "predicted") and name in self.file else None

    def input_pixels(self) -> np.ndarray | None:
        """Event-camera tasks (N-MNIST): /input_pixel, the pixel of each input neuron (in /neurons/input
        order) as polarity * 34 * 34 + y * 34 + x; None if the file has none."""
        return np.asarray(self.file["input_pixel"][()], dtype=np.int64) if "input_pixel" in self.file else None

    @property
    def readout_loss(self) -> str:
        """The loss the readouts minimise: "cross_entropy" or "mean_squared_error".

        From the run config's neuron.readout.loss; a classification file whose config does not say
        (older files) is cross-entropy (the bsshslm_2020 classifier), every other file the squared error.
        A null loss (eprop_readout, the event-based family, has no loss parameter) is the squared error.
        """
        try:
            readout = self.config["neuron"]["readout"]
            if "loss" in readout:
                return "cross_entropy" if readout["loss"] == "cross_entropy" else "mean_squared_error"
        except (KeyError, TypeError):
            pass
        return "cross_entropy" if self.task_kind == "classification" else "mean_squared_error"

    @property
    def task_kind(self) -> str:
        """ "regression" or "classification" (root attribute task_kind; "regression" for older files)."""
        return str(self.file.attrs.get("task_kind", "regression") or "regression")

    @property
    def display(self) -> dict[str, Any]:
        """How the task's signals are shown (root attribute display, JSON), e.g. {"y_axis_down": true}.

        Files written before the attribute existed: the handwriting task's y axis points down.
        """
        shown = self.attr_json("display")
        if isinstance(shown, dict):
            return shown
        return {"y_axis_down": True} if self.task_name == "handwriting" else {}


def _open_hdf5(path: Path) -> h5py.File:
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
        with _open_hdf5(path) as handle:
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
    in the directory that is an eprop results file. Several candidates: UserError naming them.
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
        raise UserError(
            f"{run_dir}: holds several results files ({', '.join(p.name for p in candidates)}); name the one to read"
        )
    return candidates[0] if candidates else None


def open_results(path: str | Path) -> Results:
    """Open a results file (or the results file in a run directory) for reading."""
    path = Path(path)
    if path.is_dir():
        path = results_file_in(path) or path / RESULTS_FILE
    if not path.exists():
        raise UserError(f"{path}: no such results file")
    unreadable = UserError(f"{path}: not a readable HDF5 results file (truncated, or not HDF5)")
    try:
        handle = _open_hdf5(path)
    except OSError:
        raise unreadable from None
    try:  # a truncated file of the latest HDF5 format opens, and fails when its metadata is read
        version = handle.attrs.get("schema_version")
        if version is None or "loss" not in handle:
            raise UserError(f"{path}: not an eprop results file (no schema_version or /loss)")
        if int(version) != SCHEMA_VERSION:
            raise UserError(
                f"{path}: schema_version {int(version)} is not supported; this eprop reads version {SCHEMA_VERSION}"
            )
        results = Results(path, handle)
        results.attrs  # every root attribute decodes (a truncated file fails here)
        return results
    except UserError:
        handle.close()
        raise
    except (OSError, RuntimeError, KeyError, ValueError):
        handle.close()
        raise unreadable from None


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
        raise UserError(f"{path}: no such file or directory")
    own = results_file_in(path)
    if own is not None:
        return [own]
    files = []
    for run_dir in run_directories(path):
        try:
            found = results_file_in(run_dir)
        except UserError:
            continue
        if found is not None:
            files.append(found)
    files.sort(key=natural_key)
    if not files:
        raise UserError(
            f"{path}: contains no {RESULTS_FILE} (expected a results file, a run directory or a multirun directory)"
        )
    return files


def natural_key(path: Path) -> list[tuple[int, int, str]]:
    """Sort job directories 0, 1, 2, ..., 10 rather than 0, 1, 10, 2; numbers before names."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts]


def main(argv: list[str] | None = None) -> int:
    """`python -m eprop.results --schema-markdown`: print the README's schema table."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args != ["--schema-markdown"]:
        print("usage: python -m eprop.results --schema-markdown", file=sys.stderr)
        return 2
    print(schema_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

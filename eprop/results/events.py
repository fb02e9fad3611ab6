"""Reading the recorders' events of a results file: whole recorders, one iteration at a time (one
HDF5 slice), in bounded blocks, and as spike trains of a population or readout signals.

Recorders: `spike_recorder` (senders, times), `multimeter_rec` and `multimeter_out` (senders,
times and the recorded state variables), `weight_recorder` (senders, targets, times, weights).
Times are simulation times in ms. Iterations are 0-based indices into this file's iterations
(negative ones count from the end); a recording schedule may have left some out
(`recorded_iterations`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np

from eprop.errors import ResultsError
from eprop.results.connectivity import ConnectivityReader

BLOCK_EVENTS = 1 << 20  # events read per HDF5 slice when scanning a whole recorder
SPIKING = ("input", "recurrent")  # the populations whose spikes the spike recorder may hold
READOUT_FIELDS = ("senders", "times", "readout_signal", "target_signal")


class Spikes(NamedTuple):
    """Spikes of one population, in time order as recorded."""

    senders: np.ndarray  # NEST node id of the neuron that spiked, int64
    times: np.ndarray  # spike time, ms


class ReadoutSignals(NamedTuple):
    """The readout neurons' signals, one row per readout neuron, one column per sample."""

    times: np.ndarray  # (n_samples,) sample times, ms
    readout: np.ndarray  # (n_out, n_samples) readout signal y_k
    target: np.ndarray  # (n_out, n_samples) target signal y*_k
    senders: np.ndarray  # (n_out,) NEST node ids of the rows' readout neurons


class EventsReader(ConnectivityReader):
    """The recorders' events of one file (part of `Results`)."""

    @property
    def recorders(self) -> list[str]:
        """The recorders in the file, e.g. ["multimeter_out", "multimeter_rec", "spike_recorder", "weight_recorder"]."""
        return list(self.file["events"].keys())

    def fields(self, recorder: str) -> list[str]:
        """The event fields of a recorder, e.g. ["senders", "times", "V_m", ...].

        Args:
            recorder: One of `recorders`.

        Returns:
            The field names; `units(f"events/{recorder}/{field}")` gives each one's units.

        Raises:
            KeyError: The file has no such recorder.
        """
        return [name for name in self.file["events"][recorder].keys() if name != "iteration_start"]

    def has_fields(self, recorder: str, fields: Iterable[str]) -> bool:
        """True if the file holds `recorder` with all of `fields` (e.g. "multimeter_out", ["readout_signal"])."""
        return recorder in self.recorders and set(fields) <= set(self.fields(recorder))

    def iteration_starts(self, recorder: str) -> np.ndarray:
        """Where each iteration's events begin in a recorder's event arrays.

        Args:
            recorder: One of `recorders`.

        Returns:
            An int64 array of shape (n_iter_done + 1,): the index of each finished iteration's first
            event, then the end; iteration k's events are [starts[k], starts[k + 1]) (empty if the
            recording schedule left them out).
        """
        starts = self.dataset(f"events/{recorder}/iteration_start")
        return starts[: self._n_iter_done + 1]

    def recorded_iterations(self, recorder: str) -> np.ndarray:
        """The finished iterations whose events of `recorder` are in the file.

        Args:
            recorder: One of `recorders`.

        Returns:
            0-based indices into this file's iterations, ascending (`first_iteration + i + 1` numbers
            them over the whole training): every iteration, unless the recording schedule
            (`recording.events_every`, ...) left some out.
        """
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
        """The number of events of `recorder` (one of `recorders`) in the finished iterations."""
        return int(self.iteration_starts(recorder)[-1])

    def iteration_bounds(self, recorder: str, iteration: int) -> tuple[int, int]:
        """The event index range of one iteration in a recorder's event arrays.

        Args:
            recorder: One of `recorders`.
            iteration: 0-based index into this file's iterations (negative: from the end).

        Returns:
            (start, stop): the iteration's events are [start, stop).

        Raises:
            IndexError: The iteration did not finish, or the recording schedule left its events out
                (pick one of `recorded_iterations`).
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
        """A recorder's events, all of them or one iteration's (read as one HDF5 slice).

        Args:
            recorder: e.g. "spike_recorder", "multimeter_rec", "multimeter_out", "weight_recorder".
            fields: The fields to read (default: all, see `fields`).
            iteration: 0-based index into this file's iterations (negative: from the end); None: all.

        Returns:
            Field name -> array, one element per event; times in ms, senders and targets NEST node
            ids, state variables in the units `units(f"events/{recorder}/{field}")` gives.

        Raises:
            KeyError: The file has no such recorder or field.
            IndexError: The iteration did not finish or the recording schedule left its events out.
        """
        names = list(fields) if fields is not None else self.fields(recorder)
        if iteration is None:
            start, stop = 0, self.n_events(recorder)
        else:
            start, stop = self.iteration_bounds(recorder, iteration)
        return {name: self.dataset(f"events/{recorder}/{name}")[start:stop] for name in names}

    def iter_event_blocks(
        self, recorder: str, fields: Iterable[str], stop: int | None = None, block: int = BLOCK_EVENTS
    ) -> Iterator[dict[str, np.ndarray]]:
        """A recorder's events as consecutive HDF5 slices: memory bounded by the block, however long the run.

        Args:
            recorder: One of `recorders`.
            fields: The fields to read.
            stop: Read events [0, stop) (default: every event of the finished iterations).
            block: Events per slice.

        Yields:
            Field name -> array of at most `block` events (units as in `events`).
        """
        names = list(fields)
        if stop is None:
            stop = self.n_events(recorder)
        datasets = {name: self.dataset(f"events/{recorder}/{name}") for name in names}
        for start in range(0, stop, block):
            end = min(start + block, stop)
            yield {name: ds[start:end] for name, ds in datasets.items()}

    def spikes(self, population: str = "recurrent", iteration: int | None = None) -> Spikes:
        """The recorded spikes of one population.

        Args:
            population: "recurrent" or "input" (input spikes are recorded only with
                `recording.spikes_input`; otherwise the result is empty).
            iteration: 0-based index into this file's iterations (negative: from the end); None: all.

        Returns:
            `Spikes(senders, times)`: the NEST node ids (int64) of the neurons of `population` that
            spiked and the spike times in ms, in the recorder's order (time order). The spike that
            the final-update generator forces from every neuron at the task's last step is not in
            the file. `neurons(population)` lists the population's ids.

        Raises:
            ValueError: `population` is not "input" or "recurrent".
            ResultsError: The file has no spike recorder.
            IndexError: The iteration did not finish or the recording schedule left its events out.
        """
        if population not in SPIKING:
            raise ValueError(f"population {population!r}: spikes are recorded of {' and '.join(SPIKING)}")
        if "spike_recorder" not in self.recorders:
            raise ResultsError(f"{self.path}: spike_recorder is not recorded")
        events = self.events("spike_recorder", ("senders", "times"), iteration=iteration)
        mine = np.isin(events["senders"], self.population(population))
        return Spikes(events["senders"][mine], events["times"][mine])

    def readout_signals(self, iteration: int | None = None) -> ReadoutSignals:
        """The readout neurons' signal y and target y*, as the readout multimeter sampled them.

        Args:
            iteration: 0-based index into this file's iterations (negative: from the end); None: every
                iteration whose events are in the file (n_out x samples floats each: mind a long run).

        Returns:
            `ReadoutSignals(times, readout, target, senders)`: the sample times in ms (n_samples,);
            y and y* as (n_out, n_samples) float64 arrays, rows in the order of `neurons("readout")`
            (`senders`); in the units NEST records them: mV for regression readouts (see
            `units("events/multimeter_out/readout_signal")`), probabilities for a softmax
            (cross-entropy) classifier.

        Raises:
            ResultsError: The readout multimeter did not record readout_signal and target_signal, or
                the readout neurons were not sampled at the same times.
            IndexError: The iteration did not finish or the recording schedule left its events out.
        """
        if not self.has_fields("multimeter_out", READOUT_FIELDS):
            raise ResultsError(f"{self.path}: multimeter_out with readout_signal and target_signal is not recorded")
        events = self.events("multimeter_out", READOUT_FIELDS, iteration=iteration)
        ids = self.population("readout")
        if ids.size == 0:  # no /neurons/readout: outputs in order of their ids
            ids = np.unique(events["senders"])
        rows = []
        for node in ids:
            mine = np.flatnonzero(events["senders"] == node)
            rows.append(mine[np.argsort(events["times"][mine], kind="stable")])
        times = events["times"][rows[0]] if rows else np.zeros(0)
        if any(not np.array_equal(events["times"][row], times) for row in rows):
            raise ResultsError(f"{self.path}: the readout neurons were not sampled at the same times")
        signal = {
            name: np.array([events[name][row] for row in rows]).reshape(len(rows), len(times))
            for name in ("readout_signal", "target_signal")
        }
        return ReadoutSignals(times, signal["readout_signal"], signal["target_signal"], ids)

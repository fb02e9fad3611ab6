"""Reading the network a results file describes: the NEST node ids of its populations, the weight
snapshots before and after training (as lists of connections or as dense matrices), and Adam's
per-synapse state.

Projections (eprop/config/projections.py): `in_rec` input -> recurrent, `rec_rec` recurrent ->
recurrent, `rec_out` recurrent -> readout, `out_rec` readout -> recurrent (the feedback weights).
A snapshot lists only the existing connections (no autapses; with `weights.<projection>.sparsity`,
only the pairs its mask kept). Weights are in pA.
"""

from __future__ import annotations

from typing import overload

import numpy as np

from eprop.config.projections import PROJECTIONS
from eprop.errors import ResultsError
from eprop.results.base import ResultsBase

STAGES = ("initial", "final")  # the weight snapshots: before the first iteration, at the end of the run


class ConnectivityReader(ResultsBase):
    """Populations and weights of one file (part of `Results`)."""

    def neurons(self, population: str) -> np.ndarray:
        """The NEST node ids of a population, int64, in the order of the weight matrices' rows and columns.

        Args:
            population: "input", "recurrent" or "readout".

        Raises:
            KeyError: The file has no such population (see `population` for an empty array instead).
        """
        return self.dataset(f"neurons/{population}")[()]

    def population(self, name: str) -> np.ndarray:
        """The NEST node ids (int64) of population `name` ("input", "recurrent", "readout"), like
        `neurons`, but an empty array if the file lacks it."""
        if "neurons" in self.file and name in self.file["neurons"]:
            return self.neurons(name)
        return np.zeros(0, dtype="i8")

    def input_pixels(self) -> np.ndarray | None:
        """Event-camera tasks (N-MNIST): /input_pixel, the pixel of each input neuron (in /neurons/input
        order) as polarity * 34 * 34 + y * 34 + x; None if the file has none."""
        return np.asarray(self.file["input_pixel"][()], dtype=np.int64) if "input_pixel" in self.file else None

    @property
    def weight_stages(self) -> list[str]:
        """The weight snapshots in the file: "initial" (before training) and, once the run ended, "final"."""
        return list(self.file["weights"].keys())

    def weight_projections(self, stage: str) -> list[str]:
        """The projections of one weight snapshot, e.g. ["in_rec", "out_rec", "rec_out", "rec_rec"].

        Args:
            stage: "initial" or "final".

        Returns:
            The projection names; [] if the file lacks the snapshot.
        """
        if stage not in self.weight_stages:
            return []
        return list(self.file["weights"][stage].keys())

    def connections(self, projection: str, when: str = "final") -> dict[str, np.ndarray]:
        """The connections of a projection as the file stores them, sorted by (source, target).

        Args:
            projection: "in_rec", "rec_rec", "rec_out" or "out_rec".
            when: "initial" (before training) or "final" (at the end of the run, pending updates applied).

        Returns:
            {"source": NEST node ids (int64), "target": NEST node ids (int64), "weight": weights in pA
            (float64)}, one element per existing connection.

        Raises:
            ValueError: `projection` or `when` is not one of the names above.
            ResultsError: The file holds no such snapshot (e.g. no "final" weights: the run was
                killed) or not this projection in it.
        """
        self._check_snapshot(projection, when)
        return self._connections(when, projection)

    def _connections(self, stage: str, projection: str) -> dict[str, np.ndarray]:
        return {
            name: self.dataset(f"weights/{stage}/{projection}/{name}")[()] for name in ("source", "target", "weight")
        }

    @overload
    def weights(self, projection: str, /, *, when: str = "final") -> np.ndarray: ...

    @overload
    def weights(self, stage: str, projection: str, /) -> dict[str, np.ndarray]: ...

    def weights(self, projection: str, legacy: str | None = None, /, *, when: str = "final"):
        """The weight matrix of a projection before or after training.

        Args:
            projection: "in_rec", "rec_rec", "rec_out" or "out_rec".
            when: "initial" (before training) or "final" (at the end of the run, pending updates applied).

        Returns:
            A float64 array of shape (n_target, n_source) in pA: element [i, j] is the weight from the
            j-th neuron of the source population to the i-th of the target population (the order of
            `neurons(...)`), NaN where there is no connection (autapses, pairs a sparse projection
            left out); `connected(when, projection)` is the same as a boolean mask.

            The older form `weights(stage, projection)`, two positional arguments with the stage
            first, returns the connections as stored: `connections(projection, when=stage)`.

        Raises:
            ValueError: `projection` or `when` is not one of the names above.
            ResultsError: The file holds no such snapshot (e.g. no "final" weights: the run was
                killed) or not this projection in it.
        """
        if legacy is not None:  # weights(stage, projection): the connections as stored
            if projection not in STAGES:
                raise ValueError(
                    f"weights({projection!r}, {legacy!r}): give weights(projection, when=...) or "
                    f"weights(stage, projection) with a stage in {STAGES}"
                )
            return self._connections(projection, legacy)
        self._check_snapshot(projection, when)
        return self.weight_matrix(when, projection, missing=np.nan)

    def _check_snapshot(self, projection: str, when: str) -> None:
        if when not in STAGES:
            raise ValueError(f"when={when!r}: valid: {', '.join(STAGES)}")
        if projection not in PROJECTIONS:
            raise ValueError(f"projection {projection!r}: valid: {', '.join(PROJECTIONS)}")
        if projection not in self.weight_projections(when):
            status = self.file.attrs.get("status", "unknown")
            raise ResultsError(f"{self.path}: holds no {when} weights of {projection} (status {status})")

    def weight_matrix(self, stage: str, projection: str, missing: float = 0.0) -> np.ndarray:
        """A weight snapshot as a dense matrix (what `weights(projection, when=stage)` returns, with NaN).

        Args:
            stage: "initial" or "final".
            projection: "in_rec", "rec_rec", "rec_out" or "out_rec".
            missing: The value (pA) where the file lists no connection (autapses, sparse projections).

        Returns:
            A float64 array of shape (n_target, n_source) in pA, indexed by position in the populations.

        Raises:
            KeyError: The file holds no such snapshot or projection.
        """
        sources = self.neurons(PROJECTIONS[projection].source)
        targets = self.neurons(PROJECTIONS[projection].target)
        w = self._connections(stage, projection)
        matrix = np.full((len(targets), len(sources)), missing, dtype=np.float64)
        matrix[np.searchsorted(targets, w["target"]), np.searchsorted(sources, w["source"])] = w["weight"]
        return matrix

    def connected(self, stage: str, projection: str) -> np.ndarray:
        """Where a projection has synapses: a boolean (n_target, n_source) matrix, True where the snapshot
        lists a connection (the mask of the NaNs in `weights(projection, when=stage)`).

        Args:
            stage: "initial" or "final".
            projection: "in_rec", "rec_rec", "rec_out" or "out_rec".
        """
        sources = self.neurons(PROJECTIONS[projection].source)
        targets = self.neurons(PROJECTIONS[projection].target)
        ids = {name: self.dataset(f"weights/{stage}/{projection}/{name}")[()] for name in ("source", "target")}
        present = np.zeros((len(targets), len(sources)), dtype=bool)
        present[np.searchsorted(targets, ids["target"]), np.searchsorted(sources, ids["source"])] = True
        return present

    def optimizer_state(self) -> dict[str, dict[str, np.ndarray]]:
        """Adam's per-synapse state at the end of the run: projection -> {"source", "target" (NEST node
        ids), "m", "v" (first and second moment, as NEST holds them)}; {} if the file holds none."""
        if "optimizer" not in self.file:
            return {}
        return {
            projection: {key: group[key][()] for key in group} for projection, group in self.file["optimizer"].items()
        }

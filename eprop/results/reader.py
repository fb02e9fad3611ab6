"""Reading a results file: `open_results(path)` and the `Results` it returns.

`Results` is everything a notebook needs without h5py or the layout: the loss and a classifier's
accuracy per iteration (`loss`, `to_pandas()`, the parent chain of a resumed run included), spikes,
readout signals, weight matrices, the resolved config and the provenance of the run. Its parts
live in iterations.py, history.py, events.py and connectivity.py; this module adds what the root
attributes say about the run. The reader never imports NEST and reads only the slices it is asked
for; a file that is still being written reads as its finished iterations.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from eprop.results.events import EventsReader
from eprop.results.history import HistoryReader

if TYPE_CHECKING:
    from omegaconf import DictConfig

# Root attributes that say where a run came from and how it ran (`Results.provenance`); JSON ones decoded.
PROVENANCE = (
    "eprop_version",
    "git_commit",
    "package_versions",
    "nest_version",
    "nest_build_info",
    "seed",
    "numpy_seed",
    "nest_rng_seed",
    "total_num_virtual_procs",
    "local_num_threads",
    "overrides",
    "parent_run",
    "first_iteration",
    "started",
    "finished",
    "timing_build_s",
    "timing_simulate_s",
    "timing_write_s",
    "timing_total_s",
    "peak_rss_mb",
)
JSON_ATTRIBUTES = ("package_versions", "nest_build_info", "overrides")


class Results(HistoryReader, EventsReader):
    """One results file, opened for reading: use `open_results(path)`, preferably in a `with` block.

    `n_iter_done` is read once, when the file is opened; every accessor reads up to it, so a file
    that is still being written is seen as one consistent prefix of finished iterations.

    Iterations: arrays of this file (`loss`, `phases()`, ...) have one element per finished iteration
    of this file; `iteration=` arguments are 0-based indices into them (negative from the end).
    `to_pandas()` numbers iterations 1-based over the whole training, a resumed run's parents
    included, as `eprop eval` and the figures do. Units: times in ms, weights in pA, firing rates in
    spikes/s, the loss in mV² (regression) or 1 (cross-entropy); `units(path)` gives any dataset's.

    Example:
        >>> with open_results("outputs/2026-01-01/12-00-00") as res:
        ...     df = res.to_pandas()
        ...     w = res.weights("rec_rec")  # pA, NaN where there is no synapse
    """

    def __repr__(self) -> str:
        if not self.file.id.valid:
            return f"<Results {str(self.path)!r} (closed)>"
        resumed = f" after {self.first_iteration} of its parent runs" if self.first_iteration else ""
        return (
            f"<Results {str(self.path)!r}: {self.task_name or 'unknown task'}, status {self.status}, "
            f"{self.n_iter_done} iterations{resumed}>"
        )

    @property
    def status(self) -> str:
        """How the run ended: "complete", "interrupted", "diverged", "failed", or "running" (still being
        written, or killed); "unknown" for a file without the attribute."""
        return str(self.file.attrs.get("status", "unknown"))

    @cached_property
    def _config_data(self) -> dict[str, Any]:
        return yaml.safe_load(self.file.attrs.get("config_yaml", "{}")) or {}

    @property
    def config(self) -> DictConfig:
        """The run's resolved config (every `${...}` replaced by its value), as an OmegaConf `DictConfig`:
        `res.config.task.n_iter`, `res.config["optimizer"]["eta"]`; `OmegaConf.to_container` gives plain
        Python containers. A new copy on every access; empty for a file without the config."""
        from omegaconf import OmegaConf

        return OmegaConf.create(self._config_data)

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the run came from and how it ran, from the root attributes the file has.

        Keys (those the file holds): eprop_version, git_commit ("" outside a git checkout),
        package_versions (dict), nest_version, nest_build_info (dict), seed, numpy_seed,
        nest_rng_seed, total_num_virtual_procs, local_num_threads, overrides (list), parent_run,
        first_iteration, started and finished (local time, ISO 8601 to the second),
        timing_build_s, timing_simulate_s, timing_write_s, timing_total_s (s), peak_rss_mb (MB).
        """
        attrs = self.attrs
        out = {}
        for key in PROVENANCE:
            if key in attrs:
                out[key] = self.attr_json(key) if key in JSON_ATTRIBUTES else attrs[key]
        return out

    @property
    def task_name(self) -> str | None:
        """The run's task name from its config, e.g. "handwriting"; None if the config does not say."""
        try:
            return str(self._config_data["task"]["name"])
        except (KeyError, TypeError):
            return None

    @property
    def overrides(self) -> list[str]:
        """The command line's overrides of the run, e.g. ["task=evidence_accumulation", "seed=3"]."""
        return list(self.attr_json("overrides", []) or [])

    @property
    def readout_loss(self) -> str:
        """The loss the readouts minimise: "cross_entropy" or "mean_squared_error".

        From the run config's neuron.readout.loss; a classification file whose config does not say
        (older files) is cross-entropy (the bsshslm_2020 classifier), every other file the squared error.
        A null loss (eprop_readout, the event-based family, has no loss parameter) is the squared error.
        """
        try:
            readout = self._config_data["neuron"]["readout"]
            if "loss" in readout:
                return "cross_entropy" if readout["loss"] == "cross_entropy" else "mean_squared_error"
        except (KeyError, TypeError):
            pass
        return "cross_entropy" if self.task_kind == "classification" else "mean_squared_error"

    @property
    def display(self) -> dict[str, Any]:
        """How the task's signals are shown (root attribute display, JSON), e.g. {"y_axis_down": true}.

        Files written before the attribute existed: the handwriting task's y axis points down.
        """
        shown = self.attr_json("display")
        if isinstance(shown, dict):
            return shown
        return {"y_axis_down": True} if self.task_name == "handwriting" else {}


def open_results(path: str | Path) -> Results:
    """Open a results file for reading.

    Args:
        path: A results file, or a run directory (its results.h5, the file its config's
            output.file names, or its only eprop results file).

    Returns:
        The open `Results`; close it (or use `with open_results(path) as res:`).

    Raises:
        ResultsError: No such file; not HDF5 or truncated; not an eprop results file; a schema
            version this eprop does not read; several results files in the directory. The message
            is one line naming the path, as `eprop eval` and `eprop plot` print it.
    """
    return Results._open(path)

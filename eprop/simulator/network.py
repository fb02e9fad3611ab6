"""Handles to the NEST objects of one built network (`Network`), as build.py creates them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eprop.config.projections import PROJECTIONS
from eprop.config.timing import Timing


@dataclass
class Network:
    """Handles to the NEST objects of one built network."""

    timing: Timing
    gen_spk_in: Any
    nrns_in: Any
    nrns_rec: Any
    nrns_out: Any
    gen_rate_target: Any
    gen_final: Any
    gen_window: Any = None  # the learning-window step_rate_generator (event-based family), or None
    recorders: dict[str, Any] = field(default_factory=dict)
    recorder_fields: dict[str, list[str]] = field(default_factory=dict)
    eprop_models: tuple[str, ...] = ()

    @property
    def populations(self) -> dict[str, Any]:
        return {"input": self.nrns_in, "recurrent": self.nrns_rec, "readout": self.nrns_out}

    @property
    def projections(self) -> dict[str, tuple[Any, Any]]:
        """(source, target) NodeCollections of each projection of projections.PROJECTIONS."""
        pops = self.populations
        return {name: (pops[p.source], pops[p.target]) for name, p in PROJECTIONS.items()}

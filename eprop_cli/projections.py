"""The four projections of an e-prop network: name, source and target population, plastic or not."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Projection:
    name: str
    source: str  # population: input, recurrent or readout
    target: str
    plastic: bool  # an e-prop synapse (learned) or the fixed feedback connection


PROJECTIONS: dict[str, Projection] = {
    p.name: p
    for p in (
        Projection("in_rec", "input", "recurrent", True),
        Projection("rec_rec", "recurrent", "recurrent", True),
        Projection("rec_out", "recurrent", "readout", True),
        Projection("out_rec", "readout", "recurrent", False),
    )
}

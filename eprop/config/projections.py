"""The four projections of the e-prop network: name, source and target population, plastic or not.

The one table that every module reads instead of listing the projections itself. Weights are
(n_target, n_source) matrices in pA; a projection whose source and target are the same
population has no autapses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Projection:
    name: str
    source: str  # population: "input", "recurrent" or "readout"
    target: str
    plastic: bool  # an e-prop synapse (trained); out_rec is the fixed feedback (learning-signal) connection


PROJECTIONS: dict[str, Projection] = {
    p.name: p
    for p in (
        Projection("in_rec", "input", "recurrent", True),
        Projection("rec_rec", "recurrent", "recurrent", True),
        Projection("rec_out", "recurrent", "readout", True),
        Projection("out_rec", "readout", "recurrent", False),
    )
}

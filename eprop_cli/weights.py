"""Weights of a previous run, as the matrices a new network is built from.

`load_final_weights(path)` reads `/weights/final` of a results file (or of the results.h5 in
a run directory) and returns, for each projection, a (n_target, n_source) matrix in pA,
indexed by position in the populations: the same layout as `signals.draw_weights`. Pairs
that were not connected (the autapses of rec_rec) are 0. It never imports NEST.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import UserError
from .projections import PROJECTIONS
from .results import open_results


def load_weights(path: str | Path, stage: str = "final") -> dict[str, np.ndarray]:
    """One weight snapshot (`stage`: "initial" or "final") of a results file, per projection."""
    with open_results(path) as res:
        if stage not in res.weight_stages:
            raise UserError(
                f"{res.path}: has no /weights/{stage} (the run did not finish; status {res.status}); "
                f"stages present: {', '.join(res.weight_stages) or 'none'}"
            )
        matrices = {}
        for projection in PROJECTIONS:
            try:
                matrices[projection] = np.asarray(res.weight_matrix(stage, projection), dtype=np.float64)
            except KeyError:
                raise UserError(f"{res.path}: /weights/{stage}/{projection} is missing")
        return matrices


def load_final_weights(path: str | Path) -> dict[str, np.ndarray]:
    """The final weights of a previous run: {projection: (n_target, n_source) matrix in pA}."""
    return load_weights(path, "final")

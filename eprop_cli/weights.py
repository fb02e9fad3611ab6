"""The weights a network is built from: drawn (draws 1-4), scaled, or loaded from a previous run.

Every weight set is a dict {projection: (n_target, n_source) matrix in pA}, indexed by
position in the populations (see projections.py). Pairs that are not connected (the
autapses of rec_rec) are 0.

Draws 1-4 of the run's `np.random.RandomState(seed)` (the task's draws follow, see tasks/):

1. initial weights in->rec   randn(n_in, n_rec).T / sqrt(n_in)
2. initial weights rec->rec  randn(n_rec, n_rec).T / sqrt(n_rec), diagonal set to 0 (no autapses)
3. initial weights rec->out  randn(n_rec, n_out).T / sqrt(n_rec)
4. feedback weights out->rec randn(n_rec, n_out) / sqrt(n_rec)

with `weights.<projection>.init: normal_fan_in` (the default). Each projection's draw has the
shape given (source-major for 1-3, (n_rec, n_out) for 4) whatever its init, so changing the
init of one projection leaves the draws of the others in place:

- normal_fan_in   randn(shape) / sqrt(n_source)            (n_rec for out->rec, as the seeds)
- normal          randn(shape), not scaled                 (NEST's classification scripts' feedback)
- glorot_uniform  uniform(-L, L, shape), L = sqrt(3 / max(1, (n_source + n_target) / 2))
                  (Keras' Glorot uniform, NEST's classification scripts' rec->out)

The scalings (`weights.<projection>.scale`, `.divide_by`) are applied after all draws, in
the weight dtype; weights loaded with `weights.load` replace the drawn ones, which are still
drawn so that the task's draws stay the same. No NEST.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from .errors import UserError
from .projections import PROJECTIONS
from .results import open_results


def draw_matrix(rng: np.random.RandomState, init: str, shape: tuple[int, int], fan_in: int, fan_out: int) -> np.ndarray:
    """One projection's draw of SHAPE (float64) with the given init (see the module docstring)."""
    if init == "normal_fan_in":
        return rng.randn(*shape) / np.sqrt(fan_in)
    if init == "normal":
        return rng.randn(*shape)
    if init == "glorot_uniform":
        limit = np.sqrt(3.0 / max(1.0, (fan_in + fan_out) / 2.0))
        return rng.uniform(low=-limit, high=limit, size=shape)
    raise UserError(f"weights init={init}: must be one of normal_fan_in, normal, glorot_uniform")


def draw_weights(rng: np.random.RandomState, n_in: int, n_rec: int, n_out: int, dtype: str = "float32",
                 inits: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Initial weights (draws 1-4), each as a (n_target, n_source) matrix in pA; INITS per projection (default normal_fan_in)."""
    inits = {name: "normal_fan_in" for name in PROJECTIONS} | dict(inits or {})
    w_in_rec = np.array(draw_matrix(rng, inits["in_rec"], (n_in, n_rec), n_in, n_rec).T, dtype=dtype)
    w_rec_rec = np.array(draw_matrix(rng, inits["rec_rec"], (n_rec, n_rec), n_rec, n_rec).T, dtype=dtype)
    np.fill_diagonal(w_rec_rec, 0.0)
    w_rec_out = np.array(draw_matrix(rng, inits["rec_out"], (n_rec, n_out), n_rec, n_out).T, dtype=dtype)
    # the feedback is drawn (n_rec, n_out) = (target, source) and scaled by n_rec, as in the seeds
    w_out_rec = np.array(draw_matrix(rng, inits["out_rec"], (n_rec, n_out), n_rec, n_out), dtype=dtype)
    return {"in_rec": w_in_rec, "rec_rec": w_rec_rec, "rec_out": w_rec_out, "out_rec": w_out_rec}


def scale_weights(weights: dict[str, np.ndarray], init_cfg) -> dict[str, np.ndarray]:
    """Multiply each drawn projection by `scale`, then divide by `divide_by`, in its own dtype.

    Both are done in the weight dtype (a python float meets a float32 array as float32), so
    a scale of 1 leaves the weights bit for bit unchanged, and `divide_by: x` equals the NEST
    scripts' `w /= x`, which `scale: 1/x` would not.
    """
    scaled = {}
    for name, w in weights.items():
        cfg = init_cfg[name]
        scaled[name] = (w * float(cfg.scale)) / float(cfg.divide_by)
    return scaled


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


def replace_with_loaded(path: str | Path, drawn: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The final weights of the run at `path` (`weights.load`), each of the shape of the drawn one."""
    loaded = load_final_weights(path)
    for name, w in loaded.items():
        if w.shape != drawn[name].shape:
            raise UserError(
                f"weights.load={path}: {name} is {w.shape[0]}x{w.shape[1]} (targets x sources), "
                f"this network needs {drawn[name].shape[0]}x{drawn[name].shape[1]}"
            )
    return loaded


def as_connections(weights: Mapping[str, np.ndarray], populations: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """The connections a network builds from the weight matrices: per projection, source, target
    and weight sorted by (source, target), as the results file stores them.

    `populations` maps each population to its node ids. No autapses; float32 weights are
    stored exactly as doubles, so this equals reading the built network's weights back.
    """
    out = {}
    for name, projection in PROJECTIONS.items():
        matrix = weights[name]  # (n_target, n_source)
        pre, post = np.asarray(populations[projection.source]), np.asarray(populations[projection.target])
        sources, targets = np.meshgrid(pre, post, indexing="xy")
        keep = sources != targets  # NEST makes no autapses
        order = np.lexsort((targets[keep], sources[keep]))
        out[name] = {
            "source": sources[keep][order],
            "target": targets[keep][order],
            "weight": matrix.astype(np.float64)[keep][order],
        }
    return out

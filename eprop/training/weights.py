"""The weights a network is built from: drawn (draws 1-4), masked (draws 5-8, sparse
connectivity), scaled, or loaded from a previous run.

Every weight set is a dict {projection: (n_target, n_source) matrix in pA}, indexed by
position in the populations (see projections.py). Pairs that are not connected (the
autapses of rec_rec, the pairs a mask removes) are 0. Which pairs are connected is a second
dict {projection: mask}: None for all to all (no autapses), else a boolean (n_target, n_source)
matrix, True where a connection is made (its rec_rec diagonal is False).

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

Draws 5-8: connection masks (sparse connectivity), one per projection whose
`weights.<projection>.sparsity` is set, in the order in_rec, rec_rec, rec_out, out_rec, after
all four weight draws and before the task's draws:

5. mask in->rec    choice(2, (n_rec, n_in),   p=[s, 1 - s])   s = weights.in_rec.sparsity
6. mask rec->rec   choice(2, (n_rec, n_rec),  p=[s, 1 - s])   s = weights.rec_rec.sparsity
7. mask rec->out   choice(2, (n_out, n_rec),  p=[s, 1 - s])   s = weights.rec_out.sparsity
8. mask out->rec   choice(2, (n_rec, n_out),  p=[s, 1 - s])   s = weights.out_rec.sparsity

Each mask has its matrix's (n_target, n_source) shape and keeps a pair where it drew 1 (so a
fraction s of the pairs is removed on average); `choice` with these probabilities draws one
`random_sample` per pair, so a mask costs n_target * n_source uniform draws whatever s is.
`sparsity: null` (the default) draws no mask and connects all to all, so a run without sparsity
draws, builds and computes exactly what it did before the field existed. `sparsity: 0` draws a
mask that keeps every pair; NEST's N-MNIST example does that for rec->out (its levels: in->rec
0.75, rec->rec 0.99, rec->out 0, out->rec none), so its draws are those of
`weights.in_rec.sparsity=0.75 weights.rec_rec.sparsity=0.99 weights.rec_out.sparsity=0`.
The task's draws follow the last mask drawn (they are numbered 5, ... in the task modules,
which count a run without masks). The removed pairs' weights are set to 0 and the rec_rec
diagonal stays unconnected; simulator/build.py connects the kept pairs one to one, row by row
(target-major, as numpy's nonzero lists them).

A mask that removes every input->recurrent connection, or every recurrent->readout connection
of one readout neuron (which then cannot learn), is refused with one line naming the key.

The scalings (`weights.<projection>.scale`, `.divide_by`) are applied after all draws, in
the weight dtype. Weights loaded with `weights.load` replace the drawn ones, which are still
drawn (masks included) so that the task's draws stay the same; the network then has exactly
the loaded run's connections. With `weights.<projection>.sparsity` set, the loaded connections
of that projection must be those the mask drew (as in a resumed run); a projection without it
takes the loaded run's connections, dense or sparse. No NEST.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from eprop.config.projections import PROJECTIONS
from eprop.errors import UserError
from eprop.results import open_results, results_file_in


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


def draw_weights(
    rng: np.random.RandomState,
    n_in: int,
    n_rec: int,
    n_out: int,
    dtype: str = "float32",
    inits: Mapping[str, str] | None = None,
) -> dict[str, np.ndarray]:
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


def draw_masks(
    rng: np.random.RandomState, weights: Mapping[str, np.ndarray], sparsities: Mapping[str, float | None]
) -> dict[str, np.ndarray | None]:
    """Connection masks (draws 5-8): per projection None (sparsity null: all to all, nothing
    drawn) or a boolean (n_target, n_source) matrix drawn with the weight matrix's shape that
    removes a fraction `sparsity` of the pairs; the rec_rec diagonal is False (no autapses)."""
    masks: dict[str, np.ndarray | None] = {}
    for name, projection in PROJECTIONS.items():  # in_rec, rec_rec, rec_out, out_rec
        level = sparsities.get(name)
        if level is None:
            masks[name] = None
            continue
        level = float(level)
        kept = rng.choice(2, size=weights[name].shape, p=[level, 1.0 - level]).astype(bool)
        if projection.source == projection.target:
            np.fill_diagonal(kept, False)
        masks[name] = kept
    return masks


def dense_mask(name: str, shape: tuple[int, int]) -> np.ndarray:
    """The pairs an all-to-all projection connects: every pair but the autapses of rec_rec."""
    full = np.ones(shape, dtype=bool)
    if PROJECTIONS[name].source == PROJECTIONS[name].target:
        np.fill_diagonal(full, False)
    return full


def connected(name: str, shape: tuple[int, int], mask: np.ndarray | None) -> np.ndarray:
    """The connected pairs of projection NAME as a boolean (n_target, n_source) matrix."""
    return dense_mask(name, shape) if mask is None else np.asarray(mask, dtype=bool)


def apply_masks(weights: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray | None]) -> dict[str, np.ndarray]:
    """The weights with every pair a mask removes set to 0 (dtype kept; unmasked projections unchanged)."""
    out = {}
    for name, w in weights.items():
        mask = masks.get(name)
        out[name] = w if mask is None else np.where(mask, w, np.zeros((), dtype=w.dtype))
    return out


def check_masks(masks: Mapping[str, np.ndarray | None], sparsities: Mapping[str, float | None]) -> None:
    """Refuse connectivity that cannot train: no input reaches the network, or a readout neuron
    has no input (its signal stays at rest whatever the training does)."""
    in_rec, rec_out = masks.get("in_rec"), masks.get("rec_out")
    if in_rec is not None and not in_rec.any():
        raise UserError(
            f"weights.in_rec.sparsity={sparsities.get('in_rec')}: the mask keeps none of the "
            f"{in_rec.size} input->recurrent connections; lower the sparsity or change the seed"
        )
    if rec_out is not None:
        empty = np.flatnonzero(~rec_out.any(axis=1))
        if empty.size:
            raise UserError(
                f"weights.rec_out.sparsity={sparsities.get('rec_out')}: the mask leaves readout neuron "
                f"{int(empty[0])} (of {rec_out.shape[0]}, counted from 0) without recurrent input, so it "
                f"cannot learn; lower the sparsity or change the seed"
            )


def _stage_or_error(res, stage: str) -> None:
    if stage not in res.weight_stages:
        raise UserError(
            f"{res.path}: has no /weights/{stage} (the run did not finish; status {res.status}); "
            f"stages present: {', '.join(res.weight_stages) or 'none'}"
        )


def load_weights(path: str | Path, stage: str = "final") -> dict[str, np.ndarray]:
    """One weight snapshot (`stage`: "initial" or "final") of a results file, per projection
    (pairs without a connection are 0)."""
    return load_connections(path, stage)[0]


def load_connections(path: str | Path, stage: str = "final") -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One weight snapshot of a results file: (weight matrices in pA, 0 where not connected;
    boolean matrices, True where the file lists a connection), per projection."""
    with open_results(path) as res:
        _stage_or_error(res, stage)
        matrices, present = {}, {}
        for projection in PROJECTIONS:
            try:
                matrices[projection] = np.asarray(res.weight_matrix(stage, projection), dtype=np.float64)
                present[projection] = res.connected(stage, projection)
            except KeyError:
                raise UserError(f"{res.path}: /weights/{stage}/{projection} is missing")
        return matrices, present


def load_final_weights(path: str | Path) -> dict[str, np.ndarray]:
    """The final weights of a previous run: {projection: (n_target, n_source) matrix in pA}."""
    return load_weights(path, "final")


def check_weights_source(load: str | None) -> None:
    """`weights.load` names a results file, or a run directory holding one (whatever its name).

    Checked with the config, before the run directory is used (training.train calls it right after
    validate); the file's shapes are checked when it is read (replace_with_loaded).
    """
    if load is None:
        return
    path = Path(load).expanduser()
    if not (path.is_file() or (path.is_dir() and results_file_in(path) is not None)):
        raise UserError(f"weights.load={load}: no such results file (give a results.h5 or a run directory holding one)")


def replace_with_loaded(
    path: str | Path,
    drawn: dict[str, np.ndarray],
    masks: Mapping[str, np.ndarray | None] | None = None,
    sparsities: Mapping[str, float | None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray | None]]:
    """The final weights and connections of the run at `path` (`weights.load`): (weights, masks).

    Each matrix must have the drawn one's shape. A projection with a drawn mask keeps it if the
    loaded run has exactly those connections and is refused otherwise; one without takes the
    loaded run's connections (None if they are all to all).
    """
    masks = dict(masks or {})
    sparsities = dict(sparsities or {})
    loaded, present = load_connections(path, "final")
    for name, w in loaded.items():
        if w.shape != drawn[name].shape:
            raise UserError(
                f"weights.load={path}: {name} is {w.shape[0]}x{w.shape[1]} (targets x sources), "
                f"this network needs {drawn[name].shape[0]}x{drawn[name].shape[1]}"
            )
    out_masks: dict[str, np.ndarray | None] = {}
    for name in PROJECTIONS:
        full = dense_mask(name, loaded[name].shape)
        file_mask = None if np.array_equal(present[name], full) else present[name]
        drawn_mask = masks.get(name)
        if drawn_mask is None:
            out_masks[name] = file_mask
        elif np.array_equal(connected(name, full.shape, file_mask), drawn_mask):
            out_masks[name] = drawn_mask
        else:
            raise UserError(
                f"weights.load={path}: its {name} has {int(present[name].sum())} connections, not the "
                f"{int(drawn_mask.sum())} that weights.{name}.sparsity={sparsities.get(name)} drew here; "
                f"set weights.{name}.sparsity=null to take the loaded run's connections"
            )
    return loaded, out_masks


def as_connections(
    weights: Mapping[str, np.ndarray],
    populations: Mapping[str, np.ndarray],
    masks: Mapping[str, np.ndarray | None] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """The connections a network builds from the weight matrices: per projection, source, target
    and weight sorted by (source, target), as the results file stores them.

    `populations` maps each population to its node ids; `masks` the connected pairs of the
    sparse projections (see draw_masks; missing or None: all to all). No autapses; float32
    weights are stored exactly as doubles, so this equals reading the built network's weights back.
    """
    masks = masks or {}
    out = {}
    for name, projection in PROJECTIONS.items():
        matrix = weights[name]  # (n_target, n_source)
        pre, post = np.asarray(populations[projection.source]), np.asarray(populations[projection.target])
        sources, targets = np.meshgrid(pre, post, indexing="xy")
        keep = connected(name, matrix.shape, masks.get(name))
        order = np.lexsort((targets[keep], sources[keep]))
        out[name] = {
            "source": sources[keep][order],
            "target": targets[keep][order],
            "weight": matrix.astype(np.float64)[keep][order],
        }
    return out

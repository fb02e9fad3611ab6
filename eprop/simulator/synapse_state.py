"""The connections as NEST holds them: final weights and the optimizer state (Adam's m and v), read and set.

Read with one GetConnections per projection, in blocks of STATUS_BLOCK connections (one `get`
each), and sorted by (source, target).
"""

from __future__ import annotations

import numpy as np

from eprop.config.projections import PROJECTIONS
from eprop.errors import UserError
from eprop.simulator.kernel import nest
from eprop.simulator.network import Network

# Connections per status read. NEST builds every connection's whole status dictionary whatever
# keys are asked (about 3.4 kB each in Python, 10 µs to make), so reading the 39 800 recurrent
# synapses at once raised the peak memory at the end of a run by about 140 MB; blocks of 4096
# cost about 14 MB and the same time.
STATUS_BLOCK = 4096


def _blocks(conns):
    """The SynapseCollection `conns` in consecutive slices of at most STATUS_BLOCK connections."""
    for start in range(0, len(conns), STATUS_BLOCK):
        yield conns[start : start + STATUS_BLOCK]


def _read_status(conns, plastic: bool) -> dict[str, np.ndarray]:
    """source, target, weight (and the optimizer's m and v where NEST has them) of every connection, in NEST's order."""
    keys = ["source", "target", "weight", "optimizer"] if plastic else ["source", "target", "weight"]
    columns: dict[str, list[np.ndarray]] = {
        "source": [np.zeros(0, dtype=np.int64)],
        "target": [np.zeros(0, dtype=np.int64)],
        "weight": [np.zeros(0)],
    }
    for block in _blocks(conns):
        values = block.get(keys)
        for key in ("source", "target", "weight"):
            columns.setdefault(key, []).append(np.atleast_1d(np.asarray(values[key])))
        if plastic:
            moments = values["optimizer"]
            moments = [moments] if isinstance(moments, dict) else moments
            for key in ("m", "v"):
                if key in moments[0]:
                    columns.setdefault(key, []).append(np.array([entry[key] for entry in moments], dtype=np.float64))
    return {key: np.concatenate(parts) for key, parts in columns.items()}


def read_weights(net: Network) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, np.ndarray]]]:
    """Every projection's connections as NEST holds them now, and the optimizer state NEST exposes.

    Returns (weights, optimizer state), each per projection and sorted by (source, target):
    weights as source, target, weight; the state as source, target and Adam's m and v (empty
    for optimizers without readable state, such as gradient descent). One GetConnections per
    projection; the values are read in blocks of STATUS_BLOCK connections (one `get` each).
    """
    n = nest()
    weights, state = {}, {}
    for projection, (pre, post) in net.projections.items():
        status = _read_status(n.GetConnections(pre, post), PROJECTIONS[projection].plastic)
        order = np.lexsort((status["target"], status["source"]))
        source, target = status["source"][order], status["target"][order]
        weights[projection] = {"source": source, "target": target, "weight": status["weight"][order]}
        moments = [key for key in ("m", "v") if key in status]
        if moments:
            state[projection] = {"source": source, "target": target, **{key: status[key][order] for key in moments}}
    return weights, state


def set_optimizer_state(net: Network, state: dict[str, dict[str, np.ndarray]]) -> None:
    """Set the optimizer state returned by `read_weights` (same populations and connections)."""
    n = nest()
    for projection in (name for name, p in PROJECTIONS.items() if p.plastic):
        saved = state.get(projection)
        if saved is None:
            continue
        pre, post = net.projections[projection]
        conns = n.GetConnections(pre, post)
        ids = _read_status(conns, plastic=False)
        source, target = ids["source"], ids["target"]
        order = np.lexsort((target, source))
        if not (np.array_equal(saved["source"], source[order]) and np.array_equal(saved["target"], target[order])):
            raise UserError(
                f"resume: the parent's {projection} optimizer state does not match this network's connections"
            )
        keys = [k for k in ("m", "v") if k in saved]
        values = {key: np.empty(len(order)) for key in keys}
        for key in keys:
            values[key][order] = saved[key]
        for start, block in zip(range(0, len(conns), STATUS_BLOCK), _blocks(conns)):
            rows = range(start, start + len(block))
            block.set([{"optimizer": {key: float(values[key][i]) for key in keys}} for i in rows])

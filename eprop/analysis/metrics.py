"""Numbers that say how one run went: losses (recomputed and checked against /loss), firing
rates, weight changes, durations.

Every function here takes an open `Results` and returns plain data; nothing prints. It reads
the file through `Results` methods only and never imports NEST. The classification summaries
are in classification.py, the run summary `eprop eval` reports (`summarize_run`) in summary.py.

Conventions:
    iterations are 0-based in arguments and arrays, 1-based in what a person reads
    (`min_loss_iteration` is 1-based, like the x axis of the loss figure);
    times are in ms, firing rates in spikes/s, weights in pA.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eprop.config.projections import PROJECTIONS
from eprop.errors import UserError
from eprop.results import Results

LOSS_FIELDS = ("senders", "readout_signal", "target_signal")
TIMING_KEYS = ("timing_build_s", "timing_simulate_s", "timing_write_s")


def iteration_duration_ms(results: Results) -> float:
    """Duration of one iteration in ms: batch_size sequences of steps_per_sequence * resolution_ms."""
    attrs = results.attrs
    try:
        return float(attrs.get("batch_size", 1)) * float(attrs["steps_per_sequence"]) * float(attrs["resolution_ms"])
    except KeyError as missing:
        raise UserError(f"{results.path}: attribute {missing} is missing; cannot compute durations") from None


# ---------------------------------------------------------------- loss


def recompute_loss(results: Results) -> np.ndarray:
    """The loss per output and iteration, recomputed from the readout's recorded signals.

    E_k(iteration) = 0.5 * sum_t (y_k(t) - y*_k(t))^2 over the multimeter_out samples of readout
    neuron k in that iteration, the same definition the runner uses for /loss_per_output.
    Returns an (n_out, n_iterations) array, outputs in the order of /neurons/readout; NaN in
    the iterations whose events the recording schedule left out.
    Raises UserError if multimeter_out lacks readout_signal or target_signal.
    """
    if not results.has_fields("multimeter_out", LOSS_FIELDS):
        raise UserError(f"{results.path}: multimeter_out with readout_signal and target_signal is not recorded")
    starts = results.iteration_starts("multimeter_out")
    recorded = results.recorded_iterations("multimeter_out")
    readouts = results.population("readout")
    n_iter = len(starts) - 1
    if readouts.size == 0 and recorded.size:  # no /neurons/readout: outputs in order of their ids
        readouts = np.unique(results.events("multimeter_out", ["senders"], iteration=int(recorded[0]))["senders"])
    loss = np.zeros((len(readouts), n_iter))
    offset = 0
    for block in results.iter_event_blocks("multimeter_out", LOSS_FIELDS, stop=int(starts[-1])):
        n = len(block["senders"])
        iteration = np.searchsorted(starts, offset + np.arange(n), side="right") - 1
        output = np.searchsorted(readouts, block["senders"])
        known = (output < len(readouts)) & (readouts[np.minimum(output, len(readouts) - 1)] == block["senders"])
        squared = 0.5 * (block["readout_signal"] - block["target_signal"]) ** 2
        np.add.at(loss, (output[known], iteration[known]), squared[known])
        offset += n
    loss[:, np.setdiff1d(np.arange(n_iter), recorded)] = np.nan  # no events: nothing to recompute
    return loss / float(results.attrs.get("batch_size", 1))  # /loss averages over a batch's sequences


def max_relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|b|, tiny) over all elements (0.0 for empty arrays)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.abs(b), np.finfo(float).tiny)
    return float(np.max(np.abs(a - b) / scale))


def recompute_cross_entropy(results: Results) -> np.ndarray:
    """Classification: the cross-entropy per output and iteration from the recorded readout signals.

    -mean over the batch's sequences and the last `learning_window_steps` steps of each sequence
    of y*_k log y_k: the runner's /loss_per_output for a classification task (/loss is their sum).
    NaN in the iterations whose events the recording schedule left out.
    """
    return _window_loss(results, lambda y, t, n_out: 0.0 - np.mean(t * np.log(y)))  # 0.0 -: no -0 for a zero target


def recompute_window_squared_error(results: Results) -> np.ndarray:
    """Classification with squared-error readouts (event-based family, N-MNIST): the loss per output and
    iteration from the recorded readout signals, as NEST's N-MNIST example computes it.

    0.5 * sum over the last `learning_window_steps` steps of each sequence of (y_k - y*_k)^2, mean over the
    iteration's sequences, divided by the number of outputs: the terms whose sum is the example's loss
    (0.5 * mean over outputs and sequences of the window's sum of squares). NaN in the iterations whose
    events the recording schedule left out.
    """
    return _window_loss(results, lambda y, t, n_out: 0.5 * np.mean(np.sum((y - t) ** 2, axis=1)) / n_out)


def _window_loss(results: Results, term) -> np.ndarray:
    """(outputs, iterations) of term(y, y*, n_outputs) over the learning windows of each recorded
    iteration (y, y*: (sequence, window step) of one output); NaN where the events were not written."""
    attrs = results.attrs
    sequence, window = int(attrs["steps_per_sequence"]), int(attrs["learning_window_steps"])
    readouts = results.population("readout")
    n_iter = len(results.iteration_starts("multimeter_out")) - 1
    loss = np.full((len(readouts), n_iter), np.nan)
    for k in results.recorded_iterations("multimeter_out").tolist():
        ev = results.events("multimeter_out", LOSS_FIELDS, iteration=k)
        for i, node in enumerate(readouts):
            mine = ev["senders"] == node
            y = ev["readout_signal"][mine].reshape(-1, sequence)[:, -window:]
            t = ev["target_signal"][mine].reshape(-1, sequence)[:, -window:]
            loss[i, k] = term(y, t, len(readouts))
    return loss


def loss_check(results: Results) -> float | None:
    """Max relative disagreement of the recomputed loss with /loss (and with /loss_per_output),
    over the iterations whose events are in the file (`Results.recorded_iterations`).

    None if the readout signals were not recorded (or no iteration kept its events).
    """
    if not results.has_fields("multimeter_out", LOSS_FIELDS):
        return None
    if results.task_kind != "classification":
        recomputed = recompute_loss(results)
    elif results.readout_loss == "cross_entropy":
        recomputed = recompute_cross_entropy(results)
    else:
        recomputed = recompute_window_squared_error(results)
    stored_per_output, stored_total = results.loss_per_output, results.loss
    n = min(recomputed.shape[1], len(stored_total))
    checked = results.recorded_iterations("multimeter_out")
    checked = checked[checked < n]
    if checked.size == 0:
        return None
    diff = max_relative_difference(recomputed[:, checked].sum(axis=0), stored_total[checked])
    if recomputed.shape[0] == stored_per_output.shape[0]:
        diff = max(diff, max_relative_difference(recomputed[:, checked], stored_per_output[:, checked]))
    return diff


def loss_summary(loss: np.ndarray, first_iteration: int = 0) -> dict[str, Any]:
    """First, final and minimum loss, the (1-based) iteration of the minimum, relative reduction.

    `loss[0]` is iteration `first_iteration` (0-based) of the training, so that a resumed run's
    minimum is numbered like its parents' iterations.
    """
    if len(loss) == 0:
        return {
            "first_loss": None,
            "final_loss": None,
            "min_loss": None,
            "min_loss_iteration": None,
            "relative_loss_reduction": None,
        }
    first, final = float(loss[0]), float(loss[-1])
    finite = np.isfinite(loss).any()  # a run whose every loss is NaN (diverged) has no minimum
    best = int(np.nanargmin(np.where(np.isfinite(loss), loss, np.nan))) if finite else 0
    return {
        "first_loss": first,
        "final_loss": final,
        "min_loss": float(loss[best]) if finite else None,
        "min_loss_iteration": first_iteration + best + 1 if finite else None,
        "relative_loss_reduction": 1.0 - final / first if first != 0 else None,
    }


# ---------------------------------------------------------------- firing rates


def firing_rates(results: Results, iteration: int = -1) -> np.ndarray:
    """Firing rate of every recurrent neuron in one iteration, in spikes/s.

    Counts the spike_recorder's spikes of the ids in /neurons/recurrent (other senders, such as
    input parrot neurons, are ignored) and divides by the iteration's duration
    steps_per_sequence * resolution_ms. Neurons that never spiked have rate 0. The result is
    ordered like /neurons/recurrent.
    """
    recurrent = np.sort(results.population("recurrent"))
    if recurrent.size == 0:
        raise UserError(f"{results.path}: /neurons/recurrent is missing or empty")
    if "spike_recorder" not in results.recorders:
        raise UserError(f"{results.path}: spike_recorder is not recorded")
    senders = results.events("spike_recorder", ["senders"], iteration=iteration)["senders"]
    index = np.searchsorted(recurrent, senders)
    is_recurrent = (index < recurrent.size) & (recurrent[np.minimum(index, recurrent.size - 1)] == senders)
    counts = np.bincount(index[is_recurrent], minlength=recurrent.size)
    rates_sorted = counts / (iteration_duration_ms(results) / 1000.0)
    order = np.argsort(np.argsort(results.population("recurrent"), kind="stable"), kind="stable")
    return rates_sorted[order]


def rate_summary(rates: np.ndarray) -> dict[str, Any]:
    """Mean and distribution (min, 5/25/50/75/95th percentiles, max) of firing rates in spikes/s."""
    if rates.size == 0:
        return {}
    p5, p25, p50, p75, p95 = np.percentile(rates, [5, 25, 50, 75, 95])
    return {
        "rate_mean": float(rates.mean()),
        "rate_min": float(rates.min()),
        "rate_p5": float(p5),
        "rate_p25": float(p25),
        "rate_median": float(p50),
        "rate_p75": float(p75),
        "rate_p95": float(p95),
        "rate_max": float(rates.max()),
        "n_silent": int(np.count_nonzero(rates == 0)),
        "n_recurrent": int(rates.size),
    }


def target_rate(results: Results) -> float | None:
    """The regularization's target firing rate f_target of the recurrent neurons, in spikes/s."""
    try:
        return float(results.config["neuron"]["rec"]["f_target"])
    except (KeyError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------- weights


def weight_change_norms(results: Results) -> dict[str, dict[str, float]]:
    """Per projection: Frobenius norm of W_final - W_initial (pA) and of W_initial (pA).

    Only projections present in both the initial and the final snapshot are reported.
    """
    stages = results.weight_stages
    if "initial" not in stages or "final" not in stages:
        return {}
    in_both = set(results.weight_projections("initial")) & set(results.weight_projections("final"))
    out = {}
    for projection in PROJECTIONS:
        if projection in in_both:
            w0 = results.weight_matrix("initial", projection)
            w1 = results.weight_matrix("final", projection)
            out[projection] = {"change": float(np.linalg.norm(w1 - w0)), "initial": float(np.linalg.norm(w0))}
    return out

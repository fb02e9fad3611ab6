"""When a training has blown up, and when it only looks unwell (one warning line).

A run ends as `diverged` when (`DivergenceCheck`, after every iteration):

- the loss of an output is NaN or infinite;
- a recorded value is NaN or infinite: the weight recorder's weights, or a recurrent
  multimeter variable (V_m, ...): NaN weights never learn anything back;
- the recurrent layer is saturated: its mean rate in the iteration exceeds
  recording.saturated_rate (default 0.9) x the maximal rate, i.e. nearly every neuron spikes
  nearly every step (max_rate). Without recorded recurrent spikes (recording.spikes_recurrent=false)
  this is not checked;
- after the run, a final weight is NaN or infinite (`weights_not_finite`).

Not a divergence, one warning line each (a busy or a silent network can be legitimate):

- a mean recurrent rate above BUSY_FRACTION (0.2) of the maximal rate (and not above
  saturated_rate): NEST's own e-prop scripts run networks at 22% of it; said once per run;
- a recurrent layer that did not spike in the run's last iteration (a network is often silent in
  its first iterations; one that is silent at the end has not learnt through its recurrent layer).
"""

from __future__ import annotations

import logging

import numpy as np

from eprop.config.timing import Timing

log = logging.getLogger(__name__)

BUSY_FRACTION = 0.2  # of the maximal rate: a warning line above it (it was the divergence bound before issue 19)


def max_rate(cfg) -> float:
    """The highest firing rate a recurrent neuron can have, in spikes/s: one spike per step, none within t_ref."""
    return 1000.0 / max(float(cfg.kernel.resolution), float(cfg.neuron.rec.t_ref))


def recurrent_rate(spikes: dict[str, np.ndarray], recurrent_ids: np.ndarray, timing: Timing) -> float:
    """Mean recurrent firing rate of an iteration in spikes/s: recorded recurrent spikes / neurons / duration."""
    n_spikes = np.count_nonzero(np.isin(spikes["senders"], recurrent_ids))
    return n_spikes / recurrent_ids.size / (timing.ms(timing.iteration) / 1000.0)


def divergence(
    cfg,
    loss: np.ndarray,
    spikes: dict[str, np.ndarray] | None,
    recurrent_ids: np.ndarray,
    timing: Timing,
    events: dict[str, dict[str, np.ndarray]] | None = None,
) -> str | None:
    """What blew up in one iteration, or None (see the module docstring); `events`: the iteration's
    recorder events, whose weights and recurrent variables are checked for NaN and inf."""
    bad = loss[~np.isfinite(loss)]
    if bad.size:
        return f"loss is {bad[0]}"
    for recorder, fields in (("weight_recorder", ("weights",)), ("multimeter_rec", None)):
        recorded = (events or {}).get(recorder) or {}
        for name in fields or [f for f in recorded if f not in ("senders", "targets", "times")]:
            values = np.asarray(recorded.get(name, ()), dtype=float)
            if values.size and not np.all(np.isfinite(values)):
                what = "recorded weight" if recorder == "weight_recorder" else f"recorded recurrent {name}"
                return f"a {what} is {values[~np.isfinite(values)][0]}"
    if spikes is None or not cfg.recording.spikes_recurrent:
        return None
    rate = recurrent_rate(spikes, recurrent_ids, timing)
    limit = cfg.recording.saturated_rate * max_rate(cfg)
    if rate > limit:
        return (
            f"mean recurrent rate {rate:.4g} spikes/s exceeds recording.saturated_rate={cfg.recording.saturated_rate:g} "
            f"x {max_rate(cfg):.4g} spikes/s (the maximal rate)"
        )
    return None


def weights_not_finite(weights: dict[str, dict[str, np.ndarray]]) -> str | None:
    """What is wrong with final weights (per projection: source, target, weight) that are NaN or infinite, or None."""
    for projection, connections in weights.items():
        w = np.asarray(connections["weight"], dtype=float)
        bad = ~np.isfinite(w)
        if bad.any():
            return f"{np.count_nonzero(bad)} of {w.size} final {projection} weights are {w[bad][0]}"
    return None


class DivergenceCheck:
    """`divergence` after every iteration, and the warning lines of a busy or a silent network.

    `check(k, loss, events)` returns what blew up in iteration k (counted over the whole training), or None;
    `at_end()` says (one warning line) whether the recurrent layer was silent in the last iteration checked.
    """

    def __init__(self, cfg, recurrent_ids: np.ndarray, timing: Timing) -> None:
        self.cfg, self.recurrent_ids, self.timing = cfg, recurrent_ids, timing
        self.warned_busy = False
        self.silent_since: int | None = None  # first iteration of the silence that lasts until now
        self.last: int | None = None

    def check(self, k: int, loss: np.ndarray, events: dict[str, dict[str, np.ndarray]]) -> str | None:
        spikes = events.get("spike_recorder")
        what = divergence(self.cfg, loss, spikes, self.recurrent_ids, self.timing, events)
        if what or spikes is None or not self.cfg.recording.spikes_recurrent:
            return what
        self.last = k
        rate = recurrent_rate(spikes, self.recurrent_ids, self.timing)
        top = max_rate(self.cfg)
        if rate > BUSY_FRACTION * top and not self.warned_busy:
            self.warned_busy = True
            log.warning(
                "mean recurrent rate %.4g spikes/s in iteration %d (%.0f%% of the maximal %.4g spikes/s): "
                "a busy network; the run goes on (it ends as diverged above recording.saturated_rate=%g of it)",
                rate,
                k + 1,
                100.0 * rate / top,
                top,
                self.cfg.recording.saturated_rate,
            )
        if rate == 0.0:
            self.silent_since = k if self.silent_since is None else self.silent_since
        else:
            self.silent_since = None
        return None

    def at_end(self) -> str | None:
        """The warning line of a recurrent layer silent in the last iteration checked (logged), or None."""
        if self.silent_since is None or self.last is None:
            return None
        since = "" if self.silent_since == self.last else f" (silent since iteration {self.silent_since + 1})"
        message = (
            f"no recurrent neuron spiked in iteration {self.last + 1}, the run's last{since}: the network "
            "is silent and cannot learn through its recurrent layer; check neuron.rec.V_th, the input and the weights"
        )
        log.warning(message)
        return message

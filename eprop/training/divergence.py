"""When a training has blown up: a loss that is not finite, or a saturated recurrent firing rate."""

from __future__ import annotations

import numpy as np

from eprop.config.timing import Timing


def max_rate(cfg) -> float:
    """The highest firing rate a recurrent neuron can have, in spikes/s: one spike per step, none within t_ref."""
    return 1000.0 / max(float(cfg.kernel.resolution), float(cfg.neuron.rec.t_ref))


def divergence(
    cfg, loss: np.ndarray, spikes: dict[str, np.ndarray] | None, recurrent_ids: np.ndarray, timing: Timing
) -> str | None:
    """What blew up in one iteration, or None.

    - the loss of an output is NaN or infinite;
    - the mean recurrent firing rate of the iteration (recorded recurrent spikes / neurons /
      iteration duration) exceeds recording.saturated_rate x max_rate(cfg). Without recorded
      recurrent spikes (recording.spikes_recurrent=false) only the loss is checked.
    """
    bad = loss[~np.isfinite(loss)]
    if bad.size:
        return f"loss is {bad[0]}"
    if spikes is None or not cfg.recording.spikes_recurrent:
        return None
    n_spikes = np.count_nonzero(np.isin(spikes["senders"], recurrent_ids))
    rate = n_spikes / recurrent_ids.size / (timing.ms(timing.iteration) / 1000.0)
    limit = cfg.recording.saturated_rate * max_rate(cfg)
    if rate > limit:
        return (
            f"mean recurrent rate {rate:.4g} spikes/s exceeds recording.saturated_rate={cfg.recording.saturated_rate:g} "
            f"x {max_rate(cfg):.4g} spikes/s (the maximal rate)"
        )
    return None

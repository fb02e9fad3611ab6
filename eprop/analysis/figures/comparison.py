"""The multirun comparison: the loss curves of all jobs overlaid, labelled by the overrides that
differ between jobs.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from eprop.analysis.figures.style import (
    PALETTE,
    TWO_COLUMNS,
    FigureUnavailable,
    house_style,
    new_figure,
    spans_decades,
    viridis,
)
from eprop.analysis.metrics import parse_overrides


def loss_comparison_figure(
    curves: list[tuple[str, np.ndarray]],
    best: int | None = None,
    log: bool | None = False,
    title: str = "",
    first_iterations: list[int] | None = None,
    ylabel: str = "loss $E$",
) -> Figure:
    """Total loss per iteration of several jobs overlaid; `best` (an index) is drawn thicker.

    `first_iterations[j]`: 0-based iteration of curve j's first value (a resumed job's history
    that starts late); `log=None` chooses the axis from the data as `loss_figure` does. `title`: the
    overrides every job shares; `ylabel`: the loss with its unit (`plot.jobs_loss_label`).
    """
    if not curves:
        raise FigureUnavailable("no job finished an iteration")
    n = len(curves)
    firsts = first_iterations or [0] * n
    if log is None:
        log = spans_decades(np.concatenate([np.asarray(loss, float) for _, loss in curves]))
    with house_style():
        fig = new_figure(TWO_COLUMNS, 2.8)
        ax = fig.add_subplot()
        for j, (label, loss) in enumerate(curves):
            color = PALETTE[j % len(PALETTE)] if n <= len(PALETTE) else viridis(j / max(n - 1, 1))
            is_best = j == best
            ax.plot(
                np.arange(firsts[j] + 1, firsts[j] + len(loss) + 1),
                loss,
                c=color,
                lw=2.0 if is_best else 1.0,
                label=f"{label} (best)" if is_best else label,
                zorder=3 if is_best else 2,
            )
        ax.set_xlabel("training iteration")
        ax.set_ylabel(ylabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if log:
            ax.set_yscale("log")
        if title:
            ax.set_title(f"every job: {title}", loc="left")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), ncols=1 if n <= 16 else 2)
    return fig


# Overrides that change no number of a run (how it shows progress, where and how it writes): not worth a
# title when every job shares them (a varying one still names its jobs in the legend)
NO_EFFECT_KEYS = ("progress", "output", "hydra", "kernel.print_time", "kernel.weight_recorder_model")


def affects_results(key: str) -> bool:
    """False for an override key that changes nothing the run computes (NO_EFFECT_KEYS and their sub-keys)."""
    key = key.replace("/", ".")
    return not any(key == k or key.startswith(k + ".") for k in NO_EFFECT_KEYS)


def override_labels(overrides: list[list[str]]) -> tuple[list[str], str]:
    """Per-job legend labels from the overrides that differ between jobs, and the common ones that
    matter (`affects_results`: not `progress=false`, `hydra.*`, `output.*`, ...)."""
    parsed = [parse_overrides(o) for o in overrides]
    keys = [k for k in dict.fromkeys(k for p in parsed for k in p)]
    varying = [k for k in keys if len({p.get(k) for p in parsed}) > 1]
    common = [
        f"{k}={parsed[0][k]}" for k in keys if k not in varying and all(k in p for p in parsed) and affects_results(k)
    ]
    labels = [", ".join(f"{k}={p[k]}" for k in varying if k in p) or "(no overrides)" for p in parsed]
    return labels, ", ".join(common)

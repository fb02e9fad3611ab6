"""The pattern figure: the readout y against the target y* in the first and the last iteration
(a trajectory in the plane of two outputs, or one output against time).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from eprop.analysis.figures.style import (
    BLUE,
    ONE_COLUMN,
    RED,
    TWO_COLUMNS,
    FigureUnavailable,
    first_and_last,
    house_style,
    iteration_of,
    new_figure,
    readout_ids,
    require_iterations,
)
from eprop.results import Results

PLANE_XLABEL = r"$y_0$, $y^*_0$ (mV)"
PLANE_YLABEL = r"$y_1$, $y^*_1$ (mV)"
Y_DOWN_NOTE = "\naxis inverted: grows downward"  # said where the axis is, so nobody reads the trace upside down


def pattern_figure(results: Results) -> Figure:
    """Readout y against target y* in the first and the last iteration whose events are in the file
    (under a recording schedule, the first and the last recorded one).

    Two or more outputs: the plane (y_0, y_1), one panel per iteration, target in blue (a line)
    and readout in red (one dot per sample, not joined): the readout starts at 0 in every
    sequence, and a line would draw a straight stroke from (0, 0) into the trajectory; dots show
    that transient for what it is, sparse samples on the way in. The y axis points down when the
    file's `display` says so (`y_axis_down`, the handwriting task: as in the handwriting data), and its
    label says so. Readout and target in mV (NEST's readout signals).
    One output: y(t) and y*(t) against time since the iteration's first sample (ms).
    Iterations are numbered over the whole training (a resumed run's parents included).
    """
    recorded = require_iterations(results, "multimeter_out")
    if not {"readout_signal", "target_signal"} <= set(results.fields("multimeter_out")):
        raise FigureUnavailable("multimeter_out lacks readout_signal or target_signal")
    ids = readout_ids(results)
    iterations = first_and_last(recorded)
    per_iteration = []
    for k in iterations:
        signals = results.readout_signals(iteration=k)  # one row per readout, in the order of ids
        outputs = [
            {"times": signals.times, "readout_signal": signals.readout[j], "target_signal": signals.target[j]}
            for j in range(len(ids))
        ]
        per_iteration.append((k, outputs))
    y_axis_down = bool(results.display.get("y_axis_down"))
    first, n_total = results.first_iteration, results.first_iteration + results.n_iter_done
    with house_style():
        if len(ids) >= 2:
            xlim, ylim = plane_limits([o[:2] for _, o in per_iteration])
            aspect = (xlim[1] - xlim[0]) / (ylim[1] - ylim[0])
            panel_height = 2.3  # inches
            width = min(TWO_COLUMNS, max(ONE_COLUMN, len(iterations) * panel_height * aspect + 1.0))
            fig = new_figure(width, panel_height + 1.1)  # room for the legend below
            axes = fig.subplots(1, len(iterations), squeeze=False)[0]
            if y_axis_down:
                ylim = ylim[::-1]  # e.g. handwriting coordinates: y points down
            for ax, (k, outputs) in zip(axes, per_iteration):
                ax.plot(
                    outputs[0]["target_signal"],
                    outputs[1]["target_signal"],
                    c=BLUE,
                    lw=2.0,
                    alpha=0.6,
                    label="target $y^*$",
                )
                ax.plot(
                    outputs[0]["readout_signal"],
                    outputs[1]["readout_signal"],
                    c=RED,
                    ls="",
                    marker=".",
                    ms=2.0,
                    mew=0,
                    label="readout $y$ (one dot per sample;\nstarts at 0 in each sequence)",
                )
                ax.set_title(iteration_of(results, first + k + 1, n_total))
                ax.set_xlabel(PLANE_XLABEL)
                ax.set_ylabel(PLANE_YLABEL + (Y_DOWN_NOTE if y_axis_down else ""))
                ax.set_xlim(*xlim)
                ax.set_ylim(*ylim)
                ax.set_aspect("equal", adjustable="box")
            fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, markerscale=4)
        else:
            fig = new_figure(ONE_COLUMN, 1.4 * len(iterations) + 0.6)
            axes = fig.subplots(len(iterations), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
            for ax, (k, outputs) in zip(axes, per_iteration):
                t = outputs[0]["times"] - outputs[0]["times"][0] if len(outputs[0]["times"]) else outputs[0]["times"]
                ax.plot(t, outputs[0]["target_signal"], c=BLUE, label="target $y^*$")
                ax.plot(t, outputs[0]["readout_signal"], c=RED, label="readout $y$")
                ax.set_title(iteration_of(results, first + k + 1, n_total))
                ax.set_ylabel(r"$y$, $y^*$ (mV)")
            axes[-1].set_xlabel("time since iteration start (ms)")
            axes[0].legend(loc="best")
    return fig


def plane_limits(pairs: list[list[dict[str, np.ndarray]]], margin: float = 0.05) -> tuple[tuple, tuple]:
    """Common x and y limits of (output 0, output 1) readout and target curves, with a margin."""

    def span(values: list[np.ndarray]) -> tuple[float, float]:
        values = [v[np.isfinite(v)] for v in values if v.size]
        values = [v for v in values if v.size]
        if not values:
            return (-1.0, 1.0)
        lo, hi = min(float(v.min()) for v in values), max(float(v.max()) for v in values)
        pad = margin * (hi - lo) if hi > lo else 1.0
        return (lo - pad, hi + pad)

    xs = [o[0][f] for o in pairs for f in ("readout_signal", "target_signal")]
    ys = [o[1][f] for o in pairs for f in ("readout_signal", "target_signal")]
    return span(xs), span(ys)

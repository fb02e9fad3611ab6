"""The figures of a classification run: cross-entropy and error per iteration (NEST's
evidence-accumulation example), the confusion matrix, the readout probabilities per class.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..results import Results
from .style import BLUE, ONE_COLUMN, PALETTE, RED, TWO_COLUMNS, FigureUnavailable, house_style, new_figure, spans_decades


def classification_loss_figure(results: Results, log: bool | None = False) -> Figure:
    """Classification: cross-entropy (top) and error = 1 - accuracy (bottom) per iteration, as NEST's example."""
    loss = results.loss
    if len(loss) == 0 or results.accuracy is None:
        raise FigureUnavailable("no iteration finished")
    error = 1.0 - np.asarray(results.accuracy, dtype=float)
    iterations = np.arange(results.first_iteration + 1, results.first_iteration + len(loss) + 1)
    with house_style():
        fig = new_figure(ONE_COLUMN, 3.2)
        top, bottom = fig.subplots(2, 1, sharex=True)
        top.plot(iterations, loss, c=BLUE)
        top.set_ylabel(r"loss $E = -\sum_k \pi^*_k \log \pi_k$")
        if log or (log is None and spans_decades(loss)):
            top.set_yscale("log")
        bottom.plot(iterations, error, c=RED, marker=".", ms=3)
        bottom.set_ylabel("error (1 − accuracy)")
        bottom.set_ylim(-0.02, 1.02)
        bottom.set_xlabel("iteration")
        bottom.xaxis.get_major_locator().set_params(integer=True)
    return fig


def confusion_figure(results: Results, last: int = 10) -> Figure:
    """Classification: counts of (label, predicted class) over the run's last LAST iterations."""
    labels, predicted = results.per_sequence("labels"), results.per_sequence("predicted")
    if labels is None or predicted is None or len(labels) == 0:
        raise FigureUnavailable("no iteration finished")
    labels, predicted = labels[-last:], predicted[-last:]
    n = int(results.attrs.get("n_out", 2))
    counts = np.zeros((n, n), dtype=int)
    np.add.at(counts, (labels.ravel(), predicted.ravel()), 1)
    names = _class_names(results, n)
    with house_style():
        fig = new_figure(ONE_COLUMN * 0.8, ONE_COLUMN * 0.8)
        ax = fig.add_subplot()
        ax.imshow(counts, cmap="Blues", vmin=0)
        for (i, j), c in np.ndenumerate(counts):
            ax.text(j, i, str(c), ha="center", va="center", color="black" if c < counts.max() * 0.6 else "white")
        ax.set_xticks(range(n), names)
        ax.set_yticks(range(n), names)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("label")
        ax.set_title(f"last {len(labels)} iterations ({labels.size} sequences)", loc="left", fontsize=6)
    return fig


def _class_names(results: Results, n: int) -> list[str]:
    names = results.display.get("classes")
    return list(names) if names and len(names) == n else [str(k) for k in range(n)]


def readout_probabilities_figure(results: Results) -> Figure:
    """Classification: softmax readout signal per class over the first sequence of the last iteration,
    target dashed, the learning (recall) window shaded."""
    recorded = results.recorded_iterations("multimeter_out")
    if recorded.size == 0:
        raise FigureUnavailable("no iteration of multimeter_out recorded")
    last = int(recorded[-1])  # the last iteration whose events are in the file
    ev = results.events("multimeter_out", ["senders", "times", "readout_signal", "target_signal"], iteration=last)
    sequence = int(results.attrs["steps_per_sequence"])
    window = int(results.attrs.get("learning_window_steps", sequence))
    readouts = results.population("readout")
    names = _class_names(results, len(readouts))
    colors = PALETTE
    with house_style():
        fig = new_figure(TWO_COLUMNS * 0.6, 2.2)
        ax = fig.add_subplot()
        for k, node in enumerate(readouts):
            mine = ev["senders"] == node
            t, y, target = ev["times"][mine][:sequence], ev["readout_signal"][mine][:sequence], ev["target_signal"][mine][:sequence]
            ax.plot(t, y, c=colors[k % len(colors)], label=f"$\\pi_{{{names[k]}}}$")
            ax.plot(t, target, c=colors[k % len(colors)], ls="--", lw=0.8)
        if len(t):
            ax.axvspan(t[-window], t[-1], color="#dddddd", zorder=0, label="recall window")
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("readout probability")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"iteration {results.first_iteration + last + 1}, first sequence (targets dashed)", loc="left", fontsize=6)
        ax.legend(loc="upper left")
    return fig

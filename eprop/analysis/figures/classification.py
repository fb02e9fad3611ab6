"""The figures of a classification run: cross-entropy and error per iteration coloured by phase
(NEST's evidence-accumulation example), the confusion matrix of the test phase, the readout
probabilities per class.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from eprop.analysis.figures.style import (
    BENEATH_NOTE,
    BLUE,
    ONE_COLUMN,
    PALETTE,
    RED,
    FigureUnavailable,
    beneath_widths,
    coinciding,
    house_style,
    iteration_start_ms,
    new_figure,
    spans_decades,
)
from eprop.analysis.metrics import final_iterations, phase_name, phase_names
from eprop.results import Results

# phase code -> (colour, marker): training, validation, early stopping, test (the example's blue, red, green, gold)
PHASE_STYLES = ((BLUE, "o"), (RED, "s"), ("#2a9d55", "^"), ("#e69f00", "D"))


def phase_style(code: int) -> tuple[str, str]:
    return PHASE_STYLES[code] if 0 <= code < len(PHASE_STYLES) else ("#555555", "x")


def classification_loss_figure(results: Results, log: bool | None = False) -> Figure:
    """Loss (top: the cross-entropy, or for squared-error readouts the squared error over the learning
    window) and error = 1 - accuracy (bottom) per iteration, one colour and marker per phase (training,
    validation, early stopping, test), as NEST's examples plot them. A resumed run shows its
    parents' iterations too (`Results.history_loss`), with a grey vertical line where each resumed
    run took over, as the loss figure does."""
    history = results.classification_history()
    loss = history.loss
    if len(loss) == 0 or history.accuracy is None:
        raise FigureUnavailable("no iteration finished")
    error = 1.0 - np.asarray(history.accuracy, dtype=float)[: len(loss)]
    iterations = np.arange(history.first_iteration + 1, history.first_iteration + len(loss) + 1)
    phases, names = history.phase, phase_names(results)
    with house_style():
        fig = new_figure(ONE_COLUMN * 1.25, 3.2)
        top, bottom = fig.subplots(2, 1, sharex=True)
        for ax, values in ((top, loss), (bottom, error)):
            ax.plot(iterations, values, c="#bbbbbb", lw=0.6, zorder=1)  # the order of the iterations
            for code in sorted(set(phases.tolist())):
                mine = phases == code
                color, marker = phase_style(code)
                label = f"{phase_name(names, code).replace('_', ' ')} ({np.count_nonzero(mine)})"
                ax.scatter(iterations[mine], values[mine], s=9, c=color, marker=marker, lw=0, zorder=2, label=label)
        if results.readout_loss == "cross_entropy":
            top.set_ylabel("cross-entropy loss\n" r"$E = -\frac{1}{BT}\sum_{b,t,k} \pi^*_k \log \pi_k$")
        else:  # squared-error readouts (event-based family, N-MNIST): NEST's example's loss over the learning window
            top.set_ylabel("squared error (mV$^2$)\n" r"$E = \frac{1}{2KB}\sum_{k,b,t} (y_k - y^*_k)^2$")
        if log or (log is None and spans_decades(loss)):
            top.set_yscale("log")
        for k, start in enumerate(history.resume_points):
            for ax in (top, bottom):
                ax.axvline(
                    start + 0.5,
                    c="#999999",
                    ls="-",
                    lw=0.6,
                    zorder=0,
                    label="resumed" if k == 0 and ax is top else None,
                )
        bottom.set_ylabel("error\n(1 − accuracy)")
        bottom.set_ylim(-0.04, 1.04)
        bottom.set_xlabel("iteration")
        bottom.xaxis.get_major_locator().set_params(integer=True)
        top.legend(
            title="phase (iterations)",
            loc="center left",
            bbox_to_anchor=(1.0, 0.0),
            fontsize=6,
            title_fontsize=6,
            handletextpad=0.2,
        )
    return fig


def confusion_figure(results: Results) -> Figure:
    """Counts of (label, predicted class) over the test phase's sequences; without a test phase over
    the last training iterations (metrics.final_iterations), as the title says. The colour is the
    fraction of a label's sequences (each row sums to 1, the diagonal is the recall of the class), so
    that rare classes read as well as frequent ones; the numbers are the counts (0 in grey). A tie (no
    prediction) has no cell: the title counts the ties, and a row with ties sums to less than 1; the
    accuracy counts them wrong, as `eprop eval` does."""
    labels, predicted = results.per_sequence("labels"), results.per_sequence("predicted")
    if labels is None or predicted is None or results.n_iter_done == 0:
        raise FigureUnavailable("no iteration finished")
    chosen = final_iterations(results)
    labels, predicted = labels[chosen.indices], predicted[chosen.indices]
    n = int(results.attrs.get("n_out", 2))
    counts = confusion_counts(labels, predicted, n)  # a tie (no prediction) has no cell
    per_label = np.bincount(np.ravel(labels), minlength=n)[:n, None]  # every sequence of the label, ties too
    fraction = counts / np.maximum(per_label, 1)
    names = _class_names(results, n)
    accuracy = np.trace(counts) / max(labels.size, 1)  # a tie is wrong, as in eval
    ties = labels.size - int(counts.sum())
    many = n > 4
    with house_style():
        fig = new_figure(ONE_COLUMN * (1.1 if many else 0.95), ONE_COLUMN * (1.0 if many else 0.8))
        ax = fig.add_subplot()
        image = ax.imshow(fraction, cmap="Blues", vmin=0.0, vmax=1.0)
        for (i, j), c in np.ndenumerate(counts):  # every cell, 0 too: an empty cell is a count, not a gap
            ax.text(
                j,
                i,
                str(c),
                ha="center",
                va="center",
                fontsize=5.5 if many else 7,
                color="white" if fraction[i, j] > 0.6 else ("black" if c else "#888888"),
            )
        ax.set_xticks(range(n), names)
        ax.set_yticks(range(n), names)
        ax.tick_params(length=0)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("label")
        tied = f" ({ties} {'tie' if ties == 1 else 'ties'}: no prediction, no cell)" if ties else ""
        ax.set_title(
            f"{chosen.description}:\n{labels.size} sequences{tied}, accuracy {accuracy:.3f}", loc="left", fontsize=6
        )
        bar = fig.colorbar(image, ax=ax, shrink=0.8, pad=0.03)
        bar.set_label("fraction of the label's sequences\n(numbers: counts)", fontsize=6)
        bar.ax.tick_params(labelsize=6)
    return fig


def confusion_counts(labels: np.ndarray, predicted: np.ndarray, n: int) -> np.ndarray:
    """(n, n) int: counts[label, predicted] over all sequences given."""
    counts = np.zeros((n, n), dtype=int)
    labels, predicted = np.ravel(labels), np.ravel(predicted)
    made = predicted >= 0  # a tie (-1, tasks/evidence_accumulation.py: NO_PREDICTION) predicts no class
    np.add.at(counts, (labels[made], predicted[made]), 1)
    return counts


def _class_names(results: Results, n: int) -> list[str]:
    names = results.display.get("classes")
    return list(names) if names and len(names) == n else [str(k) for k in range(n)]


def readout_probabilities_figure(results: Results) -> Figure:
    """Softmax readout signal per class around the learning (recall) window of the first sequence of the
    last recorded iteration (the window shaded, with the third of a window before it), targets dashed."""
    recorded = results.recorded_iterations("multimeter_out")
    if recorded.size == 0:
        raise FigureUnavailable("no iteration of multimeter_out recorded")
    last = int(recorded[-1])  # the last iteration whose events are in the file
    ev = results.events("multimeter_out", ["senders", "times", "readout_signal", "target_signal"], iteration=last)
    sequence = int(results.attrs["steps_per_sequence"])
    window = int(results.attrs.get("learning_window_steps", sequence))
    readouts = results.population("readout")
    names = _class_names(results, len(readouts))
    phases = results.phases()
    phase = phase_name(phase_names(results), int(phases[last])).replace("_", " ") if len(phases) > last else "?"
    colors = PALETTE
    with house_style():
        fig = new_figure(ONE_COLUMN, 2.2)
        ax = fig.add_subplot()
        shown = slice(max(0, sequence - window - window // 3), sequence)  # the window and the third of a window before
        origin = iteration_start_ms(results, float(ev["times"].min())) if len(ev["times"]) else 0.0
        curves = []
        for node in readouts:
            mine = ev["senders"] == node
            t, y, target = (ev[name][mine][:sequence][shown] for name in ("times", "readout_signal", "target_signal"))
            curves.append((t - origin, y, target))
        t = curves[-1][0] if curves else np.zeros(0)
        # readouts (or targets) that coincide, e.g. all 0 before the window: each drawn wider than the next
        beneath = coinciding([y for _, y, _ in curves]) or coinciding([target for _, _, target in curves])
        widths = beneath_widths(len(curves), 1.0, 0.9) if beneath else [1.0] * len(curves)
        for k, (tk, y, target) in enumerate(curves):
            color = colors[k % len(colors)]
            ax.plot(tk, y, c=color, lw=widths[k], label=f"$\\pi_\\mathrm{{{names[k]}}}$")
            ax.plot(tk, target, c=color, ls="--", lw=0.8 * widths[k])
        if len(t) >= window:
            step = float(results.attrs.get("resolution_ms", 1.0))  # the sample at t covers the step (t - step, t]
            ax.axvspan(t[-window] - step, t[-1], color="#dddddd", zorder=0, label="recall window")
            ax.set_xlim(t[0], t[-1])
        ax.set_xlabel("$t$ since iteration start (ms)")
        ax.set_ylabel("readout probability $\\pi_k$")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(
            f"iteration {results.first_iteration + last + 1} ({phase} phase), first sequence;\ntargets $\\pi^*_k$ dashed"
            + (f"; {BENEATH_NOTE}" if beneath else ""),
            loc="left",
            fontsize=6,
        )
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig

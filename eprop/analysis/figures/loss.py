"""The loss figure of one run: loss per training iteration, per output and in total (a resumed
run with its parents' iterations).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from eprop.analysis.figures.style import BLUE, ONE_COLUMN, FigureUnavailable, house_style, new_figure, spans_decades
from eprop.results import Results


def loss_figure(results: Results, log: bool | None = False) -> Figure:
    """Loss per training iteration: per output E_k (broken lines) and their sum E (solid; one output: E
    alone, E = E_0), in mV^2 (`loss_label`), the legend beside the axes.

    A resumed run shows its parents' iterations too (`Results.history_loss`), numbered over the
    whole training, with a thin grey vertical line where each resumed run took over. `log`: True
    or False forces the y axis; None chooses log when the loss spans more than LOG_DECADES decades.
    """
    history = results.history_loss()
    loss, per_output = history.loss, history.loss_per_output
    if len(loss) == 0:
        raise FigureUnavailable("no iteration finished")
    if log is None:
        log = spans_decades(loss)
    iterations = np.arange(history.first_iteration + 1, history.n_iter_done + 1)
    styles = ("--", ":", "-.", (0, (5, 1, 1, 1)))
    with house_style():
        fig = new_figure(ONE_COLUMN, 2.4)
        ax = fig.add_subplot()
        if len(per_output) > 1:  # one output: E_0 is E, and a second line would hide beneath it
            for k, curve in enumerate(per_output):
                ax.plot(iterations, curve, ls=styles[k % len(styles)], c=BLUE, alpha=0.8, label=f"$E_{k}$")
        ax.plot(iterations, loss, c=BLUE, label="$E$" if len(per_output) > 1 else "$E = E_0$")
        ax.set_xlabel("training iteration")
        ax.set_ylabel(loss_label(results))
        for k, start in enumerate(history.resume_points):
            ax.axvline(start + 0.5, c="#999999", ls="-", lw=0.6, label="resumed" if k == 0 else None)
        ax.set_xlim(history.first_iteration + 1, max(history.n_iter_done, history.first_iteration + 2))
        ax.xaxis.get_major_locator().set_params(integer=True)
        if log:
            ax.set_yscale("log")
        if history.note:  # the full reason is in eprop eval's warning
            ax.set_title(
                "earlier iterations unavailable (parent run file missing or unreadable)", loc="left", fontsize=6
            )
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))  # beside the axes: never over the curves
    return fig


SQUARED_ERROR_LABEL = "squared-error loss $E$ (mV$^2$)"


def loss_label(results: Results) -> str:
    """The y label of a regression run's loss: its name, unit and definition (/loss, tasks/trajectory.py): per
    output k, half the sum over a sequence's steps of (y_k - y*_k)^2, averaged over the batch's B sequences;
    E the sum over outputs."""
    try:
        batch = int(results.attrs.get("batch_size", 1))
    except (TypeError, ValueError):
        batch = 1
    if batch > 1:
        return SQUARED_ERROR_LABEL + "\n" + r"$E = \frac{1}{2B}\sum_{b,k,t}(y_k - y^*_k)^2$"
    return SQUARED_ERROR_LABEL + "\n" + r"$E = \frac{1}{2}\sum_{k,t}(y_k - y^*_k)^2$"

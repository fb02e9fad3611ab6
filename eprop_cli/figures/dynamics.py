"""The dynamics figures: stacked panels of spikes and recorded variables in one iteration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..results import Results
from .style import BLUE, PALETTE, TWO_COLUMNS, FigureUnavailable, house_style, new_figure, split_by_sender

@dataclass(frozen=True)
class Panel:
    recorder: str
    field: str  # a recorded field, or the population name for a spike raster
    ylabel: str
    raster: bool = False


DYNAMICS_PANELS = (
    Panel("spike_recorder", "input", "$z_i$\ninput\nneuron", raster=True),
    Panel("spike_recorder", "recurrent", "$z_j$\nrecurrent\nneuron", raster=True),
    Panel("multimeter_rec", "V_m", "$v_j$\n(mV)"),
    Panel("multimeter_rec", "surrogate_gradient", r"$\psi_j$"),
    Panel("multimeter_rec", "V_th_adapt", "$A_j$\n(mV)"),
    Panel("multimeter_rec", "learning_signal", "$L_j$\n(pA)"),
    Panel("multimeter_out", "V_m", "$v_k$\n(mV)"),
    Panel("multimeter_out", "target_signal", "$y^*_k$"),
    Panel("multimeter_out", "readout_signal", "$y_k$"),
    Panel("multimeter_out", "error_signal", "$y_k - y^*_k$"),
)


def dynamics_data(results: Results, iteration: int) -> list[tuple[Panel, Any]]:
    """The panels that have data in one iteration, with that data (one HDF5 slice per recorder).

    A raster's data is (times in ms, index of the neuron in its population); a trace's data is a
    list of (times in ms, values), one per recorded neuron. Input spikes appear only if the
    spike recorder recorded input neurons in this iteration (minimal recording does not).
    """
    panels: list[tuple[Panel, Any]] = []
    cache: dict[str, dict[str, np.ndarray]] = {}
    for panel in DYNAMICS_PANELS:
        if panel.recorder not in results.recorders:
            continue
        available = results.fields(panel.recorder)
        if panel.raster:
            if not {"senders", "times"} <= set(available):
                continue
            ids = np.sort(results.population(panel.field))
            if ids.size == 0:
                continue
            events = _cached_events(results, cache, panel.recorder, ("senders", "times"), iteration)
            index = np.searchsorted(ids, events["senders"])
            member = (index < ids.size) & (ids[np.minimum(index, ids.size - 1)] == events["senders"])
            if panel.field == "input" and not member.any():
                continue
            panels.append((panel, (events["times"][member], index[member])))
        else:
            if panel.field not in available:
                continue
            events = _cached_events(results, cache, panel.recorder, ("senders", "times", *_trace_fields(results, panel.recorder)), iteration)
            traces = []
            for sender in np.unique(events["senders"]):
                one = split_by_sender(events, sender, (panel.field,))
                traces.append((one["times"], one[panel.field]))
            if traces:
                panels.append((panel, traces))
    return panels


def _trace_fields(results: Results, recorder: str) -> tuple[str, ...]:
    wanted = {p.field for p in DYNAMICS_PANELS if p.recorder == recorder and not p.raster}
    return tuple(f for f in results.fields(recorder) if f in wanted)


def _cached_events(results, cache, recorder, fields, iteration):
    if recorder not in cache:
        cache[recorder] = results.events(recorder, fields, iteration=iteration)
    return cache[recorder]


def dynamics_figure(results: Results, iteration: int) -> Figure:
    """Stacked panels of spikes and recorded variables in one iteration: `iteration` indexes the
    iterations whose events are in the file (0: the first of them, -1: the last), so that under a
    recording schedule the figure shows a recorded iteration; the title gives its number.

    Panels, each only if recorded: input spikes, recurrent spikes, recurrent membrane voltage,
    surrogate gradient, adaptive threshold, learning signal, readout membrane voltage, target,
    readout, error. Rasters show a neuron's index within its population; time is absolute (ms).
    """
    recorders = [r for r in ("spike_recorder", "multimeter_rec", "multimeter_out") if r in results.recorders]
    if not recorders:
        raise FigureUnavailable("neither spikes nor multimeters were recorded")
    recorded = results.recorded_iterations(recorders[0])
    for r in recorders[1:]:
        recorded = np.intersect1d(recorded, results.recorded_iterations(r))
    if recorded.size == 0:
        raise FigureUnavailable("no finished iteration with events")
    index = int(recorded[iteration])
    panels = dynamics_data(results, index)
    if not panels:
        raise FigureUnavailable(f"no recorded data in iteration {index + 1}")
    heights = [1.6 if p.raster else 1.0 for p, _ in panels]
    with house_style():
        fig = new_figure(TWO_COLUMNS, 0.1 + 0.62 * sum(heights))
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
        t_min, t_max = math.inf, -math.inf
        for ax, (panel, data) in zip(axes, panels):
            if panel.raster:
                times, neuron = data
                ax.plot(times, neuron, ls="", marker="|", ms=1.5, mew=0.5, c=BLUE)
                spans = [times]
            else:
                for j, (times, values) in enumerate(data):
                    ax.plot(times, values, c=PALETTE[j % len(PALETTE)], lw=0.7)
                spans = [t for t, _ in data]
            for t in spans:
                if len(t):
                    t_min, t_max = min(t_min, float(t.min())), max(t_max, float(t.max()))
            ax.set_ylabel(panel.ylabel, rotation=0, ha="right", va="center")
        if math.isfinite(t_min) and t_max > t_min:
            axes[-1].set_xlim(t_min, t_max)
        axes[-1].set_xlabel("$t$ (ms)")
        first = results.first_iteration  # a resumed run: numbered over the whole training
        fig.suptitle(f"iteration {first + index + 1} of {first + results.n_iter_done}", fontsize=8)
        fig.align_ylabels(axes)
    return fig

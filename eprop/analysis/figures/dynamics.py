"""The dynamics figures: stacked panels of spikes and recorded variables in one iteration."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from eprop.analysis.classification import phase_names
from eprop.analysis.figures.style import (
    BENEATH_NOTE,
    BLUE,
    PALETTE,
    TWO_COLUMNS,
    FigureUnavailable,
    beneath_widths,
    coinciding,
    house_style,
    index_ticks,
    iteration_of,
    iteration_start_ms,
    new_figure,
    split_by_sender,
    trace_colors,
)
from eprop.results import Results
from eprop.results.iterations import phase_name


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
    Panel("multimeter_out", "target_signal", "$y^*_k$\n(mV)"),
    Panel("multimeter_out", "readout_signal", "$y_k$\n(mV)"),
    Panel("multimeter_out", "error_signal", "$y_k - y^*_k$\n(mV)"),
)


# a classification readout's signals are softmax probabilities: NEST's example names them pi
CLASSIFICATION_LABELS = {
    ("multimeter_out", "target_signal"): r"$\pi^*_k$",
    ("multimeter_out", "readout_signal"): r"$\pi_k$",
    ("multimeter_out", "error_signal"): r"$\pi_k - \pi^*_k$",
}


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
            events = _cached_events(
                results, cache, panel.recorder, ("senders", "times", *_trace_fields(results, panel.recorder)), iteration
            )
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


@dataclass(frozen=True)
class SequenceView:
    """Classification: the part of an iteration the dynamics figure shows, its first sequence (times in ms,
    as the readout multimeter stamps it) and that sequence's learning (recall) window."""

    start: float
    stop: float
    window: tuple[float, float]
    batch_size: int
    input_lead: float = 0.0  # ms by which the input spikes of a step precede the readout's sample of it


def first_sequence(results: Results, index: int) -> SequenceView | None:
    """The first sequence of iteration INDEX of a classification run, from the readout's samples; None for
    other runs or when the readout multimeter lacks the samples of a whole sequence."""
    if results.task_kind != "classification" or "multimeter_out" not in results.recorders:
        return None
    attrs = results.attrs
    sequence = int(attrs.get("steps_per_sequence", 0))
    window = int(results.display.get("learning_window_steps", attrs.get("learning_window_steps", sequence)))
    events = results.events("multimeter_out", ["senders", "times"], iteration=index)
    if sequence <= 0 or len(events["senders"]) == 0:
        return None
    times = np.sort(events["times"][events["senders"] == events["senders"][0]])
    if len(times) < sequence or not 0 < window <= sequence:
        return None
    step = float(attrs.get("resolution_ms", 1.0))
    return SequenceView(
        start=float(times[0]) - step,
        stop=float(times[sequence - 1]),
        window=(float(times[sequence - window]) - step, float(times[sequence - 1])),
        batch_size=int(attrs.get("batch_size", 1)),
        input_lead=input_lead_ms(results, step),
    )


def _earliest(panels: list) -> float:
    """The earliest time (ms) in the panels' data; inf if they hold none."""
    earliest = math.inf
    for panel, data in panels:
        for times in [data[0]] if panel.raster else [t for t, _ in data]:
            if len(times):
                earliest = min(earliest, float(np.min(times)))
    return earliest


def input_lead_ms(results: Results, step: float) -> float:
    """The readout samples a sequence's step i (the delays + 1) steps after the input spikes of step i
    (timing.Timing: input at offset_gen + i, readout at total_offset + i + 1); 0 if the config lacks the delays."""
    try:
        task = results.config["task"]
        return (int(task["delay_in_rec"]) + int(task["delay_rec_out"]) + int(task["delay_out_norm"]) + 1) * step
    except (KeyError, TypeError, ValueError):
        return 0.0


def input_groups(results: Results) -> list[tuple[str, int]]:
    """The input populations in the order of the input neurons, [(name, size), ...], from the task's
    `display` attribute `input_groups`; [] if the file does not say."""
    groups = results.display.get("input_groups") or []
    try:
        return [(str(name), int(size)) for name, size in groups]
    except (TypeError, ValueError):
        return []


def _draw_input_groups(ax, times: np.ndarray, neuron: np.ndarray, groups: list[tuple[str, int]]) -> None:
    """Input raster coloured by population, the populations named on the y axis."""
    edges = np.cumsum([0] + [size for _, size in groups])
    for g, (name, _) in enumerate(groups):
        mine = (neuron >= edges[g]) & (neuron < edges[g + 1])
        ax.plot(times[mine], neuron[mine], ls="", marker="|", ms=1.5, mew=0.5, c=PALETTE[g % len(PALETTE)])
        if g:
            ax.axhline(edges[g] - 0.5, c="#cccccc", lw=0.4, zorder=0)
    ax.set_yticks((edges[:-1] + edges[1:] - 1) / 2.0, [name for name, _ in groups])
    for label, g in zip(ax.get_yticklabels(), range(len(groups))):
        label.set_color(PALETTE[g % len(PALETTE)])
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(edges[-1] - 0.5, -0.5)  # the first population on top


def dynamics_figure(results: Results, iteration: int) -> Figure:
    """Stacked panels of spikes and recorded variables in one iteration: `iteration` indexes the
    iterations whose events are in the file (0: the first of them, -1: the last), so that under a
    recording schedule the figure shows a recorded iteration; the title gives its number.

    Panels, each only if recorded: input spikes, recurrent spikes, recurrent membrane voltage,
    surrogate gradient, adaptive threshold, learning signal, readout membrane voltage, target,
    readout, error. Rasters show a neuron's index within its population; time is counted from the
    iteration's start (ms; `iteration_start_ms`), so iteration 5000 reads like iteration 1.
    Input spikes are coloured by population when the task names its input groups (display
    attribute `input_groups`). A classification run shows the iteration's first sequence, its
    recall (learning) window shaded in every panel.
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
    view = first_sequence(results, index)
    softmax = view is not None and results.readout_loss == "cross_entropy"  # readouts are probabilities pi_k
    groups = input_groups(results)
    origin = iteration_start_ms(results, view.start if view is not None else _earliest(panels))
    if view is not None:
        view = replace(
            view,
            start=view.start - origin,
            stop=view.stop - origin,
            window=(view.window[0] - origin, view.window[1] - origin),
        )

    def shown(times: np.ndarray, lead: float = 0.0) -> np.ndarray:
        """The samples or spikes of the sequence shown; input spikes (lead > 0) lead the readout's samples."""
        return np.ones(len(times), bool) if view is None else (times > view.start - lead) & (times <= view.stop - lead)

    legend_panel = _legend_panel(panels)
    classes = list(results.display.get("classes") or [])
    # readouts that coincide (e.g. all 0 outside the recall window): each drawn wider than the next, so none hides
    beneath = any(
        coinciding([values[shown(times - origin)] for times, values in data])
        for p, data in panels
        if p.recorder == "multimeter_out" and not p.raster and len(data) >= 2
    )
    heights = [1.6 if p.raster else 1.0 for p, _ in panels]
    with house_style():
        fig = new_figure(TWO_COLUMNS, 0.1 + 0.62 * sum(heights))
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
        t_min, t_max = math.inf, -math.inf
        for ax, (panel, data) in zip(axes, panels):
            grouped = (
                panel.raster
                and panel.field == "input"
                and bool(groups)
                and sum(size for _, size in groups) == len(results.population("input"))
            )
            if panel.raster:
                times, neuron = data
                times = times - origin
                keep = shown(times, view.input_lead if view is not None and panel.field == "input" else 0.0)
                times, neuron = times[keep], neuron[keep]
                if grouped:
                    _draw_input_groups(ax, times, neuron, groups)
                else:
                    ax.plot(times, neuron, ls="", marker="|", ms=1.5, mew=0.5, c=BLUE)
                    _population_axis(ax, len(results.population(panel.field)), silent=len(times) == 0)
                spans = [times]
            else:
                spans = []
                colors = trace_colors(len(data))
                widths = _trace_widths(len(data), beneath and panel.recorder == "multimeter_out")
                for j, (times, values) in enumerate(data):
                    times = times - origin
                    keep = shown(times)
                    ax.plot(times[keep], values[keep], c=colors[j], lw=widths[j])
                    spans.append(times[keep])
            for t in spans:
                if len(t):
                    t_min, t_max = min(t_min, float(t.min())), max(t_max, float(t.max()))
            if view is not None:
                ax.axvspan(*view.window, color="#e8e8e8", zorder=0, lw=0)
            ylabel = CLASSIFICATION_LABELS.get((panel.recorder, panel.field), panel.ylabel) if softmax else panel.ylabel
            if grouped:
                ylabel = "$z_i$"  # the populations name the rows
            ax.set_ylabel(ylabel, rotation=0, ha="right", va="center")
            if panel is legend_panel:  # which colour is which readout (class), beside the panel, not over the traces
                _readout_legend(ax, len(data), classes if view is not None else None, beneath)
        if view is not None:
            axes[0].set_xlim(view.start - view.input_lead, view.stop)
            axes[0].text(
                sum(view.window) / 2,
                1.0,
                "recall\nwindow" if softmax else "learning\nwindow",
                transform=axes[0].get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=6,
                color="#777777",
            )
        elif math.isfinite(t_min) and t_max > t_min:
            axes[-1].set_xlim(t_min, t_max)
        axes[-1].set_xlabel("$t$ since iteration start (ms)")
        first = results.first_iteration  # a resumed run: numbered over the whole training
        title = iteration_of(results, first + index + 1, first + results.n_iter_done)
        if view is not None:
            phases = results.phases()
            if index < len(phases):
                title += f" ({phase_name(phase_names(results), int(phases[index])).replace('_', ' ')} phase)"
            title += f", sequence 1 of {view.batch_size}" if view.batch_size > 1 else ""
        fig.suptitle(title, fontsize=8)
        fig.align_ylabels(axes)
    return fig


# the readout panel that carries the legend: the first of these fields drawn
READOUT_FIELDS = ("readout_signal", "target_signal", "error_signal", "V_m")


def _legend_panel(panels: list) -> Panel | None:
    """The readout panel that names the readouts' colours: y_k if drawn, else y*_k, y_k - y*_k or v_k; None
    for a single readout (nothing to tell apart)."""
    found = {p.field: p for p, data in panels if p.recorder == "multimeter_out" and len(data) >= 2}
    return next((found[f] for f in READOUT_FIELDS if f in found), None)


# legend font sizes between the panel's right edge and a legend beside it: clear of the last tick label
LEGEND_PAD = 2.0
TRACE_WIDTH = 0.7  # points, a recorded trace


def _trace_widths(n: int, beneath: bool) -> list[float]:
    """Line widths of n traces: all TRACE_WIDTH, or (beneath) each wider than the next (style.beneath_widths)."""
    return beneath_widths(n, TRACE_WIDTH, 2.4 / max(n - 1, 1) if n > 3 else 0.6) if beneath else [TRACE_WIDTH] * n


def _readout_legend(ax, n: int, classes: list | None, beneath: bool = False) -> None:
    """Beside the panel: the colour of each readout, named by its class (classification runs whose file
    names the classes) or by its output index k (regression: y_0, y_1, ...); with `beneath` (readouts that
    coincide are drawn each wider than the next) the widths too, and the title says so."""
    colors, widths = trace_colors(n), _trace_widths(n, beneath)
    names = [str(c) for c in classes] if classes and len(classes) == n else [str(j) for j in range(n)]
    title = "class" if classes and len(classes) == n else "output $k$"
    if beneath:
        title += "\n" + BENEATH_NOTE.replace(", ", ",\n")
    ax.legend(
        [Line2D([], [], c=colors[j], lw=widths[j]) for j in range(n)],
        names,
        fontsize=6,
        handlelength=1.0,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        borderaxespad=LEGEND_PAD,
        ncol=2 if n > len(PALETTE) else 1,
        title=title,
        title_fontsize=6,
        columnspacing=0.8,
    )


def _population_axis(ax, n: int, silent: bool) -> None:
    """A raster's y axis: the population's neuron indices 0..n-1 (integers), also when no neuron spiked;
    then the panel says so."""
    if n <= 0:
        return
    ax.set_ylim(-0.5, n - 0.5)
    ax.set_yticks(index_ticks(n))
    if silent:
        ax.text(0.5, 0.5, "no spikes", transform=ax.transAxes, ha="center", va="center", fontsize=6, color="#777777")

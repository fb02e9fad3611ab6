"""Figures of one run or of a multirun, drawn from the results file alone (no NEST).

Every `*_figure` function is pure: it takes an open `Results` (and options), reads only what it
shows (the dynamics figures read two iterations as HDF5 slices; the weight time courses scan
the weight recorder in bounded blocks) and returns a `matplotlib.figure.Figure`. Figures are
made without pyplot, so nothing needs a display and no global figure registry fills up.
`plot_path` writes them to files; it is what `eprop plot` calls.

Units: time in ms, membrane voltages and thresholds in mV, learning signals and weights in pA;
readout and target signals are dimensionless.
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from matplotlib import rc_context
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from .errors import UserError
from .evaluate import damaged_file_message, iter_event_blocks, parse_overrides, population, recorded_iterations
from .results import Results, find_result_files, open_results

BLUE = "#2854c5"
RED = "#e04b40"
WHITE = "#ffffff"
PALETTE = (BLUE, RED, "#2a9d55", "#8e44ad", "#e69f00", "#555555")
WEIGHT_CMAP = LinearSegmentedColormap.from_list("eprop_weights", ((0.0, BLUE), (0.5, WHITE), (1.0, RED)))

ONE_COLUMN = 3.5  # inches, width of one journal column
TWO_COLUMNS = 7.0  # inches, width of a full page

STYLE = {
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.right": False,
    "axes.spines.top": False,
    "legend.frameon": False,
    "lines.linewidth": 1.0,
    "savefig.bbox": "standard",
}

LEARNED_PROJECTIONS = ("in_rec", "rec_rec", "rec_out")
PROJECTION_LABELS = {
    "in_rec": r"$W^\mathrm{in}$ (pA)",
    "rec_rec": r"$W^\mathrm{rec}$ (pA)",
    "rec_out": r"$W^\mathrm{out}$ (pA)",
}
PROJECTION_TITLES = {"in_rec": "input → recurrent", "rec_rec": "recurrent → recurrent", "rec_out": "recurrent → readout"}


class FigureUnavailable(Exception):
    """The file lacks the data a figure shows (a recorder was off, no iteration finished, ...)."""


@contextmanager
def house_style() -> Iterator[None]:
    with rc_context(STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A headless figure with constrained layout (no overlapping labels)."""
    return Figure(figsize=(width, height), layout="constrained")


def readout_ids(results: Results) -> np.ndarray:
    """Readout neuron ids in output order (output k is the k-th id of /neurons/readout)."""
    ids = population(results, "readout")
    if ids.size == 0:
        raise FigureUnavailable("/neurons/readout is missing")
    return ids


def split_by_sender(events: dict[str, np.ndarray], sender: int, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """One sender's samples of `fields` and `times`, in time order."""
    mask = events["senders"] == sender
    order = np.argsort(events["times"][mask], kind="stable")
    return {name: events[name][mask][order] for name in ("times",) + fields}


def require_iterations(results: Results, recorder: str) -> int:
    if recorder not in results.recorders:
        raise FigureUnavailable(f"{recorder} was not recorded")
    n = recorded_iterations(results, recorder)
    if n == 0:
        raise FigureUnavailable(f"{recorder} holds no finished iteration")
    return n


def first_and_last(n_iterations: int) -> list[int]:
    """0-based indices of the first and the last iteration (one index if they coincide)."""
    return sorted({0, n_iterations - 1})


# ---------------------------------------------------------------- loss


LOG_DECADES = 1.5  # a loss that spans more decades than this gets a logarithmic axis (automatic choice)


def spans_decades(values: np.ndarray, decades: float = LOG_DECADES) -> bool:
    """True if the positive finite values span more than `decades` decades (max / min > 10**decades)."""
    values = np.asarray(values, dtype=float)
    positive = values[np.isfinite(values) & (values > 0)]
    return positive.size >= 2 and float(positive.max() / positive.min()) > 10.0 ** decades


def loss_figure(results: Results, log: bool | None = False) -> Figure:
    """Loss per training iteration: per output E_k (broken lines) and their sum E (solid).

    A resumed run shows its parents' iterations too (`Results.history_loss`), numbered over the
    whole training, with a dotted vertical line where each resumed run took over. `log`: True
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
        for k, curve in enumerate(per_output):
            ax.plot(iterations, curve, ls=styles[k % len(styles)], c=BLUE, alpha=0.8, label=f"$E_{k}$")
        ax.plot(iterations, loss, c=BLUE, label="$E$")
        ax.set_xlabel("training iteration")
        ax.set_ylabel(r"loss $E = \frac{1}{2}\sum_{t,k}(y_k^t - y_k^{*,t})^2$")
        for k, start in enumerate(history.resume_points):
            ax.axvline(start + 0.5, c="#999999", ls="-", lw=0.6, label="resumed" if k == 0 else None)
        ax.set_xlim(history.first_iteration + 1, max(history.n_iter_done, history.first_iteration + 2))
        ax.xaxis.get_major_locator().set_params(integer=True)
        if log:
            ax.set_yscale("log")
        if history.note:  # the full reason is in eprop eval's warning
            ax.set_title("earlier iterations unavailable (parent run file missing or unreadable)",
                         loc="left", fontsize=6)
        ax.legend(loc="upper right")
    return fig


def loss_comparison_figure(curves: list[tuple[str, np.ndarray]], best: int | None = None, log: bool | None = False,
                           title: str = "", first_iterations: list[int] | None = None) -> Figure:
    """Total loss per iteration of several jobs overlaid; `best` (an index) is drawn thicker.

    `first_iterations[j]`: 0-based iteration of curve j's first value (a resumed job's history
    that starts late); `log=None` chooses the axis from the data as `loss_figure` does.
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
            color = PALETTE[j % len(PALETTE)] if n <= len(PALETTE) else _viridis(j / max(n - 1, 1))
            is_best = j == best
            ax.plot(np.arange(firsts[j] + 1, firsts[j] + len(loss) + 1), loss, c=color, lw=2.0 if is_best else 1.0,
                    label=f"{label} (best)" if is_best else label, zorder=3 if is_best else 2)
        ax.set_xlabel("training iteration")
        ax.set_ylabel("loss $E$")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if log:
            ax.set_yscale("log")
        if title:
            ax.set_title(title, loc="left")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), ncols=1 if n <= 16 else 2)
    return fig


def _viridis(x: float) -> tuple:
    from matplotlib import colormaps

    return colormaps["viridis"](x)


# ---------------------------------------------------------------- pattern


def pattern_figure(results: Results) -> Figure:
    """Readout y against target y* in the first and the last iteration.

    Two or more outputs: the plane (y_0, y_1), one panel per iteration, target in blue (a line)
    and readout in red (one dot per sample, not joined): the readout starts at 0 in every
    sequence, and a line would draw a straight stroke from (0, 0) into the trajectory; dots show
    that transient for what it is, sparse samples on the way in. For the handwriting task the
    y axis points down, as in the handwriting data.
    One output: y(t) and y*(t) against time since the iteration's first sample (ms).
    Iterations are numbered over the whole training (a resumed run's parents included).
    """
    n = require_iterations(results, "multimeter_out")
    if not {"readout_signal", "target_signal"} <= set(results.fields("multimeter_out")):
        raise FigureUnavailable("multimeter_out lacks readout_signal or target_signal")
    ids = readout_ids(results)
    fields = ("readout_signal", "target_signal")
    iterations = first_and_last(n)
    per_iteration = []
    for k in iterations:
        events = results.events("multimeter_out", ("senders", "times") + fields, iteration=k)
        per_iteration.append((k, [split_by_sender(events, sender, fields) for sender in ids]))
    handwriting = results.task_name == "handwriting"
    first, n_total = results.first_iteration, results.first_iteration + n
    with house_style():
        if len(ids) >= 2:
            xlim, ylim = plane_limits([o[:2] for _, o in per_iteration])
            aspect = (xlim[1] - xlim[0]) / (ylim[1] - ylim[0])
            panel_height = 2.3  # inches
            width = min(TWO_COLUMNS, max(ONE_COLUMN, len(iterations) * panel_height * aspect + 1.0))
            fig = new_figure(width, panel_height + 1.1)  # room for the legend below
            axes = fig.subplots(1, len(iterations), squeeze=False)[0]
            if handwriting:
                ylim = ylim[::-1]  # handwriting coordinates: y points down
            for ax, (k, outputs) in zip(axes, per_iteration):
                ax.plot(outputs[0]["target_signal"], outputs[1]["target_signal"], c=BLUE, lw=2.0, alpha=0.6,
                        label="target $y^*$")
                ax.plot(outputs[0]["readout_signal"], outputs[1]["readout_signal"], c=RED, ls="", marker=".",
                        ms=2.0, mew=0, label="readout $y$ (one dot per sample;\nstarts at 0 in each sequence)")
                ax.set_title(f"iteration {first + k + 1} of {n_total}")
                ax.set_xlabel(r"$y_0$, $y^*_0$")
                ax.set_ylabel(r"$y_1$, $y^*_1$")
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
                ax.set_title(f"iteration {first + k + 1} of {n_total}")
                ax.set_ylabel(r"$y$, $y^*$")
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


# ---------------------------------------------------------------- dynamics


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
            ids = np.sort(population(results, panel.field))
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
    """Stacked panels of spikes and recorded variables in one iteration (0-based; -1 = last).

    Panels, each only if recorded: input spikes, recurrent spikes, recurrent membrane voltage,
    surrogate gradient, adaptive threshold, learning signal, readout membrane voltage, target,
    readout, error. Rasters show a neuron's index within its population; time is absolute (ms).
    """
    recorders = [r for r in ("spike_recorder", "multimeter_rec", "multimeter_out") if r in results.recorders]
    if not recorders:
        raise FigureUnavailable("neither spikes nor multimeters were recorded")
    n = min(recorded_iterations(results, r) for r in recorders)
    if n == 0:
        raise FigureUnavailable("no iteration finished")
    index = iteration if iteration >= 0 else n + iteration
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
        fig.suptitle(f"iteration {first + index + 1} of {first + n}", fontsize=8)
        fig.align_ylabels(axes)
    return fig


# ---------------------------------------------------------------- weight time courses


@dataclass
class WeightCourse:
    projection: str
    sender: int
    target: int
    times: np.ndarray  # ms, starting at 0 with the initial weight
    weights: np.ndarray  # pA


def recorded_weight_changes(results: Results) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    """Per recorded (sender, target) synapse: times (ms) and weights (pA) at which it changed.

    The weight recorder logs a synapse every time it transmits a spike, mostly with an unchanged
    weight. Scanning the recorder block by block and keeping only changes (plus each synapse's
    last event, so a step curve reaches the end) gives the same step curve at a fraction of the
    memory. Events are assumed in time order within a synapse.
    """
    fields = ("senders", "targets", "times", "weights")
    last_weight: dict[int, float] = {}
    last_event: dict[int, tuple[float, float]] = {}
    kept_codes, kept_times, kept_weights = [], [], []
    for block in iter_event_blocks(results, "weight_recorder", fields):
        code = _pair_code(block["senders"], block["targets"])
        order = np.lexsort((block["times"], code))
        c, t, w = code[order], block["times"][order], block["weights"][order]
        if c.size == 0:
            continue
        group_start = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        group_end = np.r_[group_start[1:], c.size] - 1
        previous = np.r_[np.nan, w[:-1]]
        previous[group_start] = [last_weight.get(int(x), np.nan) for x in c[group_start]]
        keep = w != previous
        kept_codes.append(c[keep])
        kept_times.append(t[keep])
        kept_weights.append(w[keep])
        for x, end in zip(c[group_end].tolist(), group_end.tolist()):
            last_weight[x] = float(w[end])
            last_event[x] = (float(t[end]), float(w[end]))
    if not last_event:
        return {}
    codes, times, weights = (np.concatenate(a) for a in (kept_codes, kept_times, kept_weights))
    order = np.lexsort((times, codes))
    codes, times, weights = codes[order], times[order], weights[order]
    bounds = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1], True])
    courses = {}
    for start, stop in zip(bounds[:-1], bounds[1:]):
        x = int(codes[start])
        t, w = times[start:stop], weights[start:stop]
        t_last, w_last = last_event[x]
        if t[-1] < t_last:
            t, w = np.r_[t, t_last], np.r_[w, w_last]
        courses[_pair_from_code(x)] = (t, w)
    return courses


_CODE_BASE = 1 << 31


def _pair_code(senders: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return senders.astype("i8") * _CODE_BASE + targets.astype("i8")


def _pair_from_code(code: int) -> tuple[int, int]:
    return code // _CODE_BASE, code % _CODE_BASE


def weight_courses(results: Results) -> list[WeightCourse]:
    """Recorded weight time courses, each starting at t = 0 with the synapse's initial weight."""
    if "weight_recorder" not in results.recorders:
        raise FigureUnavailable("weight_recorder was not recorded")
    changes = recorded_weight_changes(results)
    if not changes:
        raise FigureUnavailable("weight_recorder holds no events")
    populations = {name: population(results, name) for name in ("input", "recurrent", "readout")}
    initial = _initial_weight_lookup(results)
    courses = []
    for (sender, target), (times, weights) in sorted(changes.items()):
        projection = projection_of(populations, sender, target)
        if projection is None:
            continue
        w0 = initial.get((projection, sender, target))
        if w0 is not None:
            times, weights = np.r_[0.0, times], np.r_[w0, weights]
        courses.append(WeightCourse(projection, sender, target, times, weights))
    return courses


def projection_of(populations: dict[str, np.ndarray], sender: int, target: int) -> str | None:
    """The projection (in_rec, rec_rec, rec_out, out_rec) of a synapse, from the populations' ids."""
    is_in = {name: bool(np.isin(sender, ids)) for name, ids in populations.items()}
    is_tgt = {name: bool(np.isin(target, ids)) for name, ids in populations.items()}
    for projection, (source_pop, target_pop) in (("in_rec", ("input", "recurrent")), ("rec_rec", ("recurrent", "recurrent")),
                                                 ("rec_out", ("recurrent", "readout")), ("out_rec", ("readout", "recurrent"))):
        if is_in[source_pop] and is_tgt[target_pop]:
            return projection
    return None


def _initial_weight_lookup(results: Results) -> dict[tuple[str, int, int], float]:
    if "initial" not in results.weight_stages:
        return {}
    lookup = {}
    for projection in results.file["weights"]["initial"]:
        w = results.weights("initial", projection)
        for s, t, value in zip(w["source"].tolist(), w["target"].tolist(), w["weight"].tolist()):
            lookup[(projection, s, t)] = value
    return lookup


def weight_courses_figure(results: Results) -> Figure:
    """Weight time courses of the recorded synapses, one panel per projection (pA against ms).

    Steps hold a weight until the recorder saw the next value; each course starts at t = 0 with
    the initial weight from /weights/initial.
    """
    courses = weight_courses(results)
    projections = [p for p in LEARNED_PROJECTIONS + ("out_rec",) if any(c.projection == p for c in courses)]
    if not projections:
        raise FigureUnavailable("no recorded synapse belongs to a known projection")
    with house_style():
        fig = new_figure(ONE_COLUMN, 0.4 + 1.1 * len(projections))
        axes = fig.subplots(len(projections), 1, sharex=True, squeeze=False)[:, 0]
        t_end = max(float(c.times[-1]) for c in courses)
        for ax, projection in zip(axes, projections):
            for course in (c for c in courses if c.projection == projection):
                ax.step(course.times, course.weights, where="post", c=BLUE, lw=0.8, alpha=0.8)
            ax.set_ylabel(PROJECTION_LABELS.get(projection, f"{projection} (pA)"))
            ax.set_title(PROJECTION_TITLES.get(projection, projection), loc="left")
        axes[-1].set_xlim(0.0, t_end if t_end > 0 else 1.0)
        axes[-1].set_xlabel("$t$ (ms)")
        fig.align_ylabels(axes)
    return fig


# ---------------------------------------------------------------- weight matrices


OUTLIER_RATIO = 2.0  # max |w| above this multiple of the 99th percentile clips the colour scale there


def symmetric_limit(matrices: list[np.ndarray]) -> float:
    """The largest |weight| of all matrices: the colour scale runs from -limit to +limit (pA)."""
    limit = max((float(np.max(np.abs(m))) for m in matrices if m.size), default=0.0)
    return limit if limit > 0 else 1.0


def robust_limit(matrices: list[np.ndarray]) -> tuple[float, bool]:
    """(limit in pA, clipped): max |w|, or the 99th percentile of |w| if the max is an outlier.

    An outlier is a max |w| above OUTLIER_RATIO times the 99th percentile of the nonzero |w|;
    one such synapse would otherwise set the scale and leave every other weight white.
    """
    full = symmetric_limit(matrices)
    values = np.concatenate([np.abs(m[m != 0]).ravel() for m in matrices if m.size] or [np.zeros(0)])
    if values.size == 0:
        return full, False
    p99 = float(np.percentile(values, 99, method="lower"))  # a value that occurs, even among few synapses
    if p99 > 0 and full > OUTLIER_RATIO * p99:
        return p99, True
    return full, False


WEIGHT_AXES = {  # projection -> (y label, x label) of its matrix as drawn (in_rec transposed)
    "in_rec": ("input neuron\n(presyn.)", "recurrent neuron (postsyn.)"),
    "rec_rec": ("recurrent neuron\n(postsyn.)", "recurrent neuron (presyn.)"),
    "rec_out": ("readout neuron\n(postsyn.)", "recurrent neuron (presyn.)"),
}


def weight_matrices_figure(results: Results) -> Figure:
    """Weight matrices before and after training with one shared, zero-centred colour scale (pA).

    Rows: input→recurrent (input neurons on y, postsynaptic recurrent neurons on x),
    recurrent→recurrent (target on y, source on x), recurrent→readout (readout neurons on y,
    presynaptic recurrent neurons on x); every panel carries its own axis labels. The colour
    scale runs to max |w|, unless one outlier would wash out the rest (`robust_limit`): then it
    stops at the 99th percentile of |w|, darker weights saturate, and the colour bar says so.
    """
    stages = results.weight_stages
    if "initial" not in stages or "final" not in stages:
        raise FigureUnavailable("the file lacks the initial or the final weights")
    projections = [p for p in LEARNED_PROJECTIONS
                   if p in results.file["weights"]["initial"] and p in results.file["weights"]["final"]]
    if not projections:
        raise FigureUnavailable("no learned projection in the weight snapshots")
    matrices = {}
    for projection in projections:
        for stage in ("initial", "final"):
            m = results.weight_matrix(stage, projection)
            matrices[projection, stage] = m.T if projection == "in_rec" else m  # recurrent neurons on x
    limit, clipped = robust_limit(list(matrices.values()))
    rows = [matrices[p, "initial"].shape[0] for p in projections]
    heights = [max(r, 0.2 * max(rows)) for r in rows]
    with house_style():
        fig = new_figure(TWO_COLUMNS, 1.0 + 1.7 * len(projections))
        axes = fig.subplots(len(projections), 2, sharey="row", squeeze=False,
                            gridspec_kw={"height_ratios": heights})
        image = None
        for i, projection in enumerate(projections):
            ylabel, xlabel = WEIGHT_AXES[projection]
            for j, stage in enumerate(("initial", "final")):
                m = matrices[projection, stage]
                image = axes[i, j].imshow(m, cmap=WEIGHT_CMAP, vmin=-limit, vmax=limit, aspect="auto",
                                          interpolation="nearest", origin="lower",
                                          extent=(-0.5, m.shape[1] - 0.5, -0.5, m.shape[0] - 0.5))
                axes[i, j].set_title(PROJECTION_TITLES[projection], loc="left")
                axes[i, j].yaxis.get_major_locator().set_params(integer=True)
                axes[i, j].xaxis.get_major_locator().set_params(integer=True)
                axes[i, j].set_xlabel(xlabel)
                axes[i, j].set_ylabel(ylabel)
        n = results.first_iteration + results.n_iter_done
        axes[0, 0].annotate("before training", xy=(0.5, 1.0), xycoords="axes fraction", xytext=(0, 14),
                            textcoords="offset points", ha="center", va="bottom", fontsize=9)
        axes[0, 1].annotate(f"after training ({n} iterations)", xy=(0.5, 1.0), xycoords="axes fraction",
                            xytext=(0, 14), textcoords="offset points", ha="center", va="bottom", fontsize=9)
        label = f"weight (pA), clipped at p99 = {limit:.3g} pA" if clipped else "weight (pA)"
        fig.colorbar(image, ax=axes, label=label, shrink=0.6, extend="both" if clipped else "neither")
    return fig


# ---------------------------------------------------------------- classification


def task_kind(results: Results) -> str:
    return results.attrs.get("task_kind", "regression")


def classification_loss_figure(results: Results, log: bool | None = False) -> Figure:
    """Classification: cross-entropy (top) and error = 1 - accuracy (bottom) per iteration, as NEST's example."""
    loss = results.loss
    if len(loss) == 0 or "accuracy" not in results.file:
        raise FigureUnavailable("no iteration finished")
    error = 1.0 - np.asarray(results.dataset("accuracy")[()], dtype=float)
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
    if "labels" not in results.file or results.dataset("labels").shape[0] == 0:
        raise FigureUnavailable("no iteration finished")
    labels = np.asarray(results.dataset("labels")[()])[-last:]
    predicted = np.asarray(results.dataset("predicted")[()])[-last:]
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
    display = results.attrs.get("display")
    try:
        names = (json.loads(display) if isinstance(display, str) else display or {}).get("classes")
    except (ValueError, AttributeError):
        names = None
    return list(names) if names and len(names) == n else [str(k) for k in range(n)]


def readout_probabilities_figure(results: Results) -> Figure:
    """Classification: softmax readout signal per class over the first sequence of the last iteration,
    target dashed, the learning (recall) window shaded."""
    n_iter = require_iterations(results, "multimeter_out")
    ev = results.events("multimeter_out", ["senders", "times", "readout_signal", "target_signal"], iteration=n_iter - 1)
    sequence = int(results.attrs["steps_per_sequence"])
    window = int(results.attrs.get("learning_window_steps", sequence))
    names = _class_names(results, len(readout_ids(results)))
    colors = (BLUE, RED, "#2a9d3a", "#9b59b6")
    with house_style():
        fig = new_figure(TWO_COLUMNS * 0.6, 2.2)
        ax = fig.add_subplot()
        for k, node in enumerate(readout_ids(results)):
            mine = ev["senders"] == node
            t, y, target = ev["times"][mine][:sequence], ev["readout_signal"][mine][:sequence], ev["target_signal"][mine][:sequence]
            ax.plot(t, y, c=colors[k % len(colors)], label=f"$\\pi_{{{names[k]}}}$")
            ax.plot(t, target, c=colors[k % len(colors)], ls="--", lw=0.8)
        if len(t):
            ax.axvspan(t[-window], t[-1], color="#dddddd", zorder=0, label="recall window")
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("readout probability")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"iteration {results.first_iteration + n_iter}, first sequence (targets dashed)", loc="left", fontsize=6)
        ax.legend(loc="upper left")
    return fig


# ---------------------------------------------------------------- writing figures


RUN_FIGURES: dict[str, Callable[..., Figure]] = {
    "pattern": lambda results, log: pattern_figure(results),
    "loss": lambda results, log: (classification_loss_figure(results, log) if task_kind(results) == "classification"
                                  else loss_figure(results, log=log)),
    "confusion": lambda results, log: confusion_figure(results),
    "readout_probabilities": lambda results, log: readout_probabilities_figure(results),
    "dynamics_first": lambda results, log: dynamics_figure(results, 0),
    "dynamics_last": lambda results, log: dynamics_figure(results, -1),
    "weight_courses": lambda results, log: weight_courses_figure(results),
    "weight_matrices": lambda results, log: weight_matrices_figure(results),
}
# The task kinds each figure applies to (the others: every kind); a figure of another kind is not drawn, silently.
FIGURE_KINDS = {"pattern": {"regression"}, "confusion": {"classification"}, "readout_probabilities": {"classification"}}
MULTIRUN_FIGURES = ("loss_all_jobs",)
FIGURE_NAMES = tuple(RUN_FIGURES) + MULTIRUN_FIGURES
FORMATS = ("png", "pdf", "svg")


@dataclass
class PlotReport:
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (figure name, reason)
    best_job: Path | None = None


MAX_PIXELS = 10000  # largest width or height of a written figure, in pixels (raster output and rasterized parts)


def check_dpi(name: str, fig: Figure, dpi: int) -> None:
    """UserError if `fig` at `dpi` would be wider or taller than MAX_PIXELS (it would exhaust memory)."""
    width, height = (float(x) for x in fig.get_size_inches())
    largest = max(width, height)
    if dpi < 1 or largest * dpi > MAX_PIXELS:
        top = int(MAX_PIXELS // largest)
        raise UserError(f"--dpi {dpi}: figure {name} ({width:.2f} x {height:.2f} in) would be "
                        f"{width * dpi:.0f} x {height * dpi:.0f} pixels; valid for it: 1 to {top} "
                        f"(at most {MAX_PIXELS} pixels a side)")


def save_figure(fig: Figure, path: Path, dpi: int) -> Path:
    check_dpi(path.stem, fig, dpi)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def plot_run(results: Results, out_dir: Path, fmt: str = "png", only: set[str] | None = None, dpi: int = 300,
             log: bool | None = None, prefix: str = "", report: PlotReport | None = None) -> PlotReport:
    """Write every single-run figure (or those in `only`) as out_dir/<prefix><name>.<fmt>.

    Every figure is drawn and its size checked against `dpi` before the first file is written.
    """
    report = report or PlotReport()
    figures = []
    for name, make in RUN_FIGURES.items():
        if only is not None and name not in only:
            continue
        if task_kind(results) not in FIGURE_KINDS.get(name, {task_kind(results)}):
            continue  # not a figure of this kind of task
        try:
            fig = make(results, log)
        except FigureUnavailable as reason:
            report.skipped.append((prefix + name, f"{results.path}: {reason}"))
            continue
        except (KeyError, IndexError, ValueError, OSError) as exc:
            raise UserError(damaged_file_message(results.path, exc)) from None
        check_dpi(prefix + name, fig, dpi)
        figures.append((name, fig))
    for name, fig in figures:
        report.written.append(save_figure(fig, out_dir / f"{prefix}{name}.{fmt}", dpi))
    return report


def override_labels(overrides: list[list[str]]) -> tuple[list[str], str]:
    """Per-job legend labels from the overrides that differ between jobs, and the common ones."""
    parsed = [parse_overrides(o) for o in overrides]
    keys = [k for k in dict.fromkeys(k for p in parsed for k in p)]
    varying = [k for k in keys if len({p.get(k) for p in parsed}) > 1]
    common = [f"{k}={parsed[0][k]}" for k in keys if k not in varying and all(k in p for p in parsed)]
    labels = [", ".join(f"{k}={p[k]}" for k in varying if k in p) or "(no overrides)" for p in parsed]
    return labels, ", ".join(common)


def plot_multirun(files: list[Path], out_dir: Path, fmt: str = "png", only: set[str] | None = None, dpi: int = 300,
                  log: bool | None = None) -> PlotReport:
    """Loss curves of all jobs overlaid, plus the single-run figures of the best job (prefix best_).

    The best job has the lowest final loss among jobs that finished at least one iteration.
    Unreadable job files are skipped and reported, so one crashed job does not hide the others.
    """
    report = PlotReport()
    jobs: list[tuple[Path, list[str], np.ndarray]] = []
    firsts: dict[Path, int] = {}
    for path in files:
        try:
            with open_results(path) as results:
                try:
                    history = results.history_loss()
                    jobs.append((path, results.overrides, history.loss))
                    firsts[path] = history.first_iteration
                except (KeyError, OSError) as exc:
                    raise UserError(damaged_file_message(path, exc)) from None
        except UserError as exc:
            report.skipped.append(("loss_all_jobs", str(exc)))
    finished = [(p, o, loss) for p, o, loss in jobs if len(loss) and np.isfinite(loss[-1])]
    if not finished:
        report.skipped.append(("loss_all_jobs", "no job finished an iteration"))
        return report
    best = int(np.argmin([loss[-1] for _, _, loss in finished]))
    report.best_job = finished[best][0]
    labels, common = override_labels([o for _, o, _ in finished])
    if only is None or "loss_all_jobs" in only:
        fig = loss_comparison_figure([(label, loss) for label, (_, _, loss) in zip(labels, finished)],
                                     best=best, log=log, title=common, first_iterations=[firsts[p] for p, _, _ in finished])
        report.written.append(save_figure(fig, out_dir / f"loss_all_jobs.{fmt}", dpi))
    run_only = None if only is None else only & set(RUN_FIGURES)
    if run_only is None or run_only:
        with open_results(report.best_job) as results:
            plot_run(results, out_dir, fmt=fmt, only=run_only, dpi=dpi, log=log, prefix="best_", report=report)
    return report


def plot_path(path: str | Path, out_dir: str | Path | None = None, fmt: str = "png", only: set[str] | None = None,
              dpi: int = 300, log: bool | None = None) -> PlotReport:
    """Figures of a results file, a run directory or a multirun directory.

    Default output directory: <run dir>/figures, or <multirun dir>/figures for several jobs.
    """
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: not supported; valid: {', '.join(FORMATS)}")
    if only is not None:
        unknown = sorted(only - set(FIGURE_NAMES))
        if unknown:
            raise UserError(f"--only {','.join(unknown)}: no such figure; valid: {', '.join(FIGURE_NAMES)}")
    path = Path(path)
    files = find_result_files(path)
    if len(files) == 1:
        wanted = sorted(set(MULTIRUN_FIGURES) & (only or set()))
        if wanted:
            raise UserError(f"--only {','.join(wanted)}: this figure compares the jobs of a multirun, and {path} holds "
                            f"one run; give a multirun directory, or choose from: {', '.join(RUN_FIGURES)}")
        default_out = files[0].parent / "figures"
        with open_results(files[0]) as results:
            return plot_run(results, Path(out_dir) if out_dir else default_out, fmt=fmt, only=only, dpi=dpi, log=log)
    default_out = (path if path.is_dir() else path.parent) / "figures"
    return plot_multirun(files, Path(out_dir) if out_dir else default_out, fmt=fmt, only=only, dpi=dpi, log=log)

"""The weight figures: time courses of the recorded synapses, and the weight matrices before and
after training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from eprop.analysis.figures.style import (
    BLUE,
    LEARNED_PROJECTIONS,
    ONE_COLUMN,
    PROJECTION_LABELS,
    PROJECTION_TITLES,
    TWO_COLUMNS,
    WEIGHT_CMAP,
    FigureUnavailable,
    house_style,
    index_ticks,
    new_figure,
)
from eprop.config.projections import PROJECTIONS
from eprop.results import Results


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
    for block in results.iter_event_blocks("weight_recorder", fields):
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


def schedule_breaks(results: Results) -> np.ndarray:
    """Times (ms) at which a weight course is broken because the recording schedule left out iterations.

    One time per run of iterations without events: the start of its first iteration (of its
    second if it begins with iteration 0, whose weights are still the initial ones), placed at
    the readout multimeter's first sample time of that iteration, which precedes every event of
    it and follows every event of the iteration before. Empty when every iteration has events.
    """
    from eprop.analysis.metrics import iteration_duration_ms

    n = results.n_iter_done
    recorded = results.recorded_iterations("weight_recorder")
    if results.events_complete or recorded.size == 0 or "multimeter_out" not in results.recorders:
        return np.zeros(0)
    missing = np.setdiff1d(np.arange(n), recorded)
    run_starts = missing[np.r_[True, np.diff(missing) > 1]] if missing.size else missing
    run_starts = np.where(run_starts == 0, 1, run_starts)
    run_starts = run_starts[~np.isin(run_starts, recorded) & (run_starts < n)]
    reference = int(recorded[0])
    t_reference = float(results.events("multimeter_out", ["times"], iteration=reference)["times"][0])
    return t_reference + (run_starts - reference) * iteration_duration_ms(results)


def _broken(times: np.ndarray, weights: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The course with a NaN weight at each break time inside it, so that the step curve stops there."""
    inside = breaks[(breaks > times[0]) & (breaks < times[-1])]
    if inside.size == 0:
        return times, weights
    t = np.r_[times, inside]
    w = np.r_[weights, np.full(inside.size, np.nan)]
    order = np.argsort(t, kind="stable")
    return t[order], w[order]


def weight_courses(results: Results) -> list[WeightCourse]:
    """Recorded weight time courses, each starting at t = 0 with the synapse's initial weight.

    Under a recording schedule a course is broken (NaN) where iterations have no events
    (`schedule_breaks`), so that no step is drawn across iterations that were not recorded.
    """
    if "weight_recorder" not in results.recorders:
        raise FigureUnavailable("weight_recorder was not recorded")
    changes = recorded_weight_changes(results)
    if not changes:
        raise FigureUnavailable("weight_recorder holds no events")
    populations = {name: results.population(name) for name in ("input", "recurrent", "readout")}
    initial = _initial_weight_lookup(results)
    breaks = schedule_breaks(results)
    courses = []
    for (sender, target), (times, weights) in sorted(changes.items()):
        projection = projection_of(populations, sender, target)
        if projection is None:
            continue
        w0 = initial.get((projection, sender, target))
        if w0 is not None:
            times, weights = np.r_[0.0, times], np.r_[w0, weights]
        times, weights = _broken(times, weights, breaks)
        courses.append(WeightCourse(projection, sender, target, times, weights))
    return courses


def projection_of(populations: dict[str, np.ndarray], sender: int, target: int) -> str | None:
    """The projection (in_rec, rec_rec, rec_out, out_rec) of a synapse, from the populations' ids."""
    is_in = {name: bool(np.isin(sender, ids)) for name, ids in populations.items()}
    is_tgt = {name: bool(np.isin(target, ids)) for name, ids in populations.items()}
    for projection in PROJECTIONS.values():
        if is_in[projection.source] and is_tgt[projection.target]:
            return projection.name
    return None


def _initial_weight_lookup(results: Results) -> dict[tuple[str, int, int], float]:
    lookup = {}
    for projection in results.weight_projections("initial"):
        w = results.connections(projection, when="initial")
        for s, t, value in zip(w["source"].tolist(), w["target"].tolist(), w["weight"].tolist()):
            lookup[(projection, s, t)] = value
    return lookup


def weight_courses_figure(results: Results) -> Figure:
    """Weight time courses of the recorded synapses, one panel per projection (pA against ms).

    Steps hold a weight until the recorder saw the next value; each course starts at t = 0 with
    the initial weight from /weights/initial. Under a recording schedule the courses break where
    iterations have no events, and the title says how many iterations were recorded.
    """
    courses = weight_courses(results)
    projections = [p for p in tuple(PROJECTIONS) if any(c.projection == p for c in courses)]
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
        if not results.events_complete:
            n_recorded = results.recorded_iterations("weight_recorder").size
            fig.suptitle(
                f"events of {n_recorded} of {results.n_iter_done} iterations recorded (gaps: not recorded)", fontsize=6
            )
        fig.align_ylabels(axes)
    return fig


# ---------------------------------------------------------------- weight matrices


OUTLIER_RATIO = 2.0  # max |w| above this multiple of the 99th percentile clips the colour scale there


NO_CONNECTION = "#c8c8c8"  # light grey: a pair without a connection (an autapse, or removed by a sparsity mask)


def _existing(m: np.ndarray) -> np.ndarray:
    """|w| of the connections of a matrix (NaN marks a pair without a connection)."""
    return np.abs(m[np.isfinite(m)])


def symmetric_limit(matrices: list[np.ndarray]) -> float:
    """The largest |weight| of all matrices: the colour scale runs from -limit to +limit (pA)."""
    limit = max((float(np.max(values)) for values in map(_existing, matrices) if values.size), default=0.0)
    return limit if limit > 0 else 1.0


def robust_limit(matrices: list[np.ndarray]) -> tuple[float, bool]:
    """(limit in pA, clipped): max |w|, or the 99th percentile of |w| if the max is an outlier.

    An outlier is a max |w| above OUTLIER_RATIO times the 99th percentile of the nonzero |w|;
    one such synapse would otherwise set the scale and leave every other weight white.
    """
    full = symmetric_limit(matrices)
    values = np.concatenate([v[v != 0] for v in map(_existing, matrices)] or [np.zeros(0)])
    if values.size == 0:
        return full, False
    p99 = float(np.percentile(values, 99, method="lower"))  # a value that occurs, even among few synapses
    if p99 > 0 and full > OUTLIER_RATIO * p99:
        return p99, True
    return full, False


WEIGHT_AXES = {  # projection -> (y label, x label): postsynaptic neurons on y, presynaptic on x in every panel
    "in_rec": ("recurrent neuron\n(postsyn.)", "input neuron (presyn.)"),
    "rec_rec": ("recurrent neuron\n(postsyn.)", "recurrent neuron (presyn.)"),
    "rec_out": ("readout neuron\n(postsyn.)", "recurrent neuron (presyn.)"),
}

STAGES = ("initial", "final")
NAN_WEIGHT = "#000000"  # black: a connection whose weight is NaN (diverged), unlike the grey of no connection
OWN_SCALE_RATIO = 0.1  # a projection whose |w| stay below this fraction of the others' scale gets its own colour bar


def colour_scales(matrices: dict[tuple[str, str], np.ndarray], projections: list[str]) -> list[list[str]]:
    """The projections grouped by colour scale: one shared scale, except for a projection whose weights
    (`robust_limit` of its matrices) stay below OWN_SCALE_RATIO of the shared scale (N-MNIST's recurrent →
    readout weights, 40 times smaller than the input weights): on the shared scale it would look blank,
    so it gets a scale (and a colour bar) of its own."""
    overall, _ = robust_limit(list(matrices.values()))
    own = [p for p in projections if robust_limit([matrices[p, s] for s in STAGES])[0] < OWN_SCALE_RATIO * overall]
    shared = [p for p in projections if p not in own]
    return ([shared] if shared else []) + [[p] for p in own]


def weight_matrices_figure(results: Results) -> Figure:
    """Weight matrices before and after training on a zero-centred colour scale (pA), before and after
    of one projection always on the same scale.

    Every panel has the postsynaptic neurons on y and the presynaptic neurons on x (W[post, pre]; rows
    input → recurrent, recurrent → recurrent, recurrent → readout), labelled so, with integer neuron
    indices as ticks. The projections share one colour scale, except one whose weights would look
    blank on it (`colour_scales`): it gets its own colour bar, which names it. A scale runs to max |w|,
    unless one outlier would wash out the rest (`robust_limit`): then it stops at the 99th percentile
    of |w|, darker weights saturate, and the colour bar says so. Pairs without a connection (the
    autapses, the pairs a sparsity mask removed) are grey, connections whose weight is NaN black; the
    colour bar says which is which, and neither counts in a limit.
    """
    stages = results.weight_stages
    if "initial" not in stages or "final" not in stages:
        raise FigureUnavailable("the file lacks the initial or the final weights")
    in_both = set(results.weight_projections("initial")) & set(results.weight_projections("final"))
    projections = [p for p in LEARNED_PROJECTIONS if p in in_both]
    if not projections:
        raise FigureUnavailable("no learned projection in the weight snapshots")
    matrices, nan_weights = {}, {}
    for projection in projections:
        for stage in STAGES:
            m = results.weight_matrix(stage, projection, missing=np.nan)  # (postsynaptic, presynaptic)
            matrices[projection, stage] = m
            nan_weights[projection, stage] = np.isnan(m) & results.connected(stage, projection)
    scales = colour_scales(matrices, projections)
    cmap = WEIGHT_CMAP.with_extremes(bad=NO_CONNECTION)
    nan_cmap = ListedColormap([NAN_WEIGHT]).with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    rows = [matrices[p, "initial"].shape[0] for p in projections]
    heights = [max(r, 0.35 * max(rows)) for r in rows]
    with house_style():
        fig = new_figure(TWO_COLUMNS, 1.0 + 1.7 * len(projections))
        axes = fig.subplots(len(projections), 2, sharey="row", squeeze=False, gridspec_kw={"height_ratios": heights})
        for group in scales:
            limit, clipped = robust_limit([matrices[p, stage] for p in group for stage in STAGES])
            image = None
            for projection in group:
                i = projections.index(projection)
                ylabel, xlabel = WEIGHT_AXES[projection]
                for j, stage in enumerate(STAGES):
                    m, ax = matrices[projection, stage], axes[i, j]
                    extent = (-0.5, m.shape[1] - 0.5, -0.5, m.shape[0] - 0.5)
                    image = ax.imshow(
                        m,
                        cmap=cmap,
                        vmin=-limit,
                        vmax=limit,
                        aspect="auto",
                        interpolation="nearest",
                        origin="lower",
                        extent=extent,
                    )
                    if nan_weights[projection, stage].any():
                        overlay = ax.imshow(
                            np.where(nan_weights[projection, stage], 1.0, np.nan),
                            cmap=nan_cmap,
                            vmin=0.0,
                            vmax=1.0,
                            aspect="auto",
                            interpolation="nearest",
                            origin="lower",
                            extent=extent,
                        )
                        overlay.set_label("NaN weights")
                        n_nan, n_conn = int(nan_weights[projection, stage].sum()), int(np.isfinite(m).sum())
                        ax.text(
                            0.98,
                            0.95,
                            f"NaN: {n_nan} of {n_nan + n_conn} weights",
                            transform=ax.transAxes,
                            ha="right",
                            va="top",
                            fontsize=6,
                            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0},
                        )
                    ax.set_title(PROJECTION_TITLES[projection], loc="left")
                    ax.set_yticks(index_ticks(m.shape[0]))
                    ax.set_xticks(index_ticks(m.shape[1], nbins=5))
                    ax.set_xlabel(xlabel)
                    ax.set_ylabel(ylabel)
            label = f"weight (pA), clipped at p99 = {limit:.3g} pA" if clipped else "weight (pA)"
            own = len(scales) > 1 and len(group) == 1
            if own:  # short: the bar is one row high
                label = "own scale:\n" + label.replace(", clipped at", ",\nclipped at")
            notes = []
            if any((np.isnan(matrices[p, stage]) & ~nan_weights[p, stage]).any() for p in group for stage in STAGES):
                notes.append("grey: no connection")
            if any(nan_weights[p, stage].any() for p in group for stage in STAGES):
                notes.append("black: NaN weight")
            if notes:
                label += "\n" + "; ".join(notes)
            bar = fig.colorbar(
                image,
                ax=[axes[projections.index(p), j] for p in group for j in (0, 1)],
                label=label,
                shrink=0.6 if len(group) > 1 else 1.0,
                extend="both" if clipped else "neither",
            )
            if own:  # three round ticks on a bar one row high
                bar.ax.yaxis.set_major_locator(MaxNLocator(nbins=2, symmetric=True))
        n = results.first_iteration + results.n_iter_done
        for ax, heading in zip(axes[0], ("before training", f"after training ({n} iterations)")):
            ax.annotate(
                heading,
                xy=(0.5, 1.0),
                xycoords="axes fraction",
                xytext=(0, 14),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=9,
            )
    return fig

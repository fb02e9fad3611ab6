"""The common look of every figure: colours, sizes, fonts, headless figures, and small helpers
that several figure families share (readout ids, per-sender splits, iteration choice).

Figures are made without pyplot, so nothing needs a display and no global figure registry fills
up. `FigureUnavailable` says that a file lacks what a figure shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from matplotlib import rc_context
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from eprop.config.projections import PROJECTIONS
from eprop.results import Results

BLUE = "#2854c5"
RED = "#e04b40"
WHITE = "#ffffff"
PALETTE = (BLUE, RED, "#2a9d55", "#8e44ad", "#e69f00", "#555555")
# ten distinguishable colours (matplotlib's tab10) for more traces or classes than PALETTE holds (N-MNIST's ten readouts)
TEN_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
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

LEARNED_PROJECTIONS = tuple(name for name, p in PROJECTIONS.items() if p.plastic)
PROJECTION_LABELS = {
    "in_rec": r"$W^\mathrm{in}$ (pA)",
    "rec_rec": r"$W^\mathrm{rec}$ (pA)",
    "rec_out": r"$W^\mathrm{out}$ (pA)",
}
PROJECTION_TITLES = {
    "in_rec": "input → recurrent",
    "rec_rec": "recurrent → recurrent",
    "rec_out": "recurrent → readout",
}


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
    ids = results.population("readout")
    if ids.size == 0:
        raise FigureUnavailable("/neurons/readout is missing")
    return ids


def split_by_sender(events: dict[str, np.ndarray], sender: int, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    """One sender's samples of `fields` and `times`, in time order."""
    mask = events["senders"] == sender
    order = np.argsort(events["times"][mask], kind="stable")
    return {name: events[name][mask][order] for name in ("times",) + fields}


def require_iterations(results: Results, recorder: str) -> np.ndarray:
    """The iterations (0-based in the file) whose events of `recorder` are in the file; FigureUnavailable if none."""
    if recorder not in results.recorders:
        raise FigureUnavailable(f"{recorder} was not recorded")
    recorded = results.recorded_iterations(recorder)
    if recorded.size == 0:
        raise FigureUnavailable(f"{recorder} holds no finished iteration with events")
    return recorded


def iteration_start_ms(results: Results, t: float) -> float:
    """Start (ms) of the iteration that holds time T: the largest multiple of an iteration's duration
    (batch_size x steps_per_sequence x resolution) not after T; 0 if the file lacks the timing. Figures
    of one iteration show time since this start, readable at iteration 5000 as at iteration 1."""
    attrs = results.attrs
    try:
        duration = (
            int(attrs.get("batch_size", 1)) * int(attrs["steps_per_sequence"]) * float(attrs.get("resolution_ms", 1.0))
        )
    except (KeyError, TypeError, ValueError):
        return 0.0
    if not (duration > 0 and math.isfinite(t)):
        return 0.0
    return math.floor(t / duration + 1e-9) * duration


def first_and_last(recorded: np.ndarray) -> list[int]:
    """The first and the last of the iterations with events (0-based; one index if they coincide)."""
    return sorted({int(recorded[0]), int(recorded[-1])})


LOG_DECADES = 1.5  # a loss that spans more decades than this gets a logarithmic axis (automatic choice)


def spans_decades(values: np.ndarray, decades: float = LOG_DECADES) -> bool:
    """True if the positive finite values span more than `decades` decades (max / min > 10**decades)."""
    values = np.asarray(values, dtype=float)
    positive = values[np.isfinite(values) & (values > 0)]
    return positive.size >= 2 and float(positive.max() / positive.min()) > 10.0**decades


def viridis(x: float) -> tuple:
    from matplotlib import colormaps

    return colormaps["viridis"](x)


def trace_colors(n: int) -> tuple[str, ...]:
    """Colours for n traces or classes: PALETTE when it has enough, else TEN_COLORS (cycled beyond ten)."""
    colors = PALETTE if n <= len(PALETTE) else TEN_COLORS
    return tuple(colors[j % len(colors)] for j in range(n))


COINCIDE_SPAN = 0.01  # two curves closer than this fraction of the axis' data span look like one line
COINCIDE_SAMPLES = 0.1  # ... and hide one another where they do so on at least this fraction of the samples


def coinciding(curves: list[np.ndarray]) -> bool:
    """True if two of the curves (sampled at the same times) lie on one another for COINCIDE_SAMPLES of the
    samples or more, within COINCIDE_SPAN of the curves' joint span: drawn alike, one would hide the other."""
    curves = [np.asarray(c, dtype=float) for c in curves if len(c)]
    if len(curves) < 2:
        return False
    n = min(len(c) for c in curves)
    stacked = np.array([c[:n] for c in curves])
    finite = stacked[np.isfinite(stacked)]
    span = float(finite.max() - finite.min()) if finite.size else 0.0
    tolerance = COINCIDE_SPAN * span if span > 0 else 1e-12
    for a in range(len(stacked)):
        close = np.abs(stacked[a + 1 :] - stacked[a]) <= tolerance
        if close.size and (close.mean(axis=1) >= COINCIDE_SAMPLES).any():
            return True
    return False


def beneath_widths(n: int, top: float, step: float) -> list[float]:
    """Line widths for n curves drawn in order: each wider than the next, so that where curves coincide the
    one beneath shows as a coloured rim around the one on top (the last curve drawn has width `top`)."""
    return [top + step * (n - 1 - j) for j in range(n)]


BENEATH_NOTE = "where curves coincide, the wider lies beneath"


def index_ticks(n: int, nbins: int = 3) -> list[int]:
    """Tick positions for the indices 0..n-1 of n neurons: integers only (one neuron: [0], never -0.5/0/0.5)."""
    from matplotlib.ticker import MaxNLocator

    if n <= 1:
        return [0]
    ticks = MaxNLocator(nbins=nbins, integer=True).tick_values(0, n - 1)
    return [int(t) for t in ticks if 0 <= t <= n - 1]


def iteration_of(results: Results, number: int, done: int) -> str:
    """`iteration K of N` for a figure's title; a run still being written says so, since N is the
    number of iterations done so far, not the number the run will have."""
    if results.status == "running":
        return f"iteration {number} of {done} so far (still running)"
    return f"iteration {number} of {done}"

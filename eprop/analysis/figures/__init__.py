"""The figure registry: every figure `eprop plot` can draw, with the task kinds it applies to.

One module per figure family (loss, pattern, dynamics, weights, comparison, classification,
frames; common look in style). `eprop plot --only` and `--help` read the names from `FIGURES`.
A run figure is drawn only for a results file whose root attribute `task_kind` is in the
figure's `kinds` and that has what its `requires` names (e.g. input frames need an event-camera
task's `display.input_image_shape`); a figure that does not apply is neither drawn nor reported
as skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from matplotlib.figure import Figure

from eprop.analysis.figures.classification import (
    classification_loss_figure,
    confusion_figure,
    readout_probabilities_figure,
)
from eprop.analysis.figures.comparison import loss_comparison_figure, override_labels
from eprop.analysis.figures.dynamics import dynamics_figure
from eprop.analysis.figures.frames import input_frames_figure
from eprop.analysis.figures.loss import loss_figure
from eprop.analysis.figures.pattern import pattern_figure
from eprop.analysis.figures.style import BLUE, RED, FigureUnavailable, spans_decades
from eprop.analysis.figures.weights import weight_courses_figure, weight_matrices_figure
from eprop.results import Results

ALL_KINDS = ("regression", "classification")


@dataclass(frozen=True)
class Requirement:
    """A property of the file (beyond its task kind) that a figure needs, and its name for `--help`."""

    description: str
    test: Callable[[Results], bool]


@dataclass(frozen=True)
class FigureSpec:
    name: str
    scope: str  # "run": one results file; "multirun": the jobs of a multirun compared
    kinds: tuple[str, ...]  # the task kinds (root attribute task_kind) the figure applies to
    draw: Callable[[Results, bool | None], Figure] | None = None  # (results, log axis) -> figure; run figures
    requires: Requirement | None = None  # what else a file must have for the figure to apply

    def applies_to(self, results: Results) -> bool:
        return results.task_kind in self.kinds and (self.requires is None or self.requires.test(results))

    def why_not(self, results: Results) -> str:
        """Why the figure does not apply to the file (for a figure asked for by name), "" if it does."""
        if results.task_kind not in self.kinds:
            return (
                f"{results.path} is a {results.task_kind} run; {self.name} is drawn for {' and '.join(self.kinds)} runs"
            )
        if self.requires is not None and not self.requires.test(results):
            return f"{results.path}: {self.name} needs {self.requires.description}"
        return ""


CROSS_ENTROPY = Requirement("softmax (cross-entropy) readouts", lambda results: results.readout_loss == "cross_entropy")
INPUT_IMAGE = Requirement(
    "event-camera inputs (display.input_image_shape, e.g. N-MNIST)",
    lambda results: "input_image_shape" in results.display,
)


FIGURES: dict[str, FigureSpec] = {
    spec.name: spec
    for spec in (
        FigureSpec("pattern", "run", ("regression",), lambda results, log: pattern_figure(results)),
        FigureSpec("loss", "run", ("regression",), lambda results, log: loss_figure(results, log=log)),
        FigureSpec(
            "loss_error", "run", ("classification",), lambda results, log: classification_loss_figure(results, log)
        ),
        FigureSpec("confusion", "run", ("classification",), lambda results, log: confusion_figure(results)),
        FigureSpec(
            "readout_probabilities",
            "run",
            ("classification",),
            lambda results, log: readout_probabilities_figure(results),
            CROSS_ENTROPY,
        ),
        FigureSpec(
            "input_frames", "run", ("classification",), lambda results, log: input_frames_figure(results), INPUT_IMAGE
        ),
        FigureSpec("dynamics_first", "run", ALL_KINDS, lambda results, log: dynamics_figure(results, 0)),
        FigureSpec("dynamics_last", "run", ALL_KINDS, lambda results, log: dynamics_figure(results, -1)),
        FigureSpec("weight_courses", "run", ALL_KINDS, lambda results, log: weight_courses_figure(results)),
        FigureSpec("weight_matrices", "run", ALL_KINDS, lambda results, log: weight_matrices_figure(results)),
        FigureSpec("loss_all_jobs", "multirun", ALL_KINDS),
    )
}
RUN_FIGURES: dict[str, Callable[[Results, bool | None], Figure]] = {
    name: spec.draw for name, spec in FIGURES.items() if spec.scope == "run" and spec.draw is not None
}
MULTIRUN_FIGURES = tuple(name for name, spec in FIGURES.items() if spec.scope == "multirun")
FIGURE_NAMES = tuple(FIGURES)


def figure_kinds() -> str:
    """The figures that apply to some task kinds only, for `eprop plot --help`: "pattern, loss: regression"."""
    by_kinds: dict[tuple[str, ...], list[str]] = {}
    for name, spec in FIGURES.items():
        if set(spec.kinds) != set(ALL_KINDS):
            by_kinds.setdefault(spec.kinds, []).append(name)
    parts = [f"{', '.join(names)}: {', '.join(kinds)} only" for kinds, names in by_kinds.items()]
    parts += [f"{name}: only with {spec.requires.description}" for name, spec in FIGURES.items() if spec.requires]
    return "; ".join(parts) or "all apply to every kind"


__all__ = [
    "ALL_KINDS",
    "BLUE",
    "FIGURES",
    "FIGURE_NAMES",
    "FigureSpec",
    "FigureUnavailable",
    "MULTIRUN_FIGURES",
    "RED",
    "Requirement",
    "RUN_FIGURES",
    "classification_loss_figure",
    "input_frames_figure",
    "confusion_figure",
    "dynamics_figure",
    "readout_probabilities_figure",
    "figure_kinds",
    "loss_comparison_figure",
    "loss_figure",
    "override_labels",
    "pattern_figure",
    "spans_decades",
    "weight_courses_figure",
    "weight_matrices_figure",
]

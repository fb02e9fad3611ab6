"""The input-frames figure of an event-camera task (N-MNIST): a few samples of one iteration, each as its
recorded input spikes summed to one image per polarity (ON, OFF) beside the ten readout traces.

Which pixel an input neuron sees comes from /input_pixel (polarity * 34 * 34 + y * 34 + x, in
/neurons/input order); pixels without an input neuron (NEST's blocklist) are drawn blank and named
so in the figure. A sample's input spikes are told apart by time: the readout multimeter's samples
locate each sample of the iteration, and the input spikes of a sample's step lead the readout's
sample of that step by `dynamics.input_lead_ms` (the delays + 1 step). N-MNIST's event times map
onto steps 0..sequence_steps inclusive, so an event at the very end of the longest recording
lands on the next sample's step 0 and is counted there (NEST's example feeds it to the network so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from eprop.analysis.classification import phase_names
from eprop.analysis.figures.dynamics import input_lead_ms
from eprop.analysis.figures.style import (
    BLUE,
    RED,
    TWO_COLUMNS,
    FigureUnavailable,
    house_style,
    iteration_of,
    new_figure,
)
from eprop.results import Results
from eprop.results.iterations import phase_name

SHOWN_SAMPLES = 3  # samples of the iteration drawn, from its first
BLOCKED_COLOR = "#ffffff"  # pixels without an input neuron
POLARITY_NAMES = {1: "ON", 0: "OFF"}
NO_PREDICTION = -1  # /predicted of a tie (tasks/evidence_accumulation.py NO_PREDICTION): no class predicted  # polarity bit 1: brighter; drawn in this order


@dataclass(frozen=True)
class SampleFrames:
    """One sample's recorded input spikes as images, and its readout traces."""

    frames: np.ndarray  # (2, 34, 34) int: spikes per pixel, [polarity, y, x]
    has_input: np.ndarray  # (2, 34, 34) bool: the pixel has an input neuron (not blocklisted)
    time_ms: np.ndarray  # (steps,) ms from the sample's start, of the readout samples
    readout: np.ndarray  # (n_out, steps) readout signal of each output
    label: int
    predicted: int


def image_shape(results: Results) -> tuple[int, int, int]:
    """(polarities, rows, columns) of the input image, from display attribute input_image_shape."""
    shape = results.display.get("input_image_shape")
    try:
        polarities, rows, columns = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise FigureUnavailable(
            "the file's display attribute has no input_image_shape [polarities, rows, columns]"
        ) from None
    return polarities, rows, columns


def samples_per_iteration(results: Results) -> int:
    labels = results.per_sequence("labels")
    if labels is not None and labels.ndim == 2:
        return int(labels.shape[1])
    return int(results.attrs.get("batch_size", 1))


def recorded_iteration_indices(results: Results, recorder: str) -> np.ndarray:
    """0-based indices of the iterations whose events of `recorder` are in the file.

    Results.recorded_iterations gives their number (every finished iteration is recorded) or, in
    files with a recording schedule (/events_recorded), their indices; both are accepted here.
    """
    recorded = results.recorded_iterations(recorder)
    if np.ndim(recorded) == 0:
        return np.arange(int(recorded))
    return np.asarray(recorded, dtype=int)


def input_spikes_recorded(results: Results, iteration: int) -> bool:
    """True if the spike recorder holds spikes of input neurons in this iteration (0-based)."""
    if "spike_recorder" not in results.recorders:
        return False
    return results.spikes("input", iteration=iteration).senders.size > 0


def sample_frames(results: Results, iteration: int, samples: list[int]) -> list[SampleFrames]:
    """The frames and readout traces of some samples (0-based, within the iteration) of one iteration (0-based)."""
    polarities, rows, columns = image_shape(results)
    pixels = results.input_pixels()
    inputs = results.population("input")
    if pixels is None or pixels.size != inputs.size:
        raise FigureUnavailable(
            "/input_pixel (the pixel of each input neuron) is missing or does not match /neurons/input"
        )
    readouts = results.population("readout")
    if readouts.size == 0 or "multimeter_out" not in results.recorders:
        raise FigureUnavailable("the readout signals (multimeter_out) were not recorded")
    steps = int(results.attrs["steps_per_sequence"])
    dt = float(results.attrs.get("resolution_ms", 1.0))
    lead = input_lead_ms(results, dt)
    out = results.events("multimeter_out", ["senders", "times", "readout_signal"], iteration=iteration)
    spikes = results.events("spike_recorder", ["senders", "times"], iteration=iteration)
    order = np.argsort(inputs, kind="stable")
    position = np.searchsorted(inputs[order], spikes["senders"])
    is_input = (position < inputs.size) & (inputs[order][np.minimum(position, inputs.size - 1)] == spikes["senders"])
    spike_pixel = pixels[order][position[is_input]]
    spike_time = spikes["times"][is_input]
    has_input = np.zeros(polarities * rows * columns, dtype=bool)
    has_input[pixels] = True
    traces = []
    for node in readouts:
        mine = out["senders"] == node
        sorted_samples = np.argsort(out["times"][mine], kind="stable")
        traces.append((out["times"][mine][sorted_samples], out["readout_signal"][mine][sorted_samples]))
    labels, predicted = results.per_sequence("labels"), results.per_sequence("predicted")
    found = []
    for b in samples:
        times = traces[0][0][b * steps : (b + 1) * steps]
        if len(times) < steps:
            raise FigureUnavailable(f"multimeter_out lacks the samples of sample {b + 1} of iteration {iteration + 1}")
        start = float(times[0]) - dt  # the sample's step 0, as the readout stamps it
        mine = (spike_time > start - lead) & (spike_time <= float(times[-1]) - lead)
        frames = np.bincount(spike_pixel[mine], minlength=has_input.size).reshape(polarities, rows, columns)
        readout = np.array([y[b * steps : (b + 1) * steps] for _, y in traces])
        found.append(
            SampleFrames(
                frames=frames,
                has_input=has_input.reshape(polarities, rows, columns),
                time_ms=times - start,
                readout=readout,
                label=int(labels[iteration, b]) if labels is not None else -1,
                predicted=int(predicted[iteration, b]) if predicted is not None else -1,
            )
        )
    return found


def _class_names(results: Results, n: int) -> list[str]:
    names = results.display.get("classes")
    return [str(c) for c in names] if names and len(names) == n else [str(k) for k in range(n)]


def input_frames_figure(results: Results, iteration: int = -1, n_samples: int = SHOWN_SAMPLES) -> Figure:
    """For the first `n_samples` samples of one iteration (an index into the iterations whose events are in the
    file: 0 the first of them, -1 the last): the recorded input
    spikes per pixel as an ON and an OFF image (blocklisted pixels blank), beside the readout signals of all
    classes with the label's highlighted (the prediction too when it is wrong) and the learning window shaded."""
    image_shape(results)
    if "spike_recorder" not in results.recorders or "multimeter_out" not in results.recorders:
        raise FigureUnavailable("needs the spike recorder and the readout multimeter (multimeter_out)")
    recorded = np.intersect1d(
        recorded_iteration_indices(results, "spike_recorder"), recorded_iteration_indices(results, "multimeter_out")
    )
    if recorded.size == 0:
        raise FigureUnavailable("no finished iteration with events")
    index = int(recorded[iteration])
    if not input_spikes_recorded(results, index):
        raise FigureUnavailable(
            "the input spikes were not recorded (recording.spikes_input=false; "
            "recording=tutorial or recording.spikes_input=true records them)"
        )
    n_shown = min(n_samples, samples_per_iteration(results))
    shown = sample_frames(results, index, list(range(n_shown)))
    steps = int(results.attrs["steps_per_sequence"])
    window = int(results.display.get("learning_window_steps", results.attrs.get("learning_window_steps", steps)))
    dt = float(results.attrs.get("resolution_ms", 1.0))
    names = _class_names(results, shown[0].readout.shape[0])
    cross_entropy = results.readout_loss == "cross_entropy"
    vmax = max(1, max(int(s.frames.max()) for s in shown))
    cmap = colormaps["viridis"].with_extremes(bad=BLOCKED_COLOR)
    with house_style():
        fig = new_figure(TWO_COLUMNS, 0.35 + 1.45 * n_shown)
        axes = fig.subplots(n_shown, 3, squeeze=False, gridspec_kw={"width_ratios": [1.0, 1.0, 2.3]})
        image = None
        for row, (sample, (ax_on, ax_off, ax_out)) in enumerate(zip(shown, axes)):
            for ax, polarity in ((ax_on, 1), (ax_off, 0)):
                counts = np.ma.masked_array(sample.frames[polarity], mask=~sample.has_input[polarity])
                image = ax.imshow(counts, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
                ax.set_xticks([0, counts.shape[1] - 1])
                ax.set_yticks([0, counts.shape[0] - 1])
                ax.tick_params(length=2, labelsize=6)
                for spine in ax.spines.values():
                    spine.set_visible(True)
                    spine.set_linewidth(0.5)
                ax.set_title(f"{POLARITY_NAMES[polarity]}: {int(sample.frames[polarity].sum())} spikes", fontsize=7)
            ax_on.set_ylabel(f"sample {row + 1}\ny (pixel)")
            if row == n_shown - 1:
                ax_on.set_xlabel("x (pixel)")
                ax_off.set_xlabel("x (pixel)")
            t = sample.time_ms
            ax_out.axvspan((steps - window) * dt, steps * dt, color="#e8e8e8", lw=0, zorder=0)
            for k, y in enumerate(sample.readout):
                if k in (sample.label, sample.predicted):
                    continue
                ax_out.plot(t, y, c="#b0b0b0", lw=0.6, zorder=1)
            if sample.predicted != sample.label and 0 <= sample.predicted < len(sample.readout):
                ax_out.plot(t, sample.readout[sample.predicted], c=RED, lw=1.1, zorder=2)
            if 0 <= sample.label < len(sample.readout):
                ax_out.plot(t, sample.readout[sample.label], c=BLUE, lw=1.4, zorder=3)
            verdict = "right" if sample.label == sample.predicted else "wrong"
            label = names[sample.label] if 0 <= sample.label < len(names) else "?"
            guess = names[sample.predicted] if 0 <= sample.predicted < len(names) else "?"
            prediction = "no prediction (a tie)" if sample.predicted == NO_PREDICTION else f"predicted {guess}"
            ax_out.set_title(
                f"sample {row + 1}: label {label}, {prediction} ({verdict})",
                loc="left",
                fontsize=7,
                color="black" if verdict == "right" else RED,
            )
            ax_out.set_xlim(0.0, steps * dt)
            ax_out.set_ylabel("readout $\\pi_k$" if cross_entropy else "readout $y_k$ (mV)")
            if row == n_shown - 1:
                ax_out.set_xlabel("time in the sample (ms)")
        bar = fig.colorbar(
            image,
            ax=axes[:, :2].ravel().tolist(),
            location="left",
            shrink=0.6,
            pad=0.02,
            label="input spikes per pixel",
        )
        bar.ax.yaxis.get_major_locator().set_params(integer=True)
        handles = [
            Line2D([], [], c=BLUE, lw=1.4),
            Line2D([], [], c=RED, lw=1.1),
            Line2D([], [], c="#b0b0b0", lw=0.6),
            Patch(color="#e8e8e8"),
            Patch(facecolor=BLOCKED_COLOR, edgecolor="#777777", lw=0.5),
        ]
        axes[0, 2].legend(
            handles,
            [
                "label's readout",
                "predicted (if wrong)",
                "other classes",
                "learning window",
                "pixel without input\n(blocklist)",
            ],
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=6,
        )
        phases = results.phases()
        phase = phase_name(phase_names(results), int(phases[index])).replace("_", " ") if index < len(phases) else "?"
        first = results.first_iteration
        which = "sample 1" if n_shown == 1 else f"samples 1–{n_shown}"
        fig.suptitle(
            f"{iteration_of(results, first + index + 1, first + results.n_iter_done)} ({phase} phase): recorded input spikes "
            f"of {which} of {samples_per_iteration(results)} and the readouts",
            fontsize=8,
        )
    return fig

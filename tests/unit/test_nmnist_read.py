"""Fast tier: eval and plot of an N-MNIST-like classification run (ten classes, squared-error readouts,
input frames), on synthetic files (tests/support/synthetic_results.py, `write_nmnist_run`): 7 iterations of 4
samples with the phases 0 0 1 0 0 3 3 and NM_WRONG = 4 3 2 2 1 1 2 samples predicted wrong, so every
number below is counted from those lists and from `nmnist_sample_spikes`.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from eprop.analysis.figures import FIGURES, confusion_figure, dynamics_figure, figure_kinds
from eprop.analysis.figures.classification import classification_loss_figure
from eprop.analysis.figures.frames import input_frames_figure, sample_frames
from eprop.analysis.figures.style import TEN_COLORS
from eprop.analysis.plot import plot_path
from eprop.analysis.summary import summarize_run
from eprop.results import open_results
from tests.conftest import run_eprop_in_process
from tests.support import synthetic_results as syn

NO_INPUT_REASON = (
    "the input spikes were not recorded (recording.spikes_input=false; recording=tutorial or "
    "recording.spikes_input=true records them)"
)


@pytest.fixture
def nmnist(tmp_path):
    return syn.write_nmnist_run(tmp_path / "run" / "results.h5")


@pytest.fixture
def no_input(tmp_path):
    return syn.write_nmnist_run(tmp_path / "noin" / "results.h5", record_input_spikes=False)


def expected_frames(k: int, b: int) -> np.ndarray:
    """(2, 34, 34) counts of sample b of iteration k, from the pixels the synthetic writer gave its spikes."""
    inputs, _ = syn.nmnist_sample_spikes(k, b)
    pixels = syn.nmnist_kept_pixels()[inputs]
    return np.bincount(pixels, minlength=2 * 34 * 34).reshape(2, 34, 34)


# ---------------------------------------------------------------- eval


def test_accuracy_per_phase_with_ten_classes(nmnist):
    with open_results(nmnist) as res:
        s = summarize_run(res)
        assert res.readout_loss == "mean_squared_error"
    # accuracies 0, 1/4, 2/4, 2/4, 3/4, 3/4, 2/4; training = iterations 1, 2, 4, 5; validation 3; test 6, 7
    assert s["accuracy"] == [0.0, 0.25, 0.5, 0.5, 0.75, 0.75, 0.5]
    assert s["accuracy_per_phase"] == {"training": 1.5 / 4, "validation": 0.5, "test": 0.625}
    assert s["n_iter_per_phase"] == {"training": 4, "validation": 1, "test": 2}
    assert (s["final_accuracy"], s["test_accuracy"], s["final_accuracy_from"]) == (
        0.625,
        0.625,
        "test phase, 2 iterations",
    )
    assert s["loss"] == pytest.approx([syn.nmnist_loss(k).sum() for k in range(7)], rel=1e-12)
    # the squared error over the learning window, recomputed from the readout signals (not a cross-entropy)
    assert s["loss_recomputed_max_rel_diff"] < 1e-12


def test_readout_loss_follows_the_config(tmp_path, nmnist):
    ea = syn.write_classification_run(tmp_path / "ea" / "results.h5")  # its config does not name the loss
    regression = syn.write_run(tmp_path / "r" / "results.h5")
    with open_results(ea) as a, open_results(regression) as b:
        assert (a.readout_loss, b.readout_loss) == ("cross_entropy", "mean_squared_error")


# ---------------------------------------------------------------- confusion matrix


def test_confusion_counts_ten_classes_over_the_test_phase(nmnist):
    expected = np.zeros((10, 10), dtype=int)
    for k in (5, 6):  # the test iterations (0-based)
        for b in range(syn.NM_GROUP):
            expected[syn.nmnist_label(k, b), syn.nmnist_predicted(k, b)] += 1
    with open_results(nmnist) as res:
        fig = confusion_figure(res)
    ax = fig.axes[0]
    shown = np.zeros((10, 10), dtype=int)
    for text in ax.texts:  # one number per cell, at (column, row)
        x, y = text.get_position()
        shown[int(y), int(x)] = int(text.get_text())
    assert np.array_equal(shown, expected) and expected.sum() == 8 and np.trace(expected) == 5
    assert len(ax.texts) == 100  # issue 19, 17: an empty cell says 0, it is not left blank
    label, predicted = np.argwhere(expected == 0)[0]
    empty = next(t for t in ax.texts if t.get_position() == (predicted, label))
    assert empty.get_text() == "0"
    colour = ax.images[0].get_array()  # each row of the colour is the fraction of that label's samples
    rows = expected.sum(axis=1, keepdims=True)
    assert np.allclose(colour, expected / np.maximum(rows, 1))
    assert ax.get_title(loc="left") == "test phase, 2 iterations:\n8 sequences, accuracy 0.625"
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(c) for c in range(10)]
    assert fig.axes[1].get_ylabel() == "fraction of the label's sequences\n(numbers: counts)"  # the colour bar


# ---------------------------------------------------------------- input frames


def test_frames_sum_the_input_spikes_of_each_sample_per_polarity(nmnist):
    with open_results(nmnist) as res:
        shown = sample_frames(res, 6, [0, 1, 2, 3])
    for b, sample in enumerate(shown):
        inputs, _ = syn.nmnist_sample_spikes(6, b)
        polarity = syn.nmnist_kept_pixels()[inputs] // (34 * 34)
        assert [int(sample.frames[p].sum()) for p in (0, 1)] == [np.count_nonzero(polarity == p) for p in (0, 1)]
        assert np.array_equal(sample.frames, expected_frames(6, b))
        assert (sample.label, sample.predicted) == (syn.nmnist_label(6, b), syn.nmnist_predicted(6, b))
        assert sample.readout.shape == (10, syn.NM_STEPS)
        assert np.array_equal(sample.readout[sample.predicted], syn.nmnist_readout(6, b, sample.predicted))
        assert sample.time_ms.tolist() == list(np.arange(1.0, syn.NM_STEPS + 1))
    blocked = ~shown[0].has_input
    assert blocked.sum() == 2 * 34 * 34 - syn.nmnist_kept_pixels().size
    assert blocked[1, 17, 17] and not blocked[0, 17, 17] and blocked[0, 0, 0]


def test_input_frames_name_a_tie_no_prediction(nmnist):
    """A tie (predicted -1, issue 19 item 4) is not a class: the title says so instead of 'predicted ?'."""
    import h5py

    with h5py.File(nmnist, "r+") as f:
        f["predicted"][6, 0] = -1
    with open_results(nmnist) as res:
        fig = input_frames_figure(res)
    assert fig.axes[2].get_title(loc="left") == "sample 1: label 4, no prediction (a tie) (wrong)"


def test_input_frames_figure_names_what_it_shows(nmnist):
    with open_results(nmnist) as res:
        fig = input_frames_figure(res)
    on, off, out = fig.axes[:3]
    counts = expected_frames(6, 0)
    assert (on.get_title(), off.get_title()) == (f"ON: {counts[1].sum()} spikes", f"OFF: {counts[0].sum()} spikes")
    assert np.array_equal(on.images[0].get_array().filled(0), counts[1])
    assert on.images[0].get_array().mask[17, 17]  # the blocked pixel is drawn blank
    # iteration 7: sample 1 has label 24 % 10 = 4 and is predicted wrong (5); sample 3 is right
    assert out.get_title(loc="left") == "sample 1: label 4, predicted 5 (wrong)"
    assert fig.axes[8].get_title(loc="left") == "sample 3: label 6, predicted 6 (right)"
    assert fig._suptitle.get_text() == (
        "iteration 7 of 7 (test phase): recorded input spikes of samples 1–3 of 4 and the readouts"
    )
    span = out.patches[0]  # the learning window: the last 5 of 30 ms
    assert (span.get_x(), span.get_x() + span.get_width()) == (25.0, 30.0)
    assert out.get_ylabel() == "readout $y_k$ (mV)" and out.get_xlabel() == ""
    assert fig.axes[8].get_xlabel() == "time in the sample (ms)"


@pytest.mark.slow
def test_without_input_spikes_the_figure_is_skipped_with_one_line(no_input, tmp_path):
    report = plot_path(no_input, out_dir=tmp_path / "figs", dpi=40)
    assert ("input_frames", f"{no_input}: {NO_INPUT_REASON}") in report.skipped
    proc = run_eprop_in_process("plot", str(no_input), "--out", str(tmp_path / "figs2"), "--dpi", "40")
    assert proc.returncode == 0
    assert f"eprop: skipped input_frames: {no_input}: {NO_INPUT_REASON}" in proc.stderr.splitlines()


# ---------------------------------------------------------------- the registry


@pytest.mark.slow
def test_the_registry_selects_the_figures_of_an_event_camera_classifier(nmnist, tmp_path):
    report = plot_path(nmnist, out_dir=tmp_path / "figs", dpi=40)
    assert sorted(p.stem for p in report.written) == sorted(
        ["loss_error", "confusion", "input_frames", "dynamics_first", "dynamics_last"]
    )
    # readout_probabilities (softmax readouts only) is neither drawn nor reported
    assert [name for name, _ in report.skipped] == ["weight_courses", "weight_matrices"]
    evidence = syn.write_classification_run(tmp_path / "ea" / "results.h5")
    report = plot_path(evidence, out_dir=tmp_path / "eafigs", dpi=40)
    assert "readout_probabilities" in {p.stem for p in report.written}
    assert "input_frames" not in {p.stem for p in report.written} | {name for name, _ in report.skipped}
    regression = syn.write_run(tmp_path / "r" / "results.h5")
    report = plot_path(regression, out_dir=tmp_path / "rfigs", dpi=40)
    assert "input_frames" not in {p.stem for p in report.written} and report.skipped == []
    assert FIGURES["input_frames"].kinds == ("classification",)
    assert "input_frames: only with event-camera inputs (display.input_image_shape, e.g. N-MNIST)" in figure_kinds()


def test_a_file_without_input_image_shape_gets_no_input_frames(tmp_path):
    path = syn.write_nmnist_run(tmp_path / "plain" / "results.h5", display={"classes": [str(c) for c in range(10)]})
    with open_results(path) as res:
        assert not FIGURES["input_frames"].applies_to(res)


# ---------------------------------------------------------------- the other figures at ten classes


def test_ten_readouts_get_ten_colours_and_squared_error_labels(nmnist):
    with open_results(nmnist) as res:
        dynamics = dynamics_figure(res, -1)
        loss = classification_loss_figure(res)
    readout_panel = next(ax for ax in dynamics.axes if ax.get_ylabel() == "$y_k$\n(mV)")
    assert [line.get_color() for line in readout_panel.lines] == list(TEN_COLORS)
    assert [t.get_text() for t in readout_panel.get_legend().get_texts()] == [str(c) for c in range(10)]
    assert dynamics.axes[0].texts[0].get_text() == "learning\nwindow"
    # issue 19, 17: the legend beside the panel stays clear of every tick label (it crowded the last one)
    renderer = FigureCanvasAgg(dynamics).get_renderer()
    dynamics.canvas.draw()
    legend = readout_panel.get_legend().get_window_extent(renderer)
    # wherever a tick falls, even on the right edge of the axes (300 ms in a real run), its label stays clear
    widest = max(t.get_window_extent(renderer).width for t in dynamics.axes[-1].get_xticklabels() if t.get_text())
    assert legend.x0 - readout_panel.get_window_extent(renderer).x1 > widest / 2
    for ax in dynamics.axes:
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        labels = [t for t in ax.get_xticklabels() if x0 <= t.get_position()[0] <= x1]  # the drawn ones
        labels += [t for t in ax.get_yticklabels() if y0 <= t.get_position()[1] <= y1]
        for label in labels:
            if label.get_visible() and label.get_text():
                assert not legend.overlaps(label.get_window_extent(renderer)), label.get_text()
    assert loss.axes[0].get_ylabel().startswith("squared error (mV$^2$)")

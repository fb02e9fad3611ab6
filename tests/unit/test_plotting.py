"""`eprop plot` and the figure functions: what each figure shows, checked on its matplotlib objects."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.image import AxesImage

from eprop.analysis.figures import (
    BLUE,
    RED,
    dynamics_figure,
    loss_comparison_figure,
    loss_figure,
    override_labels,
    pattern_figure,
    weight_courses_figure,
    weight_matrices_figure,
)
from eprop.analysis.plot import plot_path
from eprop.cli import report
from eprop.results import open_results
from tests.support import synthetic_results as syn

RUN_FIGURES = {"pattern", "loss", "dynamics_first", "dynamics_last", "weight_courses", "weight_matrices"}


@pytest.fixture
def run_file(tmp_path):
    return syn.write_run(tmp_path / "run" / "results.h5", overrides=["optimizer.eta=0.001"])


@pytest.fixture
def results(run_file):
    with open_results(run_file) as res:
        yield res


@pytest.fixture
def minimal_results(tmp_path):
    with open_results(syn.write_run(tmp_path / "minimal" / "results.h5", recording="minimal")) as res:
        yield res


def drawn(fig):
    """The figure drawn on an Agg canvas (constrained layout done): its renderer, for window extents and pixels."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def lines_with_data(ax):
    return [line for line in ax.get_lines() if len(line.get_xdata())]


# ---------------------------------------------------------------- loss


def test_loss_figure_shows_total_and_per_output_loss(results):
    fig = loss_figure(results)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["$E_0$", "$E_1$", "$E$"]
    for line, expected in zip(lines, [*syn.EXPECTED_LOSS_PER_OUTPUT, syn.EXPECTED_LOSS]):
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])  # iterations are 1-based
        np.testing.assert_allclose(line.get_ydata(), expected)
    assert ax.get_xlabel() == "training iteration"
    assert ax.get_ylabel() == "squared-error loss $E$ (mV$^2$)\n" r"$E = \frac{1}{2}\sum_{k,t}(y_k - y^*_k)^2$"
    assert ax.get_yscale() == "linear"
    assert loss_figure(results, log=True).axes[0].get_yscale() == "log"


def legend_clear_of_the_data(ax) -> None:
    """The legend lies outside the axes (beside them), so it covers no curve."""
    renderer = drawn(ax.figure)
    legend, frame = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.x0 >= frame.x1  # beside the axes, right of them
    for line in ax.get_lines():
        points = ax.transData.transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
        assert not any(legend.contains(x, y) for x, y in points[np.isfinite(points).all(axis=1)])


def test_loss_legend_beside_the_curves_of_a_resumed_run(tmp_path):
    """Issue 19, 15: the legend covered the curve's end (infinite_loop, resumed runs, a sweep's best job)."""
    parent = syn.write_run(tmp_path / "parent" / "results.h5")
    child = syn.write_run(
        tmp_path / "child" / "results.h5", attrs={"first_iteration": 3, "parent_run": str(parent.parent)}
    )
    with open_results(child) as res:
        ax = loss_figure(res).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["$E_0$", "$E_1$", "$E$", "resumed"]
    legend_clear_of_the_data(ax)


def write_one_output_run(path):
    from eprop.results import ResultsWriter

    writer = ResultsWriter(path, n_out=1, attrs={"n_iter": 3, "steps_per_sequence": syn.STEPS, "overrides": []})
    writer.write_neurons({"input": syn.INPUT, "recurrent": syn.RECURRENT, "readout": syn.READOUT[:1]})
    for loss in (3.0, 2.0, 1.0):
        writer.append_iteration(np.array([loss]), {})
    writer.finish("complete", {})
    writer.close()
    return path


def test_one_output_loss_is_one_curve_named_e_equals_e0(tmp_path):
    """Issue 19, 15: with one output E_0 = E, and its dashed line hid beneath E's."""
    with open_results(write_one_output_run(tmp_path / "results.h5")) as res:
        ax = loss_figure(res).axes[0]
    (line,) = ax.get_lines()
    assert line.get_label() == "$E = E_0$"
    np.testing.assert_allclose(line.get_ydata(), [3.0, 2.0, 1.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["$E = E_0$"]


# ---------------------------------------------------------------- pattern


def test_pattern_figure_plane_of_first_and_last_iteration(results):
    fig = pattern_figure(results)
    assert [ax.get_title() for ax in fig.axes] == ["iteration 1 of 3", "iteration 3 of 3"]
    for ax, k in zip(fig.axes, (0, 2)):
        target, readout = ax.get_lines()
        assert (target.get_color(), readout.get_color()) == (BLUE, RED)
        np.testing.assert_allclose(target.get_xdata(), syn.target_signal(0))
        np.testing.assert_allclose(target.get_ydata(), syn.target_signal(1))
        np.testing.assert_allclose(readout.get_xdata(), syn.target_signal(0) + syn.OFFSETS[0, k])
        np.testing.assert_allclose(readout.get_ydata(), syn.target_signal(1) + syn.OFFSETS[1, k])
        assert ax.get_xlabel() == r"$y_0$, $y^*_0$ (mV)"
        assert ax.get_ylabel() == "$y_1$, $y^*_1$ (mV)\naxis inverted: grows downward"  # said, not only drawn
        assert ax.get_ylim()[0] > ax.get_ylim()[1]  # handwriting: y points down
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim()  # same scale in both panels


def test_pattern_figure_y_up_for_other_tasks(tmp_path):
    with open_results(syn.write_run(tmp_path / "results.h5", task="infinite_loop")) as res:
        ax = pattern_figure(res).axes[0]
    assert ax.get_ylim()[0] < ax.get_ylim()[1]
    assert ax.get_ylabel() == "$y_1$, $y^*_1$ (mV)"  # no note where the axis is not inverted


# ---------------------------------------------------------------- dynamics


def test_dynamics_figure_has_every_recorded_panel(results):
    fig = dynamics_figure(results, 0)
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels == [
        "$z_i$\ninput\nneuron",
        "$z_j$\nrecurrent\nneuron",
        "$v_j$\n(mV)",
        r"$\psi_j$",
        "$A_j$\n(mV)",
        "$L_j$\n(pA)",
        "$v_k$\n(mV)",
        "$y^*_k$\n(mV)",
        "$y_k$\n(mV)",
        "$y_k - y^*_k$\n(mV)",
    ]
    assert all(lines_with_data(ax) for ax in fig.axes)  # no empty panel
    assert fig.axes[-1].get_xlabel() == "$t$ since iteration start (ms)"
    first_sample = syn.OFFSET_MS
    assert fig.axes[-1].get_xlim() == (first_sample, first_sample + syn.STEPS - 1)


def test_dynamics_last_iteration_rasters_and_traces(results):
    fig = dynamics_figure(results, -1)
    assert fig._suptitle.get_text() == "iteration 3 of 3"
    input_raster, recurrent_raster = (lines_with_data(ax)[0] for ax in fig.axes[:2])
    assert len(input_raster.get_xdata()) == syn.INPUT_SPIKES_PER_ITERATION
    np.testing.assert_array_equal(input_raster.get_ydata(), 0)  # input neuron 1 is index 0
    counts = np.bincount(recurrent_raster.get_ydata().astype(int), minlength=len(syn.RECURRENT))
    np.testing.assert_array_equal(counts, syn.SPIKE_COUNTS[-1])
    t0 = syn.OFFSET_MS  # iteration 3 starts at 2 x STEPS ms: the figure counts time from there
    readout_traces = lines_with_data(fig.axes[8])
    assert len(readout_traces) == 2
    np.testing.assert_allclose(readout_traces[1].get_xdata(), t0 + np.arange(syn.STEPS))
    np.testing.assert_allclose(readout_traces[1].get_ydata(), syn.target_signal(1) + syn.OFFSETS[1, 2])
    learning_signal = lines_with_data(fig.axes[5])[0]
    np.testing.assert_allclose(learning_signal.get_ydata(), -2.0)


def test_dynamics_minimal_recording_has_only_recorded_panels(minimal_results):
    fig = dynamics_figure(minimal_results, 0)
    assert [ax.get_ylabel() for ax in fig.axes] == ["$z_j$\nrecurrent\nneuron", "$y^*_k$\n(mV)", "$y_k$\n(mV)"]
    assert all(lines_with_data(ax) for ax in fig.axes)


def test_dynamics_names_the_readouts_beside_the_panel(results):
    """Issue 19, 15: two readout colours and no legend said which is y_0 and which y_1."""
    fig = dynamics_figure(results, -1)
    readout = next(ax for ax in fig.axes if ax.get_ylabel() == "$y_k$\n(mV)")
    legend = readout.get_legend()
    assert legend.get_title().get_text().startswith("output $k$")
    assert [t.get_text() for t in legend.get_texts()] == ["0", "1"]
    assert [h.get_color() for h in legend.legend_handles] == [line.get_color() for line in readout.get_lines()]
    assert [ax.get_legend() is not None for ax in fig.axes].count(True) == 1  # one legend, on the y_k panel
    renderer = drawn(fig)
    assert legend.get_window_extent(renderer).x0 >= readout.get_window_extent(renderer).x1  # beside, not over


def test_a_silent_raster_shows_neuron_indices_and_says_no_spikes(tmp_path):
    """Issue 19, 17: a raster without spikes showed the ticks -0.05..0.05 instead of neuron indices."""
    path = syn.write_run(tmp_path / "results.h5")
    with h5py.File(path, "r+") as f:
        f["events/spike_recorder/senders"][:] = syn.INPUT[
            0
        ]  # every spike from input neuron 1: the recurrent are silent
    with open_results(path) as res:
        fig = dynamics_figure(res, -1)
    raster = next(ax for ax in fig.axes if ax.get_ylabel() == "$z_j$\nrecurrent\nneuron")
    assert not lines_with_data(raster)
    assert raster.get_ylim() == (-0.5, len(syn.RECURRENT) - 0.5)
    assert raster.get_yticks().tolist() == [0, 1, 2, 3]  # the recurrent neurons' indices
    assert [t.get_text() for t in raster.texts] == ["no spikes"]


# ---------------------------------------------------------------- weights


def test_weight_courses_start_at_initial_weight_and_keep_only_changes(results):
    fig = weight_courses_figure(results)
    assert [ax.get_title(loc="left") for ax in fig.axes] == [
        "input → recurrent",
        "recurrent → recurrent",
        "recurrent → readout",
    ]
    assert all(ax.get_ylabel().endswith("(pA)") for ax in fig.axes)
    assert fig.axes[-1].get_xlabel() == "$t$ (ms)"
    for ax, pair in zip(fig.axes, syn.RECORDED_PAIRS):
        (line,) = ax.get_lines()
        assert line.get_drawstyle() == "steps-post"
        w0 = 0.01 * pair[0] + 0.001 * pair[1]
        # t = 0: initial weight; then the first transmission of each iteration (t0 + 2 ms) carries
        # the new weight; the last transmission (t0 + 8 ms of the last iteration) ends the course
        t_first = [syn.OFFSET_MS + k * syn.STEPS + 2 for k in range(syn.N_ITER)]
        t_last = syn.OFFSET_MS + 2 * syn.STEPS + 8
        np.testing.assert_allclose(line.get_xdata(), [0.0, *t_first, t_last])
        expected = [w0] + [syn.recorded_weight(pair, k) for k in range(syn.N_ITER)] + [syn.recorded_weight(pair, 2)]
        np.testing.assert_allclose(line.get_ydata(), expected)


def test_weight_matrices_share_one_symmetric_colour_scale(results):
    fig = weight_matrices_figure(results)
    images = [artist for ax in fig.axes for artist in ax.get_images()]
    assert len(images) == 6
    limit = max(
        np.abs(w["weight"]).max()
        for stage in (syn.initial_weights(), syn.final_weights())
        for name, w in stage.items()
        if name != "out_rec"
    )
    for image in images:
        assert isinstance(image, AxesImage)
        assert image.get_clim() == pytest.approx((-limit, limit))
    colorbars = [ax for ax in fig.axes if not ax.get_images() and ax.get_ylabel() == "weight (pA)\ngrey: no connection"]
    assert len(colorbars) == 1
    in_rec_before = images[0].get_array()
    assert in_rec_before.shape == (len(syn.RECURRENT), len(syn.INPUT))  # postsynaptic (recurrent) neurons on y
    assert in_rec_before[0, 0] == pytest.approx(0.01 * 1 + 0.001 * 4)
    rec_out_after = images[5].get_array()
    assert rec_out_after[1, 0] == pytest.approx(0.01 * 4 + 0.001 * 9 + syn.WEIGHT_DELTA["rec_out"])
    rec_rec_before = images[2].get_array()
    assert np.all(np.diag(rec_rec_before).mask)  # no autapses: drawn in the "no connection" grey, not as 0 pA
    assert not np.any(rec_rec_before.mask[~np.eye(len(syn.RECURRENT), dtype=bool)])


def test_weight_matrices_put_presynaptic_neurons_on_x_in_every_panel(results):
    """Issue 19, 16: input -> recurrent had the presynaptic neurons on y, the other panels on x."""
    fig = weight_matrices_figure(results)
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert len(panels) == 6
    assert all(ax.get_xlabel().endswith("neuron (presyn.)") for ax in panels)
    assert all(ax.get_ylabel().endswith("neuron\n(postsyn.)") for ax in panels)
    assert [ax.get_xlabel() for ax in panels[::2]] == [
        "input neuron (presyn.)",
        "recurrent neuron (presyn.)",
        "recurrent neuron (presyn.)",
    ]
    for ax in panels:  # integer neuron indices as ticks
        assert all(float(t).is_integer() for t in [*ax.get_xticks(), *ax.get_yticks()])


def write_one_readout_run(path):
    """3 iterations, 3 inputs, 4 recurrent neurons and one readout, with initial and final weights."""
    from eprop.results import ResultsWriter

    one = syn.READOUT[:1]
    keep = {"rec_out": lambda w: np.isin(w["target"], one), "out_rec": lambda w: np.isin(w["source"], one)}

    def weights(stage):
        return {name: {k: v[keep[name](w)] if name in keep else v for k, v in w.items()} for name, w in stage.items()}

    writer = ResultsWriter(path, n_out=1, attrs={"n_iter": 3, "steps_per_sequence": syn.STEPS, "overrides": []})
    writer.write_neurons({"input": syn.INPUT, "recurrent": syn.RECURRENT, "readout": one})
    writer.write_weights("initial", weights(syn.initial_weights()))
    for loss in (3.0, 2.0, 1.0):
        writer.append_iteration(np.array([loss]), {})
    writer.write_weights("final", weights(syn.final_weights()))
    writer.finish("complete", {})
    writer.close()
    return path


def test_one_readout_has_one_tick_zero_not_half_integers(tmp_path):
    """Issue 19, 16: the recurrent -> readout panel of one readout showed the ticks -0.5, 0, 0.5."""
    with open_results(write_one_readout_run(tmp_path / "results.h5")) as res:
        fig = weight_matrices_figure(res)
    renderer = drawn(fig)
    readout = [ax for ax in fig.axes if ax.get_images() and ax.get_title(loc="left") == "recurrent → readout"]
    assert len(readout) == 2
    assert [ax.get_yticks().tolist() for ax in readout] == [[0], [0]]
    assert [t.get_text() for t in readout[0].get_yticklabels() if t.get_window_extent(renderer).height] == ["0"]
    with open_results(tmp_path / "results.h5") as res:  # and its loss: one curve, E = E_0
        assert [line.get_label() for line in loss_figure(res).axes[0].get_lines()] == ["$E = E_0$"]


def test_a_projection_that_would_look_blank_gets_its_own_colour_scale(run_file):
    """Issue 19, 16: N-MNIST's recurrent -> readout weights, 40 times smaller than the others, looked blank."""
    with h5py.File(run_file, "r+") as f:
        for stage in ("initial", "final"):
            f[f"weights/{stage}/rec_out/weight"][:] *= 1e-3
    with open_results(run_file) as res:
        fig = weight_matrices_figure(res)
        own = max(np.abs(res.weights(stage, "rec_out")["weight"]).max() for stage in ("initial", "final"))
        shared = max(
            np.abs(res.weights(stage, p)["weight"]).max()
            for stage in ("initial", "final")
            for p in ("in_rec", "rec_rec")
        )
    images = [image for ax in fig.axes for image in ax.get_images()]
    clims = [limit for image in images for limit in image.get_clim()]
    assert clims == pytest.approx([-shared, shared] * 4 + [-own, own] * 2)
    bars = [ax.get_ylabel() for ax in fig.axes if not ax.get_images()]
    assert bars == ["weight (pA)\ngrey: no connection", "own scale:\nweight (pA)"]


def test_nan_weights_are_black_and_the_colour_bar_says_so(run_file):
    """Issue 19, 16: NaN weights were drawn in the grey that the colour bar says means "no connection"."""
    with h5py.File(run_file, "r+") as f:
        f["weights/final/in_rec/weight"][0] = np.nan  # source 1 (input 0) -> target 4 (recurrent 0)
    with open_results(run_file) as res:
        fig = weight_matrices_figure(res)
    renderer = drawn(fig)
    pixels = np.asarray(renderer.buffer_rgba())

    def colour_at(ax, x, y):  # the RGB of the drawn cell at data (x, y)
        px, py = ax.transData.transform((x, y))
        return pixels[int(round(pixels.shape[0] - py)), int(round(px)), :3].tolist()

    panels = [ax for ax in fig.axes if ax.get_images()]
    in_rec_after, rec_rec_before = panels[1], panels[2]
    assert colour_at(in_rec_after, 0, 0) == [0, 0, 0]  # the NaN weight: black
    assert colour_at(rec_rec_before, 0, 0) == [200, 200, 200]  # an autapse, no connection: grey
    assert colour_at(panels[0], 0, 0) not in ([0, 0, 0], [200, 200, 200])  # the same synapse before: a weight
    assert [t.get_text() for t in in_rec_after.texts if t.get_text().startswith("NaN")] == ["NaN: 1 of 12 weights"]
    (bar,) = [ax for ax in fig.axes if not ax.get_images()]
    assert bar.get_ylabel() == "weight (pA)\ngrey: no connection; black: NaN weight"


# ---------------------------------------------------------------- several jobs


def test_override_labels_show_what_differs():
    labels, common = override_labels(
        [
            ["optimizer.eta=0.001", "task.n_iter=3", "progress=False", "hydra.sweep.dir=/x", "output.file=r.h5"],
            ["optimizer.eta=0.01", "task.n_iter=3", "progress=False", "hydra.sweep.dir=/x", "output.file=r.h5"],
        ]
    )
    assert labels == ["optimizer.eta=0.001", "optimizer.eta=0.01"]
    assert common == "task.n_iter=3"  # issue 19, 17: not progress=False and the like, which change no number


def test_loss_comparison_figure_overlays_jobs():
    fig = loss_comparison_figure([("a", np.array([3.0, 2.0])), ("b", np.array([3.0, 1.0]))], best=1)
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b (best)"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [3.0, 1.0])


def test_the_best_jobs_figures_say_which_job_and_the_title_only_what_matters(tmp_path, monkeypatch):
    """Issue 19, 17: the best job's figures did not say which job they show; loss_all_jobs' title listed
    progress=False."""
    from eprop.analysis import plot

    root = tmp_path / "multirun"
    common = ["task.n_iter=3", "progress=False"]
    syn.write_run(root / "0" / "results.h5", overrides=["optimizer.eta=0.001", *common], loss_scale=2.0)
    syn.write_run(root / "1" / "results.h5", overrides=["optimizer.eta=0.01", *common])
    figures = {}

    def keep(fig, path, dpi):
        figures[path.stem] = fig
        return path

    monkeypatch.setattr(plot, "save_figure", keep)
    plot_path(root, only={"loss_all_jobs", "loss", "pattern", "weight_matrices"})
    assert sorted(figures) == ["best_loss", "best_pattern", "best_weight_matrices", "loss_all_jobs"]
    for name in ("best_loss", "best_pattern", "best_weight_matrices"):
        assert figures[name].get_suptitle() == "best of 2 jobs (lowest final loss): job 1, optimizer.eta=0.01"
    (ax,) = figures["loss_all_jobs"].axes
    assert ax.get_title(loc="left") == "every job: task.n_iter=3"
    assert ax.get_ylabel() == "squared-error loss $E$ (mV$^2$)"


def test_the_loss_axis_of_several_jobs_names_its_unit_when_they_share_one():
    from eprop.analysis.plot import jobs_loss_label

    regression = ("regression", "mean_squared_error")
    assert jobs_loss_label([regression, regression]) == "squared-error loss $E$ (mV$^2$)"
    assert jobs_loss_label([("classification", "cross_entropy")]) == "cross-entropy loss $E$"
    assert jobs_loss_label([regression, ("classification", "cross_entropy")]) == (
        "loss $E$ (its kind and unit differ between jobs)"
    )


# ---------------------------------------------------------------- eprop plot
# (--dpi 40 where the test checks which figures are written, not their resolution: 5 times faster)


@pytest.mark.slow
def test_plot_run_directory_writes_every_figure(run_file, capsys):
    assert report.plot_main([str(run_file.parent), "--dpi", "40"]) == 0
    out = capsys.readouterr().out
    written = {p.stem for p in (run_file.parent / "figures").glob("*.png")}
    assert written == RUN_FIGURES
    assert str(run_file.parent / "figures" / "loss.png") in out


def test_plot_only_format_and_out(run_file, tmp_path):
    out = tmp_path / "elsewhere"
    assert (
        report.plot_main(
            [str(run_file), "--only", "loss,pattern", "--format", "pdf", "--out", str(out), "--dpi", "100", "--log"]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["loss.pdf", "pattern.pdf"]
    assert (out / "loss.pdf").read_bytes().startswith(b"%PDF")


def test_plot_out_that_cannot_be_written_is_one_line(run_file, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert report.plot_main([str(run_file), "--only", "loss", "--out", str(blocker)]) == 2
    assert capsys.readouterr().err == f"eprop: error: --out {blocker}: is a file, not a directory\n"  # issue 19 item 9
    assert report.plot_main([str(run_file), "--only", "loss", "--out", str(blocker / "figures")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"eprop: error: {blocker / 'figures'}: cannot write figures there")


def test_plot_unknown_figure_name_is_a_user_error(run_file, capsys):
    assert report.plot_main([str(run_file), "--only", "loss,nonsense"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("eprop: error: --only nonsense: no such figure; valid: pattern, loss,") and err.count("\n") == 1
    )


@pytest.mark.slow
def test_plot_minimal_recording_skips_what_was_not_recorded(tmp_path, capsys):
    path = syn.write_run(tmp_path / "results.h5", recording="minimal")
    assert report.plot_main([str(path), "--dpi", "40"]) == 0
    written = {p.stem for p in (tmp_path / "figures").glob("*.png")}
    assert written == RUN_FIGURES - {"weight_courses"}
    assert "eprop: skipped weight_courses:" in capsys.readouterr().err


@pytest.mark.slow
def test_plot_multirun_overlays_jobs_and_draws_the_best(tmp_path, capsys):
    root = tmp_path / "multirun"
    syn.write_run(root / "0" / "results.h5", overrides=["optimizer.eta=0.001"], loss_scale=2.0)
    syn.write_run(root / "1" / "results.h5", overrides=["optimizer.eta=0.01"])
    assert report.plot_main([str(root), "--dpi", "40"]) == 0
    written = {p.stem for p in (root / "figures").glob("*.png")}
    assert written == {"loss_all_jobs"} | {f"best_{name}" for name in RUN_FIGURES}
    assert f"best job (lowest final loss): {root / '1' / 'results.h5'}" in capsys.readouterr().out
    assert plot_path(root, only={"loss_all_jobs"}).best_job == root / "1" / "results.h5"


# ---------------------------------------------------------------- NEST tier: a real short run


@pytest.fixture(scope="session")
def real_run(tmp_path_factory):
    from tests.conftest import run_eprop

    run_dir = tmp_path_factory.mktemp("real") / "run"
    run_eprop("run", "task=handwriting", "task.n_iter=3", "progress=false", f"hydra.run.dir={run_dir}")
    return run_dir


@pytest.mark.nest
def test_plot_and_eval_on_a_real_run(real_run, capsys):
    assert report.plot_main([str(real_run)]) == 0
    assert {p.stem for p in (real_run / "figures").glob("*.png")} == RUN_FIGURES
    capsys.readouterr()
    assert report.eval_main([str(real_run), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "complete" and summary["n_iter_done"] == 3
    assert len(summary["loss"]) == 3
    assert summary["loss_recomputed_max_rel_diff"] < 1e-9  # /loss is what the readout signals say
    assert 0 < summary["rate_mean"] < 200  # spikes/s, a plausible regime for f_target = 20
    assert summary["weight_change"]["rec_out"]["change"] > 0


# ---------------------------------------------------------------- a recording schedule: iterations without events


@pytest.fixture
def scheduled(tmp_path):
    """Iteration 2 of 3 has no events (the recording schedule left it out)."""
    with open_results(syn.write_run(tmp_path / "scheduled" / "results.h5", recorded=(0, 2))) as res:
        yield res


def test_pattern_and_dynamics_of_a_scheduled_file_show_recorded_iterations(tmp_path):
    with open_results(syn.write_run(tmp_path / "results.h5", recorded=(1,))) as res:  # only iteration 2 of 3
        assert [ax.get_title() for ax in pattern_figure(res).axes] == ["iteration 2 of 3"]
        for which in (0, -1):
            fig = dynamics_figure(res, which)
            assert fig._suptitle.get_text() == "iteration 2 of 3"
            counts = np.bincount(lines_with_data(fig.axes[1])[0].get_ydata().astype(int), minlength=len(syn.RECURRENT))
            np.testing.assert_array_equal(counts, syn.SPIKE_COUNTS[1])


def test_weight_courses_break_where_iterations_were_not_recorded(scheduled):
    fig = weight_courses_figure(scheduled)
    assert fig._suptitle.get_text() == "events of 2 of 3 iterations recorded (gaps: not recorded)"
    gap = syn.OFFSET_MS + 1 * syn.STEPS  # the first sample of iteration 2, which has no events
    for ax, pair in zip(fig.axes, syn.RECORDED_PAIRS):
        (line,) = ax.get_lines()
        w0 = 0.01 * pair[0] + 0.001 * pair[1]
        t_first = [syn.OFFSET_MS + 2, syn.OFFSET_MS + 2 * syn.STEPS + 2]
        np.testing.assert_allclose(
            line.get_xdata(), [0.0, t_first[0], gap, t_first[1], syn.OFFSET_MS + 2 * syn.STEPS + 8]
        )
        expected = [
            w0,
            syn.recorded_weight(pair, 0),
            np.nan,
            syn.recorded_weight(pair, 2),
            syn.recorded_weight(pair, 2),
        ]
        np.testing.assert_allclose(line.get_ydata(), expected)  # NaN: no step across the unrecorded iteration


@pytest.mark.slow
def test_plot_of_a_scheduled_run_draws_every_figure_without_warnings(scheduled, tmp_path, capsys):
    report.plot_main([str(scheduled.path), "--out", str(tmp_path / "figures")])
    out, err = capsys.readouterr()
    assert err == ""
    assert {p.stem for p in (tmp_path / "figures").iterdir()} == RUN_FIGURES
    assert [ax.get_title() for ax in pattern_figure(scheduled).axes] == ["iteration 1 of 3", "iteration 3 of 3"]


def test_figures_of_a_run_still_training_say_so(tmp_path):
    """Issue 19 item 13: 'iteration 3 of 3' of a run that will have more iterations misled."""
    path = syn.write_run(tmp_path / "run" / "results.h5", status="running")
    with open_results(path) as running:
        assert [ax.get_title() for ax in pattern_figure(running).axes] == [
            "iteration 1 of 3 so far (still running)",
            "iteration 3 of 3 so far (still running)",
        ]
        titles = [text.get_text() for text in dynamics_figure(running, -1).texts] + [
            ax.get_title() for ax in dynamics_figure(running, -1).axes
        ]
        assert any(title.startswith("iteration 3 of 3 so far (still running)") for title in titles), titles

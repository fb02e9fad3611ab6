"""Fast tier: the sine-waves and custom targets, weight scaling and loading, model families.

Targets are checked against computations written out independently here (explicit time grid
instead of np.linspace, explicit loops instead of vectorized code). No NEST.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from eprop.config.validation import validate
from eprop.errors import UserError
from eprop.results import ResultsWriter
from eprop.tasks import task_for
from eprop.tasks.trajectory import draw_input_spikes, sine_waves_target
from eprop.training.loop import prepare_inputs
from eprop.training.weights import draw_weights, load_final_weights, scale_weights


def independent_sines(amplitudes, phases, periods, steps):
    """Sum of A sin(phi + 2 pi turns t / (steps - 1)), t = 0..steps-1, shifted to 0 and scaled to max |.| = 1."""
    total = [0.0] * steps
    for a, phi, period in zip(amplitudes, phases, periods):
        turns = steps // period
        for t in range(steps):
            total[t] += a * math.sin(phi + 2.0 * math.pi * turns * t / (steps - 1))
    start = total[0]
    shifted = [v - start for v in total]
    peak = max(max(abs(v) for v in shifted), 1e-6)
    return np.array([v / peak for v in shifted])


def test_sine_waves_target_matches_an_independent_computation():
    steps, periods = 1000, [1000, 500, 333, 200]
    target = sine_waves_target(np.random.RandomState(3), steps, periods)
    draws = np.random.RandomState(3)
    amplitudes = [draws.uniform(0.5, 2.0) for _ in periods]  # all amplitudes first ...
    phases = [draws.uniform(0.0, 2.0 * math.pi) for _ in periods]  # ... then all phases
    expected = independent_sines(amplitudes, phases, periods, steps)
    assert target.shape == (1, steps)
    assert np.allclose(target[0], expected, rtol=0, atol=1e-12)
    assert target[0, 0] == 0.0 and np.abs(target).max() == pytest.approx(1.0, abs=1e-15)
    # 333 steps fit 3 whole turns into 1000 steps (1000 // 333), not 1000 / 333
    single = sine_waves_target(np.random.RandomState(3), steps, [333])
    draws = np.random.RandomState(3)
    a, phi = draws.uniform(0.5, 2.0), draws.uniform(0.0, 2.0 * math.pi)
    assert np.allclose(single[0], independent_sines([a], [phi], [333], steps), atol=1e-12)


def test_sine_waves_shorter_than_every_period_is_flat_zero():
    """As in NEST's event-based test: 100 steps, periods >= 200, no whole turn: the target is 0."""
    target = sine_waves_target(np.random.RandomState(1), 100, [1000, 500, 333, 200])
    assert np.array_equal(target, np.zeros((1, 100)))


def test_sine_waves_draws_come_after_weights_and_input_spikes(compose):
    cfg = compose(
        "task=sine_waves", "task.sequence_steps=300", "task.sine_periods=[300,150]", "neuron.rec.n=7", "task.n_in=5"
    )
    inputs = prepare_inputs(cfg)  # RandomState(seed=1), as the run draws
    weights, spikes, target = inputs.weights, inputs.task.raster, inputs.task.target
    state = np.random.get_state()
    try:  # the NEST scripts' order on the global generator
        np.random.seed(1)
        w_in = np.float32(np.random.randn(5, 7).T / np.sqrt(5))
        np.random.randn(7, 7), np.random.randn(7, 1), np.random.randn(7, 1)
        raster = np.random.rand(300, 5).T < 0.05
        amplitudes = np.random.uniform(low=0.5, high=2.0, size=2)
        phases = np.random.uniform(low=0.0, high=2.0 * np.pi, size=2)
    finally:
        np.random.set_state(state)
    raster[:, 0] = False
    assert np.array_equal(weights["in_rec"], w_in)
    assert np.array_equal(spikes, raster)
    assert np.allclose(target[0], independent_sines(amplitudes, phases, [300, 150], 300), atol=1e-12)


def test_first_input_step_is_kept_when_asked():
    kept = draw_input_spikes(np.random.RandomState(2), 50, 20, 0.5, clear_first_step=False)
    cleared = draw_input_spikes(np.random.RandomState(2), 50, 20, 0.5)
    assert kept[:, 0].any() and not cleared[:, 0].any()
    assert np.array_equal(kept[:, 1:], cleared[:, 1:])


def interpolated(y: np.ndarray, steps_per_point: int) -> np.ndarray:
    """Piecewise-linear interpolation written out: sample i at step i*s, flat after the last sample."""
    out = []
    for step in range(len(y) * steps_per_point):
        i, frac = divmod(step, steps_per_point)
        nxt = y[min(i + 1, len(y) - 1)]
        out.append(y[i] + (nxt - y[i]) * frac / steps_per_point)
    return np.array(out)


def normalized(column: np.ndarray) -> np.ndarray:
    scaled = column / max(abs(v) for v in column)
    return scaled - sum(scaled) / len(scaled)


@pytest.mark.parametrize("data_format", ["increments", "samples"])
def test_custom_target_with_three_outputs(compose, tmp_path, data_format):
    rows = np.array([[1.0, -2.0, 0.5], [2.0, 1.0, 0.5], [-1.0, 3.0, -4.0], [0.5, 0.0, 2.0], [1.5, -1.0, 1.0]])
    path = tmp_path / "traj.csv"
    path.write_text("# x, y, z\n" + "\n".join(", ".join(str(v) for v in row) for row in rows) + "\n")
    cfg = compose(
        "task=custom", f"task.data_file={path}", f"task.data_format={data_format}", "task.steps_per_data_point=4"
    )
    validate(cfg)
    task = task_for(cfg)
    assert task.sequence_steps == 20 and task.n_outputs == 3
    task.draw(np.random.RandomState(1))
    target = task.target
    positions = rows.copy()
    if data_format == "increments":
        for i in range(1, len(rows)):
            positions[i] = positions[i - 1] + rows[i]
    expected = np.array([interpolated(normalized(positions[:, k]), 4) for k in range(3)])
    assert target.shape == (3, 20)
    assert np.allclose(target, expected, rtol=0, atol=1e-14)
    assert np.array_equal(rows, np.loadtxt(path, delimiter=","))  # the loaded data is not modified


def test_custom_accepts_one_column_and_whitespace(compose, tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("0.0\n1.0\n 3.0 \n2.0\n")
    cfg = compose("task=custom", f"task.data_file={path}", "task.data_format=samples", "task.steps_per_data_point=2")
    validate(cfg)
    task = task_for(cfg)
    task.draw(np.random.RandomState(1))
    target = task.target
    assert np.allclose(target[0], interpolated(normalized(np.array([0.0, 1.0, 3.0, 2.0])), 2), atol=1e-15)


CUSTOM_ERRORS = [
    ("", "task.data_file={path}: empty file; expected one or more numeric columns"),
    # issue 9 item 16: the message names the line (it said "not numeric; expected one or more numeric columns")
    ("1 2\nx 3\n", "task.data_file={path}: line 2 is not numeric (x 3); a header or comment line must start with #"),
    (
        "1 2\n3\n",
        "task.data_file={path}: rows have different numbers of columns ([1, 2]); expected one column per output",
    ),
    (
        "1 0\n-1 0\n",
        "task.data_file={path}: column 2 is zero throughout (as task.data_format=increments); it cannot be normalized",
    ),
]


@pytest.mark.parametrize("content,message", CUSTOM_ERRORS)
def test_bad_custom_files_are_one_line_errors(compose, tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    cfg = compose("task=custom", f"task.data_file={path}")
    with pytest.raises(UserError) as info:
        validate(cfg)
        task_for(cfg).data
    assert str(info.value) == message.format(path=path)


def test_custom_needs_a_data_file(compose):
    with pytest.raises(UserError) as info:
        validate(compose("task=custom", "task.data_file=null"))
    assert str(info.value) == "task.data_file: must be set for task.target=custom (a text file, one column per output)"


def test_weight_scales_are_exact_in_the_weight_dtype(compose):
    base = compose()
    drawn = draw_weights(np.random.RandomState(1), 10, 12, 2)
    same = scale_weights(drawn, base.weights)
    for name in drawn:  # scale 1, divide_by 1: bit for bit unchanged
        assert same[name].dtype == np.float32 and np.array_equal(same[name], drawn[name])
    cfg = compose("weights.rec_out.scale=0.03", "weights.out_rec.divide_by=0.03", "weights.rec_rec.scale=2.5")
    scaled = scale_weights(drawn, cfg.weights)
    assert np.array_equal(scaled["rec_out"], drawn["rec_out"] * np.float32(0.03))
    assert np.array_equal(scaled["out_rec"], drawn["out_rec"] / np.float32(0.03))
    assert np.array_equal(scaled["rec_rec"], drawn["rec_rec"] * np.float32(2.5))
    assert np.all(np.diag(scaled["rec_rec"]) == 0)  # autapses stay 0
    assert not np.array_equal(scaled["out_rec"], drawn["out_rec"] * np.float32(1 / 0.03))  # why divide_by exists


def test_load_final_weights_returns_target_by_source_matrices(tmp_path):
    path = tmp_path / "results.h5"
    writer = ResultsWriter(path, 1, {"config_yaml": "{}"})
    writer.write_neurons({"input": [1, 2], "recurrent": [3, 4, 5], "readout": [6]})
    rng = np.random.RandomState(0)
    expected = {
        "in_rec": rng.randn(3, 2),
        "rec_rec": rng.randn(3, 3),
        "rec_out": rng.randn(1, 3),
        "out_rec": rng.randn(3, 1),
    }
    np.fill_diagonal(expected["rec_rec"], 0.0)
    ids = {
        "in_rec": ([1, 2], [3, 4, 5]),
        "rec_rec": ([3, 4, 5], [3, 4, 5]),
        "rec_out": ([3, 4, 5], [6]),
        "out_rec": ([6], [3, 4, 5]),
    }
    snapshot = {}
    for name, (sources, targets) in ids.items():
        pairs = [(s, t) for s in sources for t in targets if s != t]
        snapshot[name] = {
            "source": np.array([p[0] for p in pairs]),
            "target": np.array([p[1] for p in pairs]),
            "weight": np.array([expected[name][targets.index(t), sources.index(s)] for s, t in pairs]),
        }
    writer.write_weights("final", snapshot)
    writer.finish("complete")
    writer.close()
    for where in (path, tmp_path):  # the file or its run directory
        loaded = load_final_weights(where)
        assert set(loaded) == set(expected)
        for name in expected:
            assert loaded[name].shape == expected[name].shape
            assert np.array_equal(loaded[name], expected[name])


def test_load_weights_of_an_unfinished_run_is_a_user_error(tmp_path):
    path = tmp_path / "results.h5"
    writer = ResultsWriter(path, 1, {})
    writer.close()
    with pytest.raises(UserError) as info:
        load_final_weights(path)
    assert (
        str(info.value)
        == f"{path}: has no /weights/final (the run did not finish; status running); stages present: none"
    )


@pytest.mark.slow
def test_model_eprop_switches_neuron_and_timing(compose):
    cfg = compose("model=eprop")
    assert (cfg.model.family, cfg.neuron.rec.model, cfg.neuron.readout.model) == (
        "eprop",
        "eprop_iaf_adapt",
        "eprop_readout",
    )
    assert (cfg.task.delay_rec_out, cfg.task.delay_out_norm, cfg.task.extension_sim) == (0, 0, 3)
    validate(cfg)
    for neuron in ("eprop_iaf", "eprop_iaf_psc_delta", "eprop_iaf_psc_delta_adapt"):
        chosen = compose("model=eprop", f"neuron={neuron}")
        assert chosen.neuron.rec.model == neuron
        validate(chosen)
    lif = compose("neuron=lif")
    assert (lif.model.family, lif.neuron.rec.model, lif.neuron.rec.adapt_beta) == (
        "bsshslm_2020",
        "eprop_iaf_bsshslm_2020",
        None,
    )
    validate(lif)


def test_psc_delta_regularization_is_derived_from_kappa(compose):
    rec = compose("model=eprop", "neuron=eprop_iaf_psc_delta", "neuron.rec.kappa=0.9").neuron.rec
    assert rec.c_reg == 2.0 / 1000 / (1.0 - 0.9) ** 2


FAMILY_ERRORS = [
    (
        ("model=eprop", "neuron=alif"),
        "neuron.rec.model=eprop_iaf_adapt_bsshslm_2020: not a model of model=eprop; with model=eprop use neuron= one of "
        "eprop_iaf, eprop_iaf_adapt, eprop_iaf_psc_delta, eprop_iaf_psc_delta_adapt",
    ),
    (
        ("neuron=eprop_iaf",),
        "neuron.rec.model=eprop_iaf: not a model of model=bsshslm_2020; with model=bsshslm_2020 use neuron= one of alif, lif",
    ),
    (("model.family=tf",), "model.family=tf: must be one of bsshslm_2020, eprop"),
    (("weights.out_rec.divide_by=0",), "weights.out_rec.divide_by=0.0: must be a finite non-zero number"),
    (("task=sine_waves", "task.sine_periods=[100,0]"), "task.sine_periods=0: must be an integer >= 1"),
    (("task.data_format=deltas",), "task.data_format=deltas: must be one of increments, samples"),
    (("optimizer.batch_size=0",), "optimizer.batch_size=0: must be an integer >= 1"),
]


@pytest.mark.parametrize("overrides,message", FAMILY_ERRORS)
def test_family_and_weight_errors_name_the_key(compose, overrides, message):
    with pytest.raises(UserError) as info:
        validate(compose(*overrides))
    assert str(info.value) == message


def test_a_missing_weights_source_names_the_key(compose):
    """Checked by the training layer right after validate (the config package reads no results files)."""
    from eprop.training.weights import check_weights_source

    validate(cfg := compose("weights.load=/no/such/run"))
    with pytest.raises(UserError) as info:
        check_weights_source(cfg.weights.load)
    assert str(info.value) == (
        "weights.load=/no/such/run: no such results file (give a results.h5 or a run directory holding one)"
    )


def test_nest_reference_presets_are_plain_configs(compose):
    """The presets only set ordinary fields; composing one equals composing its overrides by hand."""
    preset = compose("experiment=nest_eprop_iaf_psc_delta_gradient_descent")
    by_hand = compose(
        "task=sine_waves",
        "model=eprop",
        "neuron=eprop_iaf_psc_delta",
        "optimizer=gradient_descent",
        "recording=minimal",
        "task.sequence_steps=100",
        "task.clear_first_input_step=false",
        "neuron.rec.n=100",
        "neuron.rec.c_reg='${eprop.div:${eprop.div:2.0,${task.sequence_steps}},${eprop.pow:${eprop.sub:1.0,${.kappa}},2}}'",
        "optimizer.eta='${eprop.mul:1.0e-4,${eprop.pow:${eprop.sub:1.0,${neuron.rec.kappa}},2}}'",
        "optimizer.optimize_each_step=true",
        "weights.rec_out.scale='${eprop.sub:1.0,${neuron.rec.kappa}}'",
        "weights.out_rec.divide_by='${eprop.sub:1.0,${neuron.rec.kappa}}'",
    )
    a = OmegaConf.to_container(preset, resolve=True)
    b = OmegaConf.to_container(by_hand, resolve=True)
    a.pop("experiment"), b.pop("experiment")
    assert a == b
    assert preset.neuron.rec.c_reg == 2.0 / 100 / (1.0 - 0.97) ** 2
    assert preset.optimizer.eta == 1e-4 * (1.0 - 0.97) ** 2

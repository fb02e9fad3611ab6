"""Fast tier: the evidence-accumulation Task on the task layer, its config and its refusals.

The draws are compared with the NEST oracle's pure-numpy functions (tests/oracle/
evidence_accumulation.py), which follow NEST's test line by line; the NEST tier
(tests/nest/test_evidence_accumulation_nest.py) checks the numbers of whole runs.
"""

from __future__ import annotations

import numpy as np
import pytest

from eprop.config.families import n_recurrent, recurrent_populations
from eprop.config.timing import make_timing
from eprop.config.validation import validate
from eprop.errors import UserError
from eprop.tasks import evidence_accumulation as ea
from eprop.tasks import task_for
from eprop.training.weights import draw_weights

PRESET = "experiment=nest_bsshslm_2020_evidence_accumulation"
INITS = {"in_rec": "normal_fan_in", "rec_rec": "normal_fan_in", "rec_out": "glorot_uniform", "out_rec": "normal"}


def test_preset_composes_to_nest_test_setup(compose):
    cfg = compose(PRESET)
    validate(cfg)
    task = task_for(cfg)
    assert (task.kind, task.n_inputs, task.n_outputs, task.sequence_steps, task.learning_window_steps) == (
        "classification",
        40,
        2,
        2250,
        150,
    )
    assert cfg.neuron.readout.loss == "cross_entropy" and cfg.neuron.readout.tau_m == 20.0
    assert {name: cfg.weights[name].init for name in INITS} == INITS
    pops = recurrent_populations(cfg)
    assert [(key, p.model, p.n) for key, p in pops] == [
        ("neuron.rec", "eprop_iaf_bsshslm_2020", 50),
        ("neuron.rec_extra[0]", "eprop_iaf_adapt_bsshslm_2020", 50),
    ]
    regular, adaptive = pops[0][1], pops[1][1]
    assert regular.adapt_beta is None and regular.V_th == 0.6 and regular.t_ref == 5.0
    assert regular.surrogate_gradient_height == 0.5 and regular.surrogate_gradient_width == 0.6
    assert adaptive.adapt_tau == 2000.0 and adaptive.adaptation == 0.0
    assert adaptive.adapt_beta == 1.7 * (1.0 - np.exp(-1.0 / 2000.0)) / (1.0 - np.exp(-1.0 / 20.0))
    # everything else of the adaptive population is neuron.rec's
    assert {k: v for k, v in adaptive.items() if k not in ("model", "adapt_tau", "adapt_beta", "adaptation")} == {
        k: v for k, v in regular.items() if k not in ("model", "adapt_tau", "adapt_beta", "adaptation")
    }
    assert n_recurrent(cfg) == 100


def test_single_population_configs_are_one_population(compose):
    cfg = compose("task=sine_waves", "neuron=alif", "task.sequence_steps=100")
    assert cfg.neuron.rec_extra == [] and cfg.neuron.readout.loss == "mean_squared_error"
    assert [key for key, _ in recurrent_populations(cfg)] == ["neuron.rec"] and n_recurrent(cfg) == 200


def test_weights_and_signals_are_the_oracles_draws(compose, oracle):
    """Initial weights (rec->out Glorot, feedback unscaled) and three iterations of batch 2, bit for bit."""
    cfg = compose(PRESET, "task.batch_size=2")
    task = task_for(cfg)
    ours_rng, theirs_rng = np.random.RandomState(1), np.random.RandomState(1)
    ours = draw_weights(ours_rng, 40, 100, 2, "float32", INITS)
    theirs = oracle.draw_weights(theirs_rng)
    for name in INITS:
        assert ours[name].dtype == np.float32 and np.array_equal(ours[name], theirs[name]), name
    task.draw(ours_rng)
    for k in range(3):
        signals = task.iteration_signals(k)
        draw = oracle.draw_iteration(theirs_rng, 2)
        flat = draw["spikes"].reshape(-1, 40)
        for i in (0, 13, 25, 39):
            assert np.array_equal(signals.input_steps[i], np.flatnonzero(flat[:, i]).astype(float))
        assert np.array_equal(signals.labels, draw["labels"])
        expected = np.zeros((2, 2 * 2250))
        for s, label in enumerate(draw["labels"]):
            expected[label, s * 2250 : (s + 1) * 2250] = 1.0
        assert np.array_equal(signals.target, expected)


def test_signals_are_asked_in_order_and_resume_skips_the_parents_draws(compose):
    cfg = compose(PRESET)
    fresh, resumed = task_for(cfg), ea.EvidenceAccumulation(cfg)
    fresh.draw(np.random.RandomState(3))
    labels = [fresh.iteration_signals(k).labels.tolist() for k in range(4)]
    resumed.draw(np.random.RandomState(3))
    resumed.start_at(2)
    assert [resumed.iteration_signals(k).labels.tolist() for k in range(2)] == labels[2:]
    with pytest.raises(RuntimeError, match="iteration 5 asked for, 2 is next"):
        resumed.iteration_signals(5)


def test_outcome_is_cross_entropy_accuracy_labels_and_predictions(compose):
    cfg = compose(PRESET, "task.batch_size=2", "task.n_iter=1")
    task = task_for(cfg)
    timing = make_timing(cfg.task, 1.0, 2250, 150)
    rng = np.random.RandomState(0)
    readout = rng.uniform(0.1, 0.9, (2, 2, 2250))  # (sequence, output, step)
    readout[:, 1] = 1.0 - readout[:, 0]
    readout[0, 0, -150:] = 0.8  # sequence 0: predicts 0
    readout[0, 1, -150:] = 0.2
    readout[1, 0, -150:] = 0.7  # sequence 1: predicts 0
    readout[1, 1, -150:] = 0.3
    target = np.zeros_like(readout)
    target[0, 0], target[1, 1] = 1.0, 1.0  # labels 0, 1
    ids = np.array([42, 43])
    events = {
        "senders": np.tile(ids, 2 * 2250),
        "readout_signal": readout.transpose(0, 2, 1).reshape(-1),
        "target_signal": target.transpose(0, 2, 1).reshape(-1),
    }
    outcome = task.iteration_outcome(events, ids, timing)
    expected = -np.mean((np.log(0.8) + np.log(0.3)) / 2 * np.ones(1))
    assert outcome.loss.sum() == pytest.approx(expected, rel=1e-12)
    assert outcome.loss == pytest.approx([-np.log(0.8) / 2, -np.log(0.3) / 2], rel=1e-12)
    window = np.zeros(2250, dtype=bool)
    window[-150:] = True
    assert outcome.loss.sum() == pytest.approx(ea.cross_entropy_loss(readout, target, window), rel=1e-12)
    assert outcome.metrics == {"accuracy": 0.5}
    assert outcome.per_sequence["labels"].tolist() == [0, 1] and outcome.per_sequence["predicted"].tolist() == [0, 0]


def test_a_tie_is_no_prediction_and_counted_wrong(compose):
    """Issue 19, item 4: equal readouts (a silent network: softmax 0.5 each) were the class-0 prediction."""
    cfg = compose(PRESET, "task.batch_size=2", "task.n_iter=1")
    task = task_for(cfg)
    timing = make_timing(cfg.task, 1.0, 2250, 150)
    readout = np.full((2, 2, 2250), 0.5)  # (sequence, output, step): every readout equal
    target = np.zeros_like(readout)
    target[0, 0], target[1, 1] = 1.0, 1.0  # labels 0, 1
    ids = np.array([42, 43])
    events = {
        "senders": np.tile(ids, 2 * 2250),
        "readout_signal": readout.transpose(0, 2, 1).reshape(-1),
        "target_signal": target.transpose(0, 2, 1).reshape(-1),
    }
    outcome = task.iteration_outcome(events, ids, timing)
    assert outcome.metrics == {"accuracy": 0.0}  # argmax would have given 0.5 (label 0 "predicted")
    assert outcome.per_sequence["labels"].tolist() == [0, 1]
    assert outcome.per_sequence["predicted"].tolist() == [ea.NO_PREDICTION, ea.NO_PREDICTION] == [-1, -1]
    window = np.zeros(2250, dtype=bool)
    window[-150:] = True
    three = np.array([[[0.3], [0.3], [0.1]], [[0.2], [0.5], [0.5]], [[0.1], [0.2], [0.7]]])  # a tie of two of three
    assert ea.predicted_class(three, np.array([True])).tolist() == [-1, -1, 2]
    assert ea.accuracy(np.array([-1, 1]), np.array([-1, 1])) == 0.5  # a tie is wrong even against label -1
    from eprop.analysis.figures.classification import confusion_counts

    assert confusion_counts(np.array([0, 1]), np.array([-1, 1]), 2).tolist() == [[0, 0], [0, 1]]  # no cell for a tie


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            ["neuron.readout.loss=mean_squared_error"],
            "neuron.readout.loss=mean_squared_error: regression loss; the classification task evidence_accumulation needs cross_entropy",
        ),
        (
            ["task=sine_waves", "task.sequence_steps=100", "neuron.readout.loss=cross_entropy"],
            "neuron.readout.loss=cross_entropy: classification loss; the regression task sine_waves needs mean_squared_error",
        ),
        (
            ["model=eprop", "neuron=eprop_iaf_adapt"],
            "task.target=evidence_accumulation: a classification task needs a learning window, which model=eprop does not "
            "have here; use model=bsshslm_2020",
        ),
        (
            ["task.n_in=100"],
            "task.n_in=100: must be 4 x task.n_per_population = 40 (left cue, right cue, recall, noise)",
        ),
        (
            ["task.sequence_steps=1000"],
            "task.sequence_steps=1000: the cues, noise and recall window give 2250 steps; leave it null",
        ),
        (["task.cue_ms=100.5"], "task.cue_ms=100.5: must be a whole number of time steps of kernel.resolution=1.0 ms"),
        (
            ["+neuron.rec_extra.0.overrides.V_thr=1.0"],
            "neuron.rec_extra[0].overrides.V_thr: not a key of neuron.rec (overrides set neuron.rec's keys for this population)",
        ),
        (
            ["neuron.rec_extra.0.model=eprop_iaf_adapt"],
            "neuron.rec_extra[0].model=eprop_iaf_adapt: not a model of model=bsshslm_2020; must be one of "
            "eprop_iaf_adapt_bsshslm_2020, eprop_iaf_bsshslm_2020",
        ),
        (["recording.n_record=101"], "recording.n_record=101: must be <= the recurrent neurons=100"),
        (["task.cue_ms=-100"], "task.cue_ms=-100.0: must be > 0 ms"),
        (["task.prob_group=1.5"], "task.prob_group=1.5: must be a probability in [0, 1]"),
    ],
)
def test_what_cannot_work_is_refused_in_one_line(compose, overrides, message):
    with pytest.raises(UserError) as info:
        validate(compose(PRESET, *overrides))
    assert str(info.value) == message

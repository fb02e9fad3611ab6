"""Fast tier: task=nmnist's signals (spike times, targets, learning windows, loaders by phase),
its loss and accuracy, what it stores, and its one-line refusals. No NEST: the training-loop
tests use tests/support/fake_simulator.py."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from eprop.analysis import metrics
from eprop.config.phases import EARLY_STOPPING, TEST, TRAINING, VALIDATION
from eprop.config.timing import Timing
from eprop.config.validation import validate
from eprop.data import nmnist as data
from eprop.errors import UserError
from eprop.results import open_results
from eprop.tasks import task_for
from eprop.tasks.nmnist import Nmnist, mean_squared_error_loss
from eprop.training.loop import train
from tests.conftest import run_eprop_in_process
from tests.support.fake_simulator import FakeSimulator
from tests.support.nmnist_samples import write_synthetic_dataset

# Three kept pixels: (x=1, y=0, OFF) = 1, (x=2, y=0, OFF) = 2, (x=1, y=0, ON) = 1156 + 1 = 1157 -> inputs 0, 1, 2.
KEPT = (1, 2, 1157)
US = data.TIME_MAX_US  # 336040 us: rescaled onto the end of a 300-step sample


@pytest.fixture
def hand_data(tmp_path) -> tuple[Path, Path]:
    """Two training samples (digits 3 and 7), two test samples (digits 5 and 9), and a blocklist keeping KEPT."""
    root = tmp_path / "nmnist"
    # digit 3: input 0 at 0 us (step 0) and twice in step 1 (1000 us -> 0.89, 1100 us -> 0.98); input 1 at the
    # sample's end (336040 us -> step 300); input 2 at 168020 us (step 150); a blocked pixel (x=3) is dropped
    data.write_events(
        root / "Train" / "3" / "a.bin",
        [1, 1, 1, 2, 1, 3],
        [0] * 6,
        [0, 0, 0, 0, 1, 0],
        [0, 1000, 1100, US, US // 2, 5000],
    )
    # digit 7: input 1 at 560 us (0.49994 -> step 0), input 2 at 1121 us (1.0008 -> step 1), input 0 at the end (step 300)
    data.write_events(root / "Train" / "7" / "b.bin", [2, 1, 1], [0, 0, 0], [0, 1, 0], [560, 1121, US])
    data.write_events(root / "Test" / "5" / "c.bin", [1], [0], [0], [3000])  # step 3 (2.678)
    data.write_events(root / "Test" / "9" / "d.bin", [2], [0], [0], [3400])  # step 3 (3.035)
    blocklist = tmp_path / "blocklist.txt"
    blocklist.write_text("".join(f"{p}\n" for p in range(data.N_PIXELS) if p not in KEPT))
    return root, blocklist


def hand_config(compose, hand_data, *overrides: str):
    root, blocklist = hand_data
    return compose(
        "experiment=nmnist_small",
        f"task.data_dir={root}",
        f"task.blocklist_file={blocklist}",
        "task.n_in=3",
        "task.group_size=2",
        "task.n_train=null",
        "task.n_test=null",
        "neuron.rec.n=4",
        *overrides,
    )


def drawn_task(cfg, seed: int = 5) -> Nmnist:
    task = task_for(cfg)
    validate(cfg)
    task.draw(np.random.RandomState(seed))  # seed 5: permutation(2) = [0, 1], so the digit-3 sample comes first
    return task


def as_lists(signals):
    return [s.tolist() for s in signals.input_steps]


def test_spike_times_targets_and_windows_of_a_training_group(compose, hand_data):
    task = drawn_task(hand_config(compose, hand_data))
    assert (
        task.n_inputs,
        task.n_outputs,
        task.sequence_steps,
        task.learning_window_steps,
        task.sequences_per_iteration,
    ) == (3, 10, 300, 10, 2)
    signals = task.iteration_signals(0, TRAINING)
    # steps from the iteration's start; sample 2 starts at step 300. The digit-3 sample's event at its end lands
    # on step 300 beside the digit-7 sample's first (two spike times, as in the example); the digit-7 sample's
    # at its end would be step 600 = the next iteration's first: dropped, as the example's generator reload drops it.
    assert as_lists(signals) == [[0.0, 1.0, 1.0], [300.0, 300.0], [150.0, 301.0]]
    assert signals.labels.tolist() == [3, 7]
    expected_target = np.zeros((10, 600))
    expected_target[3, :300] = 1.0
    expected_target[7, 300:] = 1.0
    assert np.array_equal(signals.target, expected_target)
    assert np.flatnonzero(signals.learning_window).tolist() == list(range(290, 300)) + list(range(590, 600))


def test_every_phase_but_training_takes_the_test_loader(compose, hand_data):
    task = drawn_task(hand_config(compose, hand_data))
    test_order = np.random.RandomState(5)
    test_order.permutation(2)
    first = test_order.permutation(2)  # the test loader's permutation follows the training loader's
    digits = np.array([5, 9])
    got = [
        task.iteration_signals(k, phase).labels.tolist()
        for k, phase in enumerate([VALIDATION, TRAINING, EARLY_STOPPING, TEST])
    ]
    assert got[0] == digits[first].tolist()
    assert got[1] == [3, 7]  # the training loader's first group
    assert got[2] == got[3] == digits[first].tolist()  # groups of 2 of 2 samples: the permutation again
    validation = task_for(hand_config(compose, hand_data, "task.n_iter=3"))
    validation.draw(np.random.RandomState(5))
    assert as_lists(validation.iteration_signals(0, VALIDATION)) == (
        [[3.0], [303.0], []] if first.tolist() == [0, 1] else [[303.0], [3.0], []]
    )


def test_a_resumed_run_walks_each_loader_past_its_parents_groups(compose, hand_data, tmp_path):
    dataset = write_synthetic_dataset(tmp_path / "synthetic", n_per_digit=2, n_events=50)
    from tests.unit.test_nmnist_data import offline_blocklist

    cfg = compose(
        "experiment=nmnist_small",
        f"task.data_dir={dataset}",
        "task.group_size=3",
        "task.n_train=null",
        "task.n_test=null",
        "neuron.rec.n=4",
        f"task.blocklist_file={offline_blocklist()}",
    )
    phases = [VALIDATION, TRAINING, TRAINING, VALIDATION, EARLY_STOPPING, TRAINING, TEST]
    fresh = Nmnist(cfg)
    fresh.draw(np.random.RandomState(2))
    labels = [fresh.iteration_signals(k, p).labels.tolist() for k, p in enumerate(phases)]
    resumed = Nmnist(cfg)
    resumed.draw(np.random.RandomState(2))
    resumed.start_at(4, phases[:4])
    assert [resumed.iteration_signals(k, p).labels.tolist() for k, p in enumerate(phases[4:])] == labels[4:]
    with pytest.raises(RuntimeError, match="iteration 5 asked for, 3 is next"):
        resumed.iteration_signals(5, TEST)


def test_loss_and_accuracy_are_the_examples(compose, hand_data):
    task = drawn_task(hand_config(compose, hand_data, "task.sample_ms=6.0", "task.learning_window_ms=2.0"))
    timing = Timing(
        dt=1.0,
        sequence=6,
        batch_size=2,
        n_iter=1,
        offset_gen=1,
        delay_in_rec=1,
        delay_rec_out=0,
        delay_out_norm=0,
        extension_sim=1,
    )
    rng = np.random.RandomState(0)
    signal = rng.uniform(-0.5, 1.5, (2, 10, 6))  # (sample, output, step)
    target = np.zeros((2, 10, 6))
    target[0, 3], target[1, 7] = 1.0, 1.0
    signal[0, 3, 4:] = [2.0, 2.0]  # sample 0: output 3 has the largest window mean -> right
    signal[1, 1, 4:] = [3.0, 3.0]  # sample 1: output 1 -> wrong (label 7)
    ids = np.arange(11, 21)
    readout = {
        "senders": np.tile(ids, 12),  # NEST's order: step by step, every readout each step
        "readout_signal": signal.transpose(0, 2, 1).reshape(-1),
        "target_signal": target.transpose(0, 2, 1).reshape(-1),
    }
    outcome = task.iteration_outcome(readout, ids, timing)
    # the example: 0.5 * mean over (output, sample) of the sum over the window's 2 steps of the squared error
    example = 0.5 * np.mean(np.sum((signal[..., 4:] - target[..., 4:]) ** 2, axis=2))
    assert outcome.loss.shape == (10,)
    assert outcome.loss.sum() == pytest.approx(example, rel=1e-14)
    assert outcome.loss[3] == pytest.approx(
        0.5 * np.mean(np.sum((signal[:, 3, 4:] - target[:, 3, 4:]) ** 2, axis=1)) / 10
    )
    assert outcome.metrics == {"accuracy": 0.5}
    assert outcome.per_sequence["labels"].tolist() == [3, 7]
    assert outcome.per_sequence["predicted"].tolist() == [3, 1]
    assert mean_squared_error_loss(target, target, np.ones(6, dtype=bool)).tolist() == [0.0] * 10


def test_a_silent_network_predicts_no_class(compose, hand_data):
    """Issue 19, item 4: ten equal readouts (a silent network) were counted as the prediction "0"."""
    task = drawn_task(hand_config(compose, hand_data, "task.sample_ms=6.0", "task.learning_window_ms=2.0"))
    timing = Timing(
        dt=1.0,
        sequence=6,
        batch_size=2,
        n_iter=1,
        offset_gen=1,
        delay_in_rec=1,
        delay_rec_out=0,
        delay_out_norm=0,
        extension_sim=1,
    )
    target = np.zeros((2, 10, 6))
    target[0, 0], target[1, 7] = 1.0, 1.0  # labels 0 and 7
    ids = np.arange(11, 21)
    readout = {
        "senders": np.tile(ids, 12),
        "readout_signal": np.zeros(120),  # every readout 0 in every step
        "target_signal": target.transpose(0, 2, 1).reshape(-1),
    }
    outcome = task.iteration_outcome(readout, ids, timing)
    assert outcome.metrics == {"accuracy": 0.0}  # argmax: 0.5, for the sample labelled 0
    assert outcome.per_sequence["predicted"].tolist() == [-1, -1]


def test_a_run_stores_the_pixels_classes_and_one_row_per_group(compose, hand_data, tmp_path):
    cfg = hand_config(
        compose, hand_data, "task.n_iter=2", "phases.validate_every=2", "phases.n_early_stop=1", "phases.n_test=1"
    )
    train(cfg, tmp_path / "run", sim=FakeSimulator())
    with h5py.File(tmp_path / "run" / "results.h5") as f:
        assert f["input_pixel"][:].tolist() == list(KEPT)
        assert f["input_pixel"].attrs["units"] == "pixel"
        assert f.attrs["task_kind"] == "classification" and f.attrs["batch_size"] == 2
        assert f.attrs["loss_function"] == "mean_squared_error" and f.attrs["learning_window_steps"] == 10
        display = f.attrs["display"]
        assert (
            '"input_image_shape": [2, 34, 34]' in display
            and '"classes": ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]' in display
        )
        assert f["phase"][:].tolist() == [VALIDATION, TRAINING, TRAINING, TEST]
        assert f["labels"].shape == (4, 2)
        labels = f["labels"][:].tolist()
        assert labels[1] == [3, 7] and sorted(labels[0]) == [5, 9] and sorted(labels[3]) == [5, 9]
        assert f["loss"].attrs["units"] == "mV^2"
        assert f["events_recorded"][1] == 0  # the preset writes the events of the first and the last iterations only
    with open_results(tmp_path / "run" / "results.h5") as res:  # eval's loss check skips the others (it raised before)
        assert metrics.loss_check(res) < 1e-12


def offline_blocklist_env() -> dict:
    from tests.unit.test_nmnist_data import offline_blocklist

    return {"EPROP_DATA_DIR": str(offline_blocklist().parent)}


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ("model=bsshslm_2020", "neuron=lif"),
            "task.target=nmnist: runs on the event-based models (a learning window per sample from a rate generator, mean "
            "squared error), not model=bsshslm_2020; use model=eprop or experiment=nmnist",
        ),
        (
            ("task.batch_size=2",),
            "task.batch_size=2: nmnist plays task.group_size samples per iteration and updates the "
            "weights during them (optimizer.batch_size); leave it 1",
        ),
        (
            ("task.n_in=1000",),
            "task.n_in=1000: the pixel blocklist keeps 1196 of the 2312 pixel-polarity inputs; set task.n_in=1196",
        ),
        (("task.learning_window_ms=400",), "task.learning_window_ms=400.0: must be <= task.sample_ms=300.0 ms"),
        (
            ("task.sample_ms=300.5",),
            "task.sample_ms=300.5: must be a whole number of time steps of kernel.resolution=1.0 ms",
        ),
        (
            ("task.sequence_steps=200",),
            "task.sequence_steps=200: task.sample_ms=300.0 ms gives 300 steps; leave it null",
        ),
        (("task.n_train=21",), "task.n_train=21: the data set has 20 samples here; use 1..20, or null for all"),
        (("task.group_size=0",), "task.group_size=0: must be an integer >= 1"),
        (
            ("task.blocklist_file=/nonexistent/list.txt",),
            "task.blocklist_file=/nonexistent/list.txt: no such file; give a pixel blocklist (one pixel number 0..2311 per "
            "line) or null for NEST's list",
        ),
    ],
)
def test_what_cannot_work_is_one_line(nmnist_dir, overrides, message):
    proc = run_eprop_in_process(
        "run",
        "experiment=nmnist_small",
        "progress=false",
        f"task.data_dir={nmnist_dir}",
        "task.n_train=null",
        "task.n_test=null",
        *overrides,
        check=False,
        env=offline_blocklist_env(),
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"eprop: error: {message}\n")


def test_no_local_copy_offline_says_where_to_put_the_files(tmp_path, monkeypatch):
    def offline(dest):
        raise ConnectionError("no network")

    monkeypatch.setattr(data, "download_dataset", offline)
    env = {**offline_blocklist_env(), "EPROP_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_eprop_in_process(
        "run", "experiment=nmnist_small", "progress=false", f"hydra.run.dir={tmp_path / 'run'}", check=False, env=env
    )
    cached = tmp_path / "cache" / "nmnist"
    assert (proc.returncode, proc.stderr) == (
        2,
        (
            f"eprop: error: N-MNIST: not found and the download failed (ConnectionError); put the extracted Train.zip and "
            f"Test.zip (Train/<digit>/<id>.bin and Test/<digit>/<id>.bin) in {cached} or pass task.data_dir=PATH to a "
            f"folder with that layout (source: {data.DATASET_SOURCE})\n"
        ),
    )
    assert not (tmp_path / "run").exists()


def test_the_examples_settings_are_the_preset(compose, nmnist_dir):
    cfg = compose("experiment=nmnist", f"task.data_dir={nmnist_dir}")
    assert (cfg.task.group_size, cfg.task.n_iter, cfg.phases.n_test, cfg.phases.validate_every) == (100, 10, 2, 0)
    assert (cfg.model.family, cfg.neuron.rec.model, cfg.neuron.rec.n, cfg.neuron.readout.model) == (
        "eprop",
        "eprop_iaf",
        150,
        "eprop_readout",
    )
    assert (cfg.kernel.threads, cfg.kernel.total_num_virtual_procs) == (4, 4)
    assert [cfg.weights[p].sparsity for p in ("in_rec", "rec_rec", "rec_out", "out_rec")] == [0.75, 0.99, 0.0, None]
    kappa = 0.99
    scale = 1.0 - kappa
    assert cfg.neuron.rec.c_reg == 2.0 / 300.0 / scale**2  # bit for bit the example's value
    assert cfg.optimizer.eta == 5e-3 * scale**2
    assert cfg.neuron.rec.surrogate_gradient_width == 1.0 / 1.7
    assert (cfg.weights.rec_out.scale, cfg.weights.out_rec.divide_by) == (scale, scale)
    assert (cfg.weights.in_rec.scale, cfg.weights.rec_rec.scale, cfg.weights.out_rec.scale) == (1.0, 1.0, 1.0)
    small = compose("experiment=nmnist_small", f"task.data_dir={nmnist_dir}")
    assert (small.task.group_size, small.task.n_train, small.task.n_test, small.kernel.threads) == (20, 1000, 200, 1)


def test_a_truncated_sample_stops_the_run_before_its_results_file(compose, hand_data, tmp_path):
    """Issue 19, item 5: a corrupt sample was found only when its iteration read it."""
    root, _ = hand_data
    sample = root / "Train" / "7" / "b.bin"
    sample.write_bytes(sample.read_bytes()[:-2])
    cfg = hand_config(compose, hand_data, "task.n_iter=2")
    with pytest.raises(UserError) as info:
        train(cfg, tmp_path / "run", sim=FakeSimulator())
    assert str(info.value) == (
        f"{sample}: 13 bytes is not a whole number of 5-byte events; the file is truncated or not an N-MNIST sample"
    )
    assert not (tmp_path / "run" / "results.h5").exists()


def test_a_corrupt_sample_found_in_the_first_iteration_leaves_no_results_file(compose, hand_data, tmp_path):
    """Issue 19, item 5: a run that failed before its first iteration ended kept a results file of 0 iterations."""
    root, _ = hand_data
    data.write_events(root / "Train" / "3" / "a.bin", [1], [0], [0], [0])
    raw = bytearray((root / "Train" / "3" / "a.bin").read_bytes())
    raw[0] = 40  # x = 40: outside the 34 x 34 sensor, a size the up-front check accepts
    (root / "Train" / "3" / "a.bin").write_bytes(bytes(raw))
    with pytest.raises(UserError) as info:
        train(hand_config(compose, hand_data, "task.n_iter=2"), tmp_path / "run", sim=FakeSimulator())
    assert str(info.value).endswith(
        "event 0 has pixel (x=40, y=0) outside the 34 x 34 sensor; the file is corrupt or not an N-MNIST sample"
    )
    assert not (tmp_path / "run" / "results.h5").exists()

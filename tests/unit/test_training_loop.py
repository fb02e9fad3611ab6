"""Fast tier: the training loop (eprop/training/loop.py) against the fake simulator of
tests/support/fake_simulator.py: statuses, signals, pending updates, resumed counters, divergence,
the generators one iteration ahead, and the spike times the NEST simulator is given. No NEST.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from eprop import simulator
from eprop.config.timing import Timing
from eprop.config.validation import validate
from eprop.errors import Diverged, Interrupted, UserError
from eprop.results import open_results
from eprop.tasks import task_for, trajectory
from eprop.training.loop import prepare_inputs, train
from eprop.training.resume import Parent
from tests.support.fake_simulator import FakeSimulator

SEQUENCE = 20  # steps of 1 ms
SMALL = (
    "task=sine_waves",
    f"task.sequence_steps={SEQUENCE}",
    "task.sine_periods=[10]",
    "task.n_in=4",
    "neuron.rec.n=5",
    "recording=minimal",
    "progress=false",
)


@pytest.fixture
def small(compose):
    def make(*overrides: str):
        return compose(*SMALL, *overrides)

    return make


def sigint_in(iteration: int, times: int = 1):
    """on_simulate hook: the process gets SIGINT `times` times while chunk `iteration` runs."""

    def hook(k: int) -> None:
        if k == iteration:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)

    return hook


def weight_change(res, projection: str) -> np.ndarray:
    return res.weights("final", projection)["weight"] - res.weights("initial", projection)["weight"]


def loss_of(error: float, n_out: int = 1) -> float:
    return 0.5 * SEQUENCE * error**2 * n_out


def test_a_complete_run(small, tmp_path):
    sim = FakeSimulator()
    seen = []
    final = train(
        small("task.n_iter=3"), tmp_path, ["task.n_iter=3"], on_iteration=lambda k, loss, total: seen.append(k), sim=sim
    )
    assert final == pytest.approx(loss_of(0.3), rel=1e-12)
    assert seen == [0, 1, 2]
    with open_results(tmp_path) as res:
        assert (res.status, res.n_iter_done, res.attrs["first_iteration"], res.attrs["parent_run"]) == (
            "complete",
            3,
            0,
            "",
        )
        assert res.loss == pytest.approx([loss_of(0.1), loss_of(0.2), loss_of(0.3)], rel=1e-12)
        assert (res.attrs["task_kind"], res.attr_json("display")) == ("regression", {})
        assert res.target.shape == (1, SEQUENCE)
        for projection in ("in_rec", "rec_rec", "rec_out"):  # 3 updates, the last one by the final-update spike
            assert np.all(weight_change(res, projection) == 3.0)
        assert np.all(weight_change(res, "out_rec") == 0.0)
    assert [c for c in sim.calls if c[0] == "apply_pending_updates"] == []


def test_generators_hold_this_and_the_next_iteration_and_the_task_is_asked_once_each(small, tmp_path, monkeypatch):
    asked = []
    original = trajectory.TrajectoryTask.iteration_signals

    def spy(self, k, phase=0):
        asked.append(k)
        return original(self, k, phase)

    monkeypatch.setattr(trajectory.TrajectoryTask, "iteration_signals", spy)
    sim = FakeSimulator()
    train(small("task.n_iter=3", "task.batch_size=2"), tmp_path, sim=sim)
    assert asked == [0, 1, 2]
    ends = [4 + 40 + 1, 4 + 80 + 1, 4 + 120 + 1]  # total_offset + (k + 1) * iteration + min_delay
    assert [c[1] for c in sim.calls if c[0] == "load_generators"] == [([0, 1], 0), ([1, 2], ends[0]), ([2], ends[1])]
    assert [c[1] for c in sim.calls if c[0] == "simulate_until"] == ends


def test_a_signal_stops_at_the_iteration_boundary_and_applies_the_pending_update(small, tmp_path):
    sim = FakeSimulator(on_simulate=sigint_in(1))
    with pytest.raises(Interrupted) as info:
        train(small("task.n_iter=4"), tmp_path, sim=sim)
    assert str(info.value) == (
        f"SIGINT after 2 of 4 iterations; results kept in {tmp_path}; continue with: eprop run resume={tmp_path}"
    )
    assert info.value.exit_code == 130
    assert ("apply_pending_updates", 4 + 2 * SEQUENCE + 1) in sim.calls
    with open_results(tmp_path) as res:
        assert (res.status, res.n_iter_done) == ("interrupted", 2)
        assert np.all(weight_change(res, "rec_out") == 2.0)  # without the pending update it would be 1
        assert set(res.file["optimizer"]) == {"in_rec", "rec_rec", "rec_out"}


def test_a_signal_in_the_last_iteration_completes_the_run(small, tmp_path):
    sim = FakeSimulator(on_simulate=sigint_in(2))
    with pytest.raises(Interrupted) as info:
        train(small("task.n_iter=3"), tmp_path, sim=sim)
    assert str(info.value) == f"SIGINT during the last iteration; the run is complete: {tmp_path}"
    with open_results(tmp_path) as res:
        assert (res.status, res.n_iter_done) == ("complete", 3)
        assert np.all(weight_change(res, "in_rec") == 3.0)
    assert [c for c in sim.calls if c[0] == "apply_pending_updates"] == []


def test_a_second_signal_stops_at_once_without_final_weights(small, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(small("task.n_iter=4"), tmp_path, sim=FakeSimulator(on_simulate=sigint_in(1, times=2)))
    with open_results(tmp_path) as res:
        assert (res.status, res.n_iter_done, res.attrs["error"]) == ("interrupted", 1, "KeyboardInterrupt: SIGINT")
        assert res.weight_stages == ["initial"]


def test_an_error_while_simulating_marks_the_run_failed(small, tmp_path):
    def boom(k):
        if k == 1:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        train(small("task.n_iter=3"), tmp_path, sim=FakeSimulator(on_simulate=boom))
    with open_results(tmp_path) as res:
        assert (res.status, res.n_iter_done, res.attrs["error"]) == ("failed", 1, "RuntimeError: boom")


def test_a_nan_loss_ends_the_run_as_diverged_with_the_pending_update(small, tmp_path):
    with pytest.raises(Diverged) as info:
        train(small("task.n_iter=4"), tmp_path, sim=FakeSimulator(errors={1: float("nan")}))
    assert str(info.value) == f"diverged at iteration 2 of 4: loss is nan; results kept in {tmp_path}"
    assert info.value.exit_code == 3
    with open_results(tmp_path) as res:
        assert (res.status, res.n_iter_done, res.attrs["error"]) == (
            "diverged",
            2,
            "diverged at iteration 2 of 4: loss is nan",
        )
        assert np.isnan(res.loss[1])
        assert np.all(weight_change(res, "rec_rec") == 2.0)  # iteration 1's update too, applied on the early stop


def test_a_saturated_rate_ends_the_run_as_diverged(small, tmp_path):
    # 19 spikes per neuron in a 20 ms iteration: 950 spikes/s > 0.9 x 1000 spikes/s
    with pytest.raises(Diverged) as info:
        train(small("task.n_iter=4"), tmp_path, sim=FakeSimulator(spikes={0: 19}))
    assert str(info.value) == (
        "diverged at iteration 1 of 4: mean recurrent rate 950 spikes/s exceeds "
        f"recording.saturated_rate=0.9 x 1000 spikes/s (the maximal rate); results kept in {tmp_path}"
    )
    with open_results(tmp_path) as res:
        assert (res.status, res.n_iter_done) == ("diverged", 1)


def test_a_resumed_run_counts_from_the_parents_iterations(small, tmp_path):
    state = {
        "rec_out": {"source": np.array([5]), "target": np.array([10]), "m": np.array([0.5]), "v": np.array([0.25])}
    }
    parent = Parent(
        Path("/runs/parent"), n_iter_done=3, optimizer_state=state, results_file=Path("/runs/parent/results.h5")
    )
    seen = []
    sim = FakeSimulator(on_simulate=sigint_in(0), errors={0: 0.5})
    with pytest.raises(Interrupted) as info:
        train(
            small("task.n_iter=6"),
            tmp_path,
            parent=parent,
            on_iteration=lambda k, loss, total: seen.append((k, loss)),
            sim=sim,
        )
    assert str(info.value).startswith("SIGINT after 4 of 6 iterations; ")
    assert seen == [(3, pytest.approx(loss_of(0.5), rel=1e-12))]
    assert ("reset_kernel", 3) in sim.calls and ("set_optimizer_state", ["rec_out"]) in sim.calls
    with open_results(tmp_path) as res:
        assert (res.attrs["first_iteration"], res.attrs["parent_run"], res.attrs["n_iter"]) == (3, "/runs/parent", 6)
    with pytest.raises(Diverged) as info:
        train(small("task.n_iter=6"), tmp_path / "b", parent=parent, sim=FakeSimulator(errors={1: float("inf")}))
    assert str(info.value).startswith("diverged at iteration 5 of 6: loss is inf; ")


def test_handwriting_tells_the_results_file_its_y_axis_points_down(compose, tmp_path, handwriting_file):
    cfg = compose(
        "task.n_iter=1", f"task.data_file={handwriting_file}", "task.n_in=3", "neuron.rec.n=4", "recording=minimal"
    )
    train(cfg, tmp_path, sim=FakeSimulator())
    with open_results(tmp_path) as res:
        assert (res.attrs["task_kind"], res.attr_json("display")) == ("regression", {"y_axis_down": True})
        assert res.target.shape == (2, 1824)


def test_the_data_file_is_parsed_once(compose, tmp_path, monkeypatch):
    path = tmp_path / "xy.txt"
    path.write_text("1 2\n2 1\n3 0\n")
    parsed = []
    original = trajectory.load_trajectory
    monkeypatch.setattr(trajectory, "load_trajectory", lambda *a, **k: parsed.append(a) or original(*a, **k))
    cfg = compose(*SMALL, "task=custom", f"task.data_file={path}", "task.sequence_steps=null", "task.n_iter=1")
    train(cfg, tmp_path / "run", sim=FakeSimulator())
    assert len(parsed) == 1
    assert task_for(cfg).n_outputs == 2


def test_spike_times_and_amplitudes_are_those_of_the_seed_formula(compose):
    """load_generators gives NEST the same floats as the seed's formula: integer steps in float64,
    one multiplication by dt (here 0.3 ms, where another order of operations would differ)."""
    cfg = compose(*SMALL, "task.batch_size=2", "task.input_spike_prob=0.5")
    inputs = prepare_inputs(cfg)
    task = inputs.task
    t = Timing(
        dt=0.3,
        sequence=SEQUENCE,
        batch_size=2,
        n_iter=6,
        offset_gen=1,
        delay_in_rec=1,
        delay_rec_out=1,
        delay_out_norm=1,
        extension_sim=1,
    )
    got = {}
    net = SimpleNamespace(
        timing=t, gen_spk_in=Generators(4, got, "spikes"), gen_rate_target=Generators(1, got, "rates"), gen_window=None
    )
    now = 3 * t.iteration + 7
    simulator.load_generators(net, {3: task.iteration_signals(3), 4: task.iteration_signals(4)}, now)
    grid = np.arange(t.sequence, dtype=float)  # the seed's formula, as eprop used it before the task layer
    starts = np.array([k * t.iteration + b * t.sequence for k in (3, 4) for b in range(2)], dtype=float)
    for row, params in zip(task.raster, got["spikes"]):
        steps = (grid[row][None, :] + t.offset_gen + starts[:, None]).ravel()
        assert np.array_equal(params["spike_times"], steps[steps > now] * t.dt)
    amp_steps = (grid[None, :] + t.total_offset + starts[:, None]).ravel()
    keep = amp_steps >= now
    (rates,) = got["rates"]
    assert np.array_equal(rates["amplitude_times"], amp_steps[keep] * t.dt)
    assert np.array_equal(rates["amplitude_values"], np.tile(task.target[0], 4)[keep])


class Generators:
    """Stands in for a NodeCollection of generators: remembers what `set` was given."""

    def __init__(self, n: int, store: dict, key: str):
        self.n, self.store, self.key = n, store, key

    def __len__(self) -> int:
        return self.n

    def set(self, params) -> None:
        self.store[self.key] = params


def test_validate_asks_the_task(compose):
    with pytest.raises(UserError) as info:
        validate(compose("task.target=spiral"))
    assert (
        str(info.value)
        == "task.target=spiral: must be one of handwriting, infinite_loop, sine_waves, custom, evidence_accumulation, nmnist"
    )


# ---------------------------------------------------------------- the recording schedule


def events_recorded(res) -> list[int]:
    return res.file["events_recorded"][()].tolist()


def test_a_schedule_writes_events_of_the_chosen_iterations_and_every_loss(small, tmp_path):
    every = small("task.n_iter=12")
    train(every, tmp_path / "every", sim=FakeSimulator())
    scheduled = small(
        "task.n_iter=12", "recording.events_every=5", "recording.events_first=2", "recording.events_last=1"
    )
    train(scheduled, tmp_path / "scheduled", sim=FakeSimulator())
    with open_results(tmp_path / "every") as a, open_results(tmp_path / "scheduled") as b:
        assert np.array_equal(a.loss, b.loss) and np.array_equal(a.loss_per_output, b.loss_per_output)  # bit for bit
        assert a.recorded_iterations("multimeter_out").tolist() == list(range(12)) and a.events_complete
        # 1-based: 1, 2 (first), 5, 10 (every 5th), 12 (last); 0-based in the file:
        assert events_recorded(b) == [1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1]
        assert not b.events_complete
        for recorder in ("multimeter_out", "spike_recorder"):
            assert b.recorded_iterations(recorder).tolist() == [0, 1, 4, 9, 11]
            starts = b.iteration_starts(recorder)
            assert starts.size == 13
            for k in range(12):
                assert (starts[k + 1] > starts[k]) == (k in (0, 1, 4, 9, 11))
            for k in (0, 1, 4, 9, 11):  # the kept iterations hold exactly the unscheduled run's events
                for name, values in a.events(recorder, iteration=k).items():
                    assert np.array_equal(b.events(recorder, iteration=k)[name], values)
            assert b.n_events(recorder) == sum(
                a.iteration_bounds(recorder, k)[1] - a.iteration_bounds(recorder, k)[0] for k in (0, 1, 4, 9, 11)
            )
        with pytest.raises(IndexError, match="the events of iteration 3 were not written"):
            b.events("multimeter_out", iteration=2)


def test_events_every_0_keeps_only_the_last_iteration_of_a_complete_run(small, tmp_path):
    train(small("task.n_iter=4", "recording.events_every=0"), tmp_path, sim=FakeSimulator())
    with open_results(tmp_path) as res:
        assert events_recorded(res) == [0, 0, 0, 1]
        assert len(res.loss) == 4


def test_the_iteration_a_run_stops_in_keeps_its_events(small, tmp_path):
    every_0 = ("task.n_iter=6", "recording.events_every=0", "recording.events_first=1")
    with pytest.raises(Interrupted):
        train(small(*every_0), tmp_path / "signal", sim=FakeSimulator(on_simulate=sigint_in(2)))
    with pytest.raises(Diverged):
        train(small(*every_0), tmp_path / "diverged", sim=FakeSimulator(errors={3: float("nan")}))
    with open_results(tmp_path / "signal") as res:
        assert (res.status, events_recorded(res)) == ("interrupted", [1, 0, 1])
    with open_results(tmp_path / "diverged") as res:
        assert (res.status, events_recorded(res)) == ("diverged", [1, 0, 0, 1])


def test_a_resumed_run_keeps_the_schedule_of_the_whole_training(small, tmp_path):
    parent = Parent(
        Path("/runs/parent"), n_iter_done=3, optimizer_state={}, results_file=Path("/runs/parent/results.h5")
    )
    cfg = small("task.n_iter=10", "recording.events_every=4", "recording.events_first=1", "recording.events_last=2")
    train(cfg, tmp_path, parent=parent, sim=FakeSimulator())
    with open_results(tmp_path) as res:  # iterations 4-10 of 10: 4, 8 (every 4th), 9, 10 (last 2); 1 is the parent's
        assert events_recorded(res) == [1, 0, 0, 0, 1, 1, 1]
        assert res.recorded_iterations("spike_recorder").tolist() == [0, 4, 5, 6]


@pytest.mark.parametrize(
    "override, line",
    [
        ("recording.events_every=-1", "recording.events_every=-1: must be an integer >= 0"),
        ("recording.events_first=-2", "recording.events_first=-2: must be an integer >= 0"),
        ("recording.events_last=-3", "recording.events_last=-3: must be an integer >= 0"),
    ],
)
def test_a_bad_schedule_is_one_line(small, override, line):
    with pytest.raises(UserError) as info:
        validate(small(override))
    assert str(info.value) == line


def test_the_converge_preset_keeps_the_events_of_29_of_5000_iterations(compose):
    from eprop.training.event_schedule import EventSchedule

    schedule = EventSchedule.from_config(compose("experiment=handwriting_converge"))
    kept = [i + 1 for i in range(5000) if schedule.records(i)]
    assert kept == [*range(1, 11), *range(500, 5000, 500), *range(4991, 5001)]
    assert schedule.count() == 29
    assert (
        EventSchedule.from_config(compose("recording=tutorial", "task.n_iter=7")).count() == 7
    )  # the default: every one


def test_iterations_after_task_n_iter_keep_events_only_by_the_schedule(compose):
    """A phase schedule runs past task.n_iter (validation, early stopping, test): those iterations are
    not 'the last events_last of task.n_iter' (the 626-iteration evidence-accumulation run wrote
    every iteration after 500 before this was fixed)."""
    from eprop.training.event_schedule import EventSchedule

    schedule = EventSchedule.from_config(compose("experiment=evidence_accumulation_long"))
    kept = [i + 1 for i in range(626) if schedule.records(i)]
    assert kept == [1, *range(50, 626, 50)]  # and the run's last iteration, which the loop adds
    with_last = EventSchedule(every=0, first=0, last=2, n_iter=500)
    assert [i + 1 for i in range(626) if with_last.records(i)] == [499, 500]


@pytest.mark.slow
def test_memory_does_not_grow_with_n_iter_and_a_signal_works_from_the_first_iteration(small, tmp_path):
    """Issue 19, item 3: nothing is built per requested iteration before the first one (task.n_iter=1e9
    reserved 18.9 GB, and the first SIGINT went unheard while it did)."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(Interrupted) as info:
            train(small("task.n_iter=1000000000"), tmp_path, sim=FakeSimulator(on_simulate=sigint_in(0)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value).startswith("SIGINT after 1 of 1000000000 iterations; ")
    assert peak < 50e6  # bytes; a list of 1e9 chunk ends alone is 36 GB
    t = Timing(
        dt=1.0,
        sequence=20,
        batch_size=2,
        n_iter=3,
        offset_gen=1,
        delay_in_rec=1,
        delay_rec_out=1,
        delay_out_norm=1,
        extension_sim=5,
    )
    assert [t.chunk_end(k, lag=1) for k in range(3)] == t.chunk_ends(lag=1) == [45, 85, 129]


def test_a_busy_network_runs_to_the_end_with_one_warning_line(small, tmp_path, caplog):
    """Issue 19, item 2: 250 spikes/s (25% of the maximal rate; NEST's own scripts run at 22%) is no divergence."""
    train(small("task.n_iter=3"), tmp_path, sim=FakeSimulator(spikes={0: 5, 1: 5}))
    with open_results(tmp_path) as res:
        assert (res.status, res.n_iter_done) == ("complete", 3)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "mean recurrent rate 250 spikes/s in iteration 1 (25% of the maximal 1000 spikes/s): a busy "
        "network; the run goes on (it ends as diverged above recording.saturated_rate=0.9 of it)"
    ]


def test_a_network_silent_at_the_end_says_so_in_one_warning_line(small, tmp_path, caplog):
    train(small("task.n_iter=3"), tmp_path, sim=FakeSimulator(spikes={1: 0, 2: 0}))
    with open_results(tmp_path) as res:
        assert res.status == "complete"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "no recurrent neuron spiked in iteration 3, the run's last (silent since iteration 2): the network "
        "is silent and cannot learn through its recurrent layer; check neuron.rec.V_th, the input and the weights"
    ]


def test_nan_final_weights_end_the_run_as_diverged(small, tmp_path):
    """Issue 19, item 1: NaN weights (e.g. in_rec, whose NaN silences the network and leaves the loss finite) are never complete."""

    class NanWeights(FakeSimulator):
        def read_weights(self, net):
            weights, state = super().read_weights(net)
            weights["in_rec"]["weight"][:] = np.nan
            return weights, state

    with pytest.raises(Diverged) as info:
        train(small("task.n_iter=2"), tmp_path, sim=NanWeights())
    assert (
        str(info.value)
        == f"diverged at iteration 2 of 2: 20 of 20 final in_rec weights are nan; results kept in {tmp_path}"
    )
    with open_results(tmp_path) as res:
        assert (res.status, res.n_iter_done) == ("diverged", 2)


def test_a_nan_recorded_weight_ends_the_run_as_diverged_at_once():
    from eprop.training.divergence import divergence

    cfg = SimpleNamespace(recording=SimpleNamespace(spikes_recurrent=False, saturated_rate=0.9))
    events = {"weight_recorder": {"senders": np.array([1, 2]), "weights": np.array([0.5, np.nan])}}
    t = Timing(
        dt=1.0,
        sequence=20,
        batch_size=1,
        n_iter=3,
        offset_gen=1,
        delay_in_rec=1,
        delay_rec_out=1,
        delay_out_norm=1,
        extension_sim=1,
    )
    assert divergence(cfg, np.array([1.0]), None, np.array([1]), t, events) == "a recorded weight is nan"
    events = {"multimeter_rec": {"senders": np.array([1]), "times": np.array([1.0]), "V_m": np.array([np.inf])}}
    assert divergence(cfg, np.array([1.0]), None, np.array([1]), t, events) == "a recorded recurrent V_m is inf"


@pytest.mark.slow
def test_a_resume_that_resizes_the_network_names_the_key_and_the_parents_size(small, tmp_path):
    """Issue 19, item 6: `resume=RUN neuron.rec.n=50` blamed weights.load, which the user never typed."""
    from eprop.training.resume import resume_config

    train(small("task.n_iter=2"), tmp_path / "parent", sim=FakeSimulator())
    for override, message in (
        ("neuron.rec.n=50", "neuron.rec.n=50: the parent run (resume={p}) has neuron.rec.n=5"),
        ("task.n_in=7", "task.n_in=7: the parent run (resume={p}) has task.n_in=4"),
    ):
        with pytest.raises(UserError) as info:
            resume_config(
                small(f"resume={tmp_path / 'parent'}", override, "task.n_iter=4"), [override, "task.n_iter=4"]
            )
        assert str(info.value) == message.format(p=tmp_path / "parent") + (
            "; a resumed run continues from the parent's weights, so the network keeps its size"
        )
    cfg, parent = resume_config(small(f"resume={tmp_path / 'parent'}", "task.n_iter=4"), ["task.n_iter=4"])
    assert (cfg.neuron.rec.n, parent.n_iter_done) == (5, 2)

"""NEST tier for issue 9's wrong numbers: firing rates without the final-update spike, the
event-based presets at another resolution against a raw NEST script, model=eprop learning,
and a diverging run.
"""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from eprop.results import open_results

from .conftest import ROOT, eprop_env, run_eprop

pytestmark = pytest.mark.nest

EVENT_ORACLE = ROOT / "tests" / "oracle" / "nest_regression_tests.py"


def run(tmp_path, name: str, *overrides: str, check: bool = True):
    run_dir = tmp_path / name
    proc = run_eprop("run", *overrides, "progress=false", f"hydra.run.dir={run_dir}", check=check)
    return run_dir, proc


def test_silent_neurons_from_the_spike_recorder_equal_evals(tmp_path):
    """The default 5-iteration handwriting run: 36 of 200 recurrent neurons never spike in the
    last iteration. Counted here straight from the HDF5 datasets, without eprop's reader."""
    run_dir, _ = run(tmp_path, "hw", "task.n_iter=5")
    with h5py.File(run_dir / "results.h5", "r") as f:
        recurrent = f["/neurons/recurrent"][:]
        start = f["/events/spike_recorder/iteration_start"][:]
        senders = f["/events/spike_recorder/senders"][start[-2] : start[-1]]
        times = f["/events/spike_recorder/times"][:]
    final_update_arrival = 5 * 1824 + 3 + 1  # ms: task + delays + one step of delay
    assert times.max() < final_update_arrival  # the forced spike of every neuron is not recorded
    silent = np.setdiff1d(recurrent, senders).size
    assert silent == 36
    summary = json.loads(run_eprop("eval", str(run_dir), "--json").stdout)
    assert (summary["n_silent"], summary["n_recurrent"], summary["rate_min"]) == (36, 200, 0.0)
    spiking = np.isin(senders, recurrent).sum()
    assert summary["rate_mean"] == pytest.approx(spiking / 200 / 1.824, rel=1e-12)


def oracle_loss(tmp_path, neuron: str, optimizer: str, step_ms: float, n_iter: int) -> np.ndarray:
    out = tmp_path / f"oracle_{neuron}_{optimizer}_{step_ms}.json"
    proc = subprocess.run(
        [sys.executable, str(EVENT_ORACLE), neuron, optimizer, str(step_ms), str(n_iter), str(out)],
        env=eprop_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.array(json.loads(out.read_text())["loss"])


@pytest.mark.parametrize(
    "neuron,optimizer",
    [("eprop_iaf_adapt", "gradient_descent"), ("eprop_iaf", "adam"), ("eprop_iaf_psc_delta", "gradient_descent")],
)
def test_event_based_presets_at_half_a_millisecond_equal_raw_nest(tmp_path, neuron, optimizer):
    """NEST's test script with its step set to 0.5 ms (c_reg = 300 / sequence in ms follows)
    against the preset with kernel.resolution=0.5."""
    run_dir, _ = run(
        tmp_path, "preset", f"experiment=nest_{neuron}_{optimizer}", "kernel.resolution=0.5", "task.n_iter=3"
    )
    with open_results(run_dir) as res:
        assert res.attrs["resolution_ms"] == 0.5
        loss = res.loss
    expected = oracle_loss(tmp_path, neuron, optimizer, 0.5, 3)
    assert np.allclose(loss, expected, rtol=1e-10, atol=0)
    # the same oracle at 1 ms is NEST's own test: its reference losses (first 3 iterations)
    from .test_nest_reference import EVENT_BASED_NEST

    assert np.allclose(
        oracle_loss(tmp_path, neuron, optimizer, 1.0, 3), EVENT_BASED_NEST[(neuron, optimizer)][:3], rtol=1e-8
    )


def test_model_eprop_learns_the_default_handwriting_task(tmp_path):
    """It used to fire at ~400 spikes/s from the first iteration with a loss of 5e6."""
    run_dir, _ = run(tmp_path, "hw", "model=eprop", "task.n_iter=8", "recording=minimal")
    with open_results(run_dir) as res:
        assert res.status == "complete"
        assert res.loss[-1] < 0.5 * res.loss[0] < 100.0
        spikes = res.events("spike_recorder", iteration=-1)["senders"]
        rate = np.isin(spikes, res.neurons("recurrent")).sum() / 100 / 1.824
        assert 1.0 < rate < 30.0  # spikes/s, near f_target = 10


def test_readme_event_based_example_learns(tmp_path):
    run_dir, _ = run(
        tmp_path,
        "sw",
        "model=eprop",
        "neuron=eprop_iaf_psc_delta",
        "task=sine_waves",
        "optimizer=gradient_descent",
        "task.n_iter=15",
        "recording=minimal",
    )
    with open_results(run_dir) as res:
        assert res.status == "complete" and res.loss[-1] < 0.95 * res.loss[0]


def test_a_saturated_network_ends_as_diverged_with_its_iterations_kept(tmp_path):
    run_dir, proc = run(
        tmp_path,
        "div",
        "task=sine_waves",
        "task.sequence_steps=200",
        "neuron.rec.n=30",
        "recording=minimal",
        "task.n_iter=3",
        "neuron=lif",
        "weights.in_rec.scale=100",
        "weights.rec_rec.scale=100",
        "recording.saturated_rate=0.4",  # the default 0.9 (issue 19): 421 spikes/s is a busy network, not a saturated one
        check=False,
    )
    assert proc.returncode == 3
    message = (
        "diverged at iteration 1 of 3: mean recurrent rate 421 spikes/s exceeds recording.saturated_rate=0.4 "
        "x 1000 spikes/s (the maximal rate)"
    )
    assert proc.stderr.strip().splitlines() == [f"eprop: error: {message}; results kept in {run_dir}"]
    with open_results(run_dir) as res:
        assert (res.status, res.n_iter_done, res.attrs["error"]) == ("diverged", 1, message)
        assert res.loss.shape == (1,) and np.isfinite(res.loss[0])
        spikes = res.events("spike_recorder", iteration=0)["senders"]
        assert np.isin(spikes, res.neurons("recurrent")).sum() == 421 * 30 * 200 // 1000
        assert set(res.weight_stages) == {"initial", "final"}


def test_event_based_recorders_end_before_the_final_update_spike(tmp_path):
    """model=eprop: the recurrent multimeter's window reached the arrival step of the final-update
    spike, where V_m jumped to ~1000 mV; now every recorder of activity stops one step before it."""
    run_dir, _ = run(
        tmp_path, "ev", "model=eprop", "task=sine_waves", "task.sequence_steps=200", "neuron.rec.n=30", "task.n_iter=2"
    )
    arrival = 2 * 200 + 1 + 1  # ms: task + delays (delay_in_rec only) + one step of delay
    with open_results(run_dir) as res:
        mm = res.events("multimeter_rec")
        assert mm["times"].max() == arrival - 1 and np.abs(mm["V_m"]).max() < 1.0  # mV
        assert res.events("spike_recorder")["times"].max() < arrival
        assert res.events("multimeter_out")["times"].max() == arrival  # the last loss sample stays


def test_bsshslm_2020_preset_at_half_a_millisecond_equals_raw_nest(tmp_path):
    """NEST's bsshslm_2020 test keeps c_reg = 300 at any step; its setup at 0.5 ms against the preset."""
    run_dir, _ = run(
        tmp_path, "preset", "experiment=nest_bsshslm_2020_sine_waves", "kernel.resolution=0.5", "task.n_iter=3"
    )
    with open_results(run_dir) as res:
        loss = res.loss
    assert np.allclose(
        loss, oracle_loss(tmp_path, "eprop_iaf_bsshslm_2020", "gradient_descent", 0.5, 3), rtol=1e-10, atol=0
    )
    from .test_nest_reference import BSSHSLM_NEST

    assert np.allclose(
        oracle_loss(tmp_path, "eprop_iaf_bsshslm_2020", "gradient_descent", 1.0, 3), BSSHSLM_NEST[:3], rtol=1e-8
    )


def test_interrupted_and_complete_runs_record_the_same_spikes(tmp_path):
    """SIGINT: the final-update spike that applies the pending updates is never recorded, so each
    finished iteration of an interrupted run holds exactly the spikes of that iteration of an
    uninterrupted run, and eval's silent count is the one from the file."""
    import signal

    from .test_reliability import finish, start_eprop, wait_for_iterations

    fast = ("recording=minimal", "progress=false")
    stopped = tmp_path / "stopped"
    proc = start_eprop("run", "task.n_iter=40", *fast, f"hydra.run.dir={stopped}")
    wait_for_iterations(proc, stopped / "results.h5", 2)
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == 130, err[-2000:]
    complete, _ = run(tmp_path, "complete", "task.n_iter=5", *fast)
    with open_results(stopped) as a, open_results(complete) as b:
        n = a.n_iter_done
        assert a.status == "interrupted" and 2 <= n < 5
        for k in range(n):
            for key in ("senders", "times"):
                assert np.array_equal(
                    a.events("spike_recorder", iteration=k)[key], b.events("spike_recorder", iteration=k)[key]
                )
        last = a.events("spike_recorder", iteration=n - 1)["senders"]
        silent = np.setdiff1d(a.neurons("recurrent"), last).size
    assert json.loads(run_eprop("eval", str(stopped), "--json").stdout)["n_silent"] == silent > 0


def test_a_nest_error_while_simulating_is_one_line(tmp_path):
    """Neurons driven to spike from the first step make NEST's e-prop history fail; that used to
    end in a KernelException traceback."""
    run_dir, proc = run(
        tmp_path,
        "ie",
        "task=sine_waves",
        "task.sequence_steps=200",
        "neuron.rec.n=30",
        "recording=minimal",
        "task.n_iter=3",
        "neuron=lif",
        "neuron.rec.I_e=100",
        check=False,
    )
    message = (
        "NEST stopped the simulation between 0 and 205 ms: Expected in neuron with ID 231 e-prop history entry at "
        "t=2, got t=3. (the network's parameters drive NEST's e-prop models where they fail, e.g. neurons spiking "
        "from the first step)"
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"eprop: error: {message}"]
    # issue 19: a run that failed before its first iteration ended has no results: no file, no "results in" line
    assert "results in" not in proc.stdout and not (run_dir / "results.h5").exists()

"""Fast tier: the Python API (`import eprop`) without NEST: compose's messages are eprop run's,
open() reads runs and sweeps, Sweep.to_pandas() holds eprop eval's CSV, run() refuses before NEST."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import DictConfig

import eprop
from eprop import api
from eprop.cli import report
from eprop.config.changes import composition_of, recorded_overrides
from eprop.errors import nest_missing_message
from eprop.training.job import default_run_dir
from tests.conftest import data_dir, run_eprop_in_process
from tests.support import synthetic_results as syn

ERROR = "eprop: error: "

# overrides that eprop run refuses while composing (Hydra, the schema) or validating
REFUSED = [
    ["task=foo"],
    ["optimizer=sgd"],
    ["optimizer.eta=abc"],
    ["kernel.threads=1.5"],
    ["progress=maybe"],
    ["+foo=1"],
    ["task.foo=1"],
    ["task.n_iter=0"],
    ["neuron.rec.tau_m=-1"],
    ["seed=1,2"],
    ["task.data_file=/no/such/file.txt"],
    ["=5"],
    ["hydra/launcher=nonesuch"],
]


@pytest.fixture(autouse=True)
def _data_dir(monkeypatch):
    monkeypatch.setenv("EPROP_DATA_DIR", str(data_dir()))


@pytest.mark.slow
@pytest.mark.parametrize("overrides", REFUSED, ids=lambda o: " ".join(o))
def test_compose_raises_the_line_eprop_run_prints(tmp_path, overrides):
    proc = run_eprop_in_process("run", *overrides, f"hydra.run.dir={tmp_path / 'cli'}", "progress=false", check=False)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(ERROR)
    with pytest.raises(eprop.UserError) as info:
        eprop.compose([*overrides, "progress=false"])
    assert str(info.value) == line[len(ERROR) :]


def test_compose_gives_the_job_config_of_eprop_run():
    cfg = eprop.compose(["task.n_iter=5", "optimizer.eta=1e-3"])
    assert isinstance(cfg, DictConfig)
    assert "hydra" not in cfg
    assert (cfg.task.name, cfg.task.n_iter, cfg.optimizer.eta, cfg.seed) == ("handwriting", 5, 1e-3, 1)
    assert cfg.neuron.rec.n == 200
    from omegaconf.errors import ConfigAttributeError

    with pytest.raises(ConfigAttributeError):  # struct mode: a misspelt key fails
        cfg.optimizer.etta = 1.0


@pytest.mark.slow
def test_compose_experiment_is_the_override():
    assert eprop.compose(experiment="nest_eprop_iaf_adam") == eprop.compose(["experiment=nest_eprop_iaf_adam"])
    with pytest.raises(eprop.UserError, match=r"^experiment=nonesuch: no such option; valid options: "):
        eprop.compose(experiment="nonesuch")


def test_compose_takes_overrides_only():
    with pytest.raises(eprop.UserError) as info:
        eprop.compose(["-m", "seed=1,2"])
    assert str(info.value) == "-m: eprop.compose and eprop.run take overrides (key=value), not command-line options"
    with pytest.raises(TypeError, match="list of strings"):
        eprop.compose("task.n_iter=5")


def test_compose_expands_home_in_values(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "hw.txt").write_text((data_dir() / "chaos_handwriting.txt").read_text())
    cfg = eprop.compose(["task.data_file=~/hw.txt"])
    assert cfg.task.data_file == str(tmp_path / "hw.txt")


def test_run_records_the_overrides_and_the_changes_made_after_compose():
    cfg = eprop.compose(["task.n_iter=3", "optimizer.eta=1e-3"])
    assert recorded_overrides(cfg, composition_of(cfg)) == ["task.n_iter=3", "optimizer.eta=1e-3"]
    cfg.optimizer.eta = 5e-3
    cfg.task.name = "my handwriting"
    assert recorded_overrides(cfg, composition_of(cfg)) == [
        "task.n_iter=3",
        "optimizer.eta=1e-3",
        "task.name='my handwriting'",
        "optimizer.eta=0.005",
    ]
    copied = cfg.copy()  # a copy is matched to the composition it differs least from
    copied.seed = 7
    assert recorded_overrides(copied, composition_of(copied))[-1] == "seed=7"


def test_the_default_run_directory_is_eprop_runs(tmp_path):
    cfg = eprop.compose(["task=sine_waves"])
    path = default_run_dir(cfg, None)
    assert path.parts[:2] == ("outputs", "sine_waves") and len(path.parts) == 4
    assert path.parts[2].count("-") == 2 and path.parts[3].count("-") == 3
    _, composition = api._compose(["hydra.run.dir=" + str(tmp_path / "${task.name}")])
    assert default_run_dir(cfg, composition.run_dir) == tmp_path / "sine_waves"


def test_run_without_nest_is_the_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(api, "_nest_missing", lambda: True)
    with pytest.raises(eprop.UserError) as info:
        eprop.run(["task.n_iter=1"], tmp_path / "run")
    assert str(info.value) == nest_missing_message()
    assert not (tmp_path / "run").exists()


def test_run_refuses_a_bad_config_before_making_the_run_directory(tmp_path):
    with pytest.raises(eprop.UserError, match=r"^task\.n_iter=0: must be an integer >= 1$"):
        eprop.run(["task.n_iter=0"], tmp_path / "new" / "run")
    cfg = eprop.compose()
    cfg.optimizer.Wmin = cfg.optimizer.Wmax
    with pytest.raises(eprop.UserError, match=r"^optimizer\.Wmin=.*, optimizer\.Wmax=.*: Wmin must be < Wmax"):
        eprop.run(cfg, tmp_path / "new" / "run")
    assert not (tmp_path / "new").exists()


def test_run_refuses_a_directory_with_results_and_leaves_it_alone(tmp_path):
    run_dir = tmp_path / "run"
    syn.write_run(run_dir / "results.h5")
    with pytest.raises(eprop.UserError) as info:
        eprop.run(["task.n_iter=1"], run_dir)
    assert str(info.value) == (
        f"{run_dir / 'results.h5'}: exists already; eprop never overwrites results, choose another run directory"
    )
    assert sorted(p.name for p in run_dir.iterdir()) == ["results.h5"]


# ---------------------------------------------------------------- open, Sweep


@pytest.fixture
def multirun_dir(tmp_path):
    """A Hydra-like multirun of three jobs; job 2 failed before training."""
    root = tmp_path / "multirun"
    syn.write_run(root / "0" / "results.h5", overrides=["optimizer.eta=0.001", "task.n_iter=3"], loss_scale=2.0)
    syn.write_run(root / "1" / "results.h5", overrides=["optimizer.eta=0.01", "task.n_iter=3"])
    (root / "2" / ".hydra").mkdir(parents=True)
    (root / "2" / ".hydra" / "overrides.yaml").write_text("- optimizer.eta=1.0\n- task.n_iter=3\n")
    (root / "2" / "error.txt").write_text("ValueError: weights exploded\n")
    return root


def test_open_gives_results_for_a_file_or_run_directory(tmp_path):
    path = syn.write_run(tmp_path / "run" / "results.h5", overrides=["optimizer.eta=0.001"])
    for given in (path, path.parent, str(path.parent)):
        with eprop.open(given) as results:
            assert isinstance(results, eprop.Results)
            assert list(results.loss) == pytest.approx(list(syn.EXPECTED_LOSS), rel=1e-12)


def test_open_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(eprop.ResultsError) as info:
        eprop.open(tmp_path / "missing")
    assert str(info.value) == f"{tmp_path / 'missing'}: no such file or directory"
    (tmp_path / "empty").mkdir()
    with pytest.raises(eprop.ResultsError, match="contains no results.h5"):
        eprop.open(tmp_path / "empty")
    (tmp_path / "failed").mkdir()
    (tmp_path / "failed" / "error.txt").write_text("boom\n")
    with pytest.raises(eprop.ResultsError, match="failed before training"):
        eprop.open(tmp_path / "failed")


def csv_table(path: Path, tmp_path: Path) -> pd.DataFrame:
    table = tmp_path / "table.csv"
    assert report.eval_main([str(path), "--csv", str(table)]) == 0
    return pd.read_csv(table, dtype={"job": str}, keep_default_na=True)


def assert_same_table(frame: pd.DataFrame, table: pd.DataFrame) -> None:
    """Every cell of eprop eval's CSV equals the DataFrame's (numbers exactly; empty cells are missing values)."""
    assert list(frame.columns) == list(table.columns)
    assert len(frame) == len(table)
    for column in table.columns:
        for mine, theirs in zip(frame[column], table[column]):
            if theirs is None or (isinstance(theirs, float) and math.isnan(theirs)):
                assert mine is None or (isinstance(mine, float) and math.isnan(mine)), (column, mine)
            elif isinstance(theirs, str):
                assert str(mine) == theirs, (column, mine, theirs)
            else:
                assert mine == theirs, (column, mine, theirs)


def test_sweep_to_pandas_equals_eprop_eval_csv(multirun_dir, tmp_path):
    sweep = eprop.open(multirun_dir)
    assert isinstance(sweep, eprop.Sweep)
    assert [p.name for p in sweep.jobs] == ["0", "1", "2"]
    frame = sweep.to_pandas()
    assert_same_table(frame, csv_table(multirun_dir, tmp_path))
    assert list(frame["job"]) == ["1", "0", "2"]  # by final loss, as eprop eval; the failed job last
    assert list(frame["optimizer.eta"]) == [0.01, 0.001, 1.0]
    assert list(frame["final_loss"][:2]) == pytest.approx([0.25, 0.5], rel=1e-12)
    assert list(frame["status"]) == ["complete", "complete", "failed"]
    assert list(sweep.to_pandas(sort="optimizer.eta", descending=True)["job"]) == ["2", "1", "0"]
    assert list(sweep.to_pandas(sort=None)["job"]) == ["0", "1", "2"]


def test_sweep_of_a_folder_of_run_directories(tmp_path):
    parent = tmp_path / "sweep"
    syn.write_run(parent / "eta_1e-3" / "results.h5", overrides=["optimizer.eta=1e-3"], loss_scale=2.0)
    syn.write_run(parent / "eta_5e-3" / "results.h5", overrides=["optimizer.eta=5e-3"])
    sweep = eprop.open(parent)
    assert [p.name for p in sweep.jobs] == ["eta_1e-3", "eta_5e-3"]
    frame = sweep.to_pandas(sort=None)
    assert_same_table(sweep.to_pandas(), csv_table(parent, tmp_path))
    assert list(frame["job"]) == ["eta_1e-3", "eta_5e-3"]
    assert list(frame["optimizer.eta"]) == [1e-3, 5e-3]
    losses = [list(results.loss) for results in sweep]
    assert losses[1] == pytest.approx(list(syn.EXPECTED_LOSS), rel=1e-12)
    with sweep.results(0) as first:
        assert list(first.loss) == pytest.approx(list(2 * syn.EXPECTED_LOSS), rel=1e-12)


def test_sweep_results_of_a_failed_job_says_so(multirun_dir):
    sweep = eprop.open(multirun_dir)
    assert len(list(sweep)) == 2  # iteration skips the failed job
    with pytest.raises(eprop.UserError, match=r"job 2 of the sweep has no results file .*error\.txt"):
        sweep.results(2)


def test_figure_draws_eprop_plots_figures(tmp_path):
    from matplotlib.figure import Figure

    path = syn.write_run(tmp_path / "run" / "results.h5")
    fig = eprop.figure(path, "loss")
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_xlabel() == "training iteration"
    with pytest.raises(eprop.UserError, match=r"^nonesuch: no such figure of a run; valid: pattern, loss, "):
        eprop.figure(path, "nonesuch")
    with pytest.raises(eprop.UserError, match="is a regression run; confusion is drawn for classification runs"):
        eprop.figure(path, "confusion")


def test_parameters_give_value_unit_and_meaning():
    cfg = eprop.compose(["task.n_iter=5"])
    table = eprop.parameters(cfg, ["task.n_iter", "neuron.rec.V_th", "optimizer.eta", "neuron.rec.adapt_beta"])
    assert list(table.index) == ["task.n_iter", "neuron.rec.V_th", "optimizer.eta", "neuron.rec.adapt_beta"]
    assert table.loc["neuron.rec.V_th"].tolist() == [0.03, "mV", "spike threshold (> E_L)"]
    assert table.loc["task.n_iter", "value"] == 5 and table.loc["optimizer.eta", "value"] == 0.005
    assert table.loc["neuron.rec.adapt_beta", "value"] == pytest.approx(0.02592088030729177, rel=1e-15)  # derived
    everything = eprop.parameters(cfg)
    assert "neuron.rec.tau_m_mean" in everything.index and "neuron.rec" not in everything.index
    with pytest.raises(eprop.UserError, match=r"^nope\.x: no such key in the config$"):
        eprop.parameters(cfg, ["nope.x"])

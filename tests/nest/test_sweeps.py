"""Multiruns: launcher and sweeper configs, thread budget, summary.csv, optuna searches.

The composition and thread-budget tests are fast. The `nest` tests run real 2-job
multiruns of 2 iterations with the basic, joblib and submitit_local launchers and 2-trial
optuna searches, and check summary.csv against each job's results.h5 and `eprop eval`.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from eprop import sweep
from eprop.results import open_results
from tests.conftest import run_eprop

pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [sweep] extra")

TINY = ("task.n_iter=2", "recording=minimal", "progress=false")


# ---------------------------------------------------------------- composition (fast)

LAUNCHERS = {
    "basic": "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
    "joblib": sweep.JOBLIB_LAUNCHER,
    "submitit_local": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",
    "submitit_slurm": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
    "slurm": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
}


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_every_launcher_composes(compose, launcher):
    from hydra.utils import get_class

    cfg = compose(f"hydra/launcher={launcher}", "kernel.threads=4", return_hydra_config=True)
    assert cfg.hydra.launcher._target_ == LAUNCHERS[launcher]
    assert get_class(cfg.hydra.launcher._target_).__name__ == LAUNCHERS[launcher].rsplit(".", 1)[1]
    assert cfg.hydra.callbacks.eprop_sweep._target_ == "eprop.sweep.SweepCallback"
    if launcher == "slurm":  # the preset: CPUs from kernel.threads, a time limit, memory, one task
        assert cfg.hydra.launcher.cpus_per_task == 4
        assert (cfg.hydra.launcher.timeout_min, cfg.hydra.launcher.mem_gb, cfg.hydra.launcher.tasks_per_node) == (
            240,
            4,
            1,
        )
        assert cfg.hydra.launcher.partition is None
        cfg = compose(
            "hydra/launcher=slurm", "hydra.launcher.partition=cpu", "kernel.threads=8", return_hydra_config=True
        )
        assert (cfg.hydra.launcher.partition, cfg.hydra.launcher.cpus_per_task) == ("cpu", 8)


@pytest.mark.parametrize(
    "overrides, target",
    [
        (("hydra/sweeper=basic",), "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"),
        (("hydra/sweeper=optuna",), sweep.PLUGIN_OPTUNA_SWEEPER),
        (("hparams_search=eta_creg",), sweep.PLUGIN_OPTUNA_SWEEPER),
    ],
)
def test_every_sweeper_composes(compose, overrides, target):
    from hydra.utils import get_class

    cfg = compose(*overrides, return_hydra_config=True)
    assert cfg.hydra.sweeper._target_ == target
    get_class(target)
    if overrides == ("hparams_search=eta_creg",):
        s = cfg.hydra.sweeper
        assert (s.direction, s.study_name, s.n_trials, s.max_failure_rate) == ("minimize", "eta_creg", 20, 0.5)
        assert s.sampler._target_ == "optuna.samplers.TPESampler" and s.sampler.seed == 1
        assert dict(s.params) == {
            "optimizer.eta": "tag(log, interval(1e-4, 3e-2))",
            "neuron.rec.c_reg": "interval(0.0, 600.0)",
        }
        assert cfg.optimizer.eta == 5e-3 and cfg.neuron.rec.c_reg == 150.0  # the base config is untouched


def test_eprop_optuna_sweeper_is_a_hydra_plugin(compose):
    from hydra.core.plugins import Plugins
    from hydra.plugins.sweeper import Sweeper

    names = {f"{c.__module__}.{c.__name__}" for c in Plugins.instance().discover(Sweeper)}
    assert sweep.EPROP_OPTUNA_SWEEPER in names
    cfg = compose("hydra/sweeper=optuna", return_hydra_config=True)
    assert sweep.use_nan_safe_optuna(cfg) is True
    assert cfg.hydra.sweeper._target_ == sweep.EPROP_OPTUNA_SWEEPER
    assert sweep.use_nan_safe_optuna(compose(return_hydra_config=True)) is False  # basic sweeper: untouched


# ---------------------------------------------------------------- thread budget (fast)


def test_joblib_gets_cores_divided_by_threads(compose):
    for threads, cores, expected in ((1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 8, 4)):
        cfg = compose("hydra/launcher=joblib", f"kernel.threads={threads}", return_hydra_config=True)
        assert cfg.hydra.launcher.n_jobs == -1
        assert sweep.apply_thread_budget(cfg, cores=cores) == []
        assert cfg.hydra.launcher.n_jobs == expected


def test_oversubscription_is_kept_with_a_warning(compose, caplog):
    cfg = compose("hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "kernel.threads=2", return_hydra_config=True)
    with caplog.at_level("WARNING", logger="eprop.sweep"):
        warnings = sweep.apply_thread_budget(cfg, cores=2)
    assert cfg.hydra.launcher.n_jobs == 2
    assert warnings == [
        "oversubscribed: hydra.launcher.n_jobs=2 x kernel.threads=2 = 4 threads on 2 cores; "
        "the jobs will slow each other down (use hydra.launcher.n_jobs=1, or leave it at -1 for the thread budget)"
    ]
    assert "warning: oversubscribed: hydra.launcher.n_jobs=2" in caplog.text
    cfg = compose("kernel.threads=3", return_hydra_config=True)  # basic launcher: one job at a time
    assert sweep.apply_thread_budget(cfg, cores=2) == [
        "oversubscribed: kernel.threads=3 on 2 cores; NEST's threads will share cores"
    ]


def test_swept_threads_count_with_their_largest_value(compose):
    cfg = compose("hydra/launcher=joblib", return_hydra_config=True)
    OmegaConf.set_readonly(cfg.hydra, False)
    cfg.hydra.overrides.task = ["kernel.threads=1,2", "optimizer.eta=1e-3,5e-3"]
    assert sweep.swept_threads(cfg) == 2
    sweep.apply_thread_budget(cfg, cores=4)
    assert cfg.hydra.launcher.n_jobs == 2


def test_submitit_cpus_per_task_from_threads(compose):
    cfg = compose("hydra/launcher=submitit_local", "kernel.threads=2", return_hydra_config=True)
    assert cfg.hydra.launcher.cpus_per_task is None
    assert sweep.apply_thread_budget(cfg, cores=2) == []
    assert cfg.hydra.launcher.cpus_per_task == 2
    cfg = compose(
        "hydra/launcher=submitit_slurm", "hydra.launcher.cpus_per_task=1", "kernel.threads=4", return_hydra_config=True
    )
    assert sweep.apply_thread_budget(cfg, cores=2) == [
        "oversubscribed: hydra.launcher.cpus_per_task=1 < kernel.threads=4; each job runs 4 NEST threads on 1 CPU(s)"
    ]


# ---------------------------------------------------------------- real multiruns (NEST)


def read_summary(sweep_dir: Path) -> list[dict[str, str]]:
    with (sweep_dir / "summary.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def multirun(sweep_dir: Path, *overrides: str) -> list[dict[str, str]]:
    run_eprop("run", "-m", *overrides, *TINY, f"hydra.sweep.dir={sweep_dir}")
    return read_summary(sweep_dir)


def check_against_results(rows: list[dict[str, str]], sweep_dir: Path) -> dict[str, float]:
    """Every complete row matches its results.h5 and `eprop eval`; returns {overrides: final loss}."""
    evaluated = json.loads(run_eprop("eval", str(sweep_dir), "--json").stdout)
    evaluated = evaluated if isinstance(evaluated, list) else [evaluated]
    by_job = {str(s["job"]): s for s in evaluated}
    losses = {}
    for row in rows:
        job_dir = Path(row["dir"])
        assert job_dir.parent == sweep_dir and job_dir.name == row["job"]
        assert by_job[row["job"]]["status"] == row["status"]
        if row["status"] != "complete":
            continue
        with open_results(job_dir) as res:
            assert float(row["final_loss"]) == float(res.loss[-1])
            assert int(row["n_iter_done"]) == res.n_iter_done == 2
            assert row["overrides"] == " ".join(res.overrides)
            assert float(row["runtime_s"]) == pytest.approx(
                sum(res.attrs[k] for k in ("timing_build_s", "timing_simulate_s", "timing_write_s"))
            )
        assert float(row["final_loss"]) == by_job[row["job"]]["final_loss"]
        losses[row["overrides"]] = float(row["final_loss"])
    return losses


@pytest.fixture(scope="module")
def basic_sweep(tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("basic") / "sweep"
    return sweep_dir, multirun(sweep_dir, "optimizer.eta=1e-3,5e-3")


@pytest.mark.nest
def test_basic_launcher_two_jobs(basic_sweep):
    sweep_dir, rows = basic_sweep
    assert [r["job"] for r in rows] == ["0", "1"]
    assert [r["status"] for r in rows] == ["complete", "complete"]
    assert [r["optimizer.eta"] for r in rows] == ["0.001", "0.005"]
    losses = check_against_results(rows, sweep_dir)
    assert len(set(losses.values())) == 2  # the learning rate changes the loss
    assert all(math.isfinite(v) and v > 0 for v in losses.values())


@pytest.mark.nest
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_parallel_launchers_give_the_basic_launchers_losses(tmp_path, basic_sweep, launcher):
    sweep_dir = tmp_path / "sweep"
    rows = multirun(sweep_dir, f"hydra/launcher={launcher}", "optimizer.eta=1e-3,5e-3")
    assert [(r["job"], r["status"]) for r in rows] == [("0", "complete"), ("1", "complete")]
    losses = check_against_results(rows, sweep_dir)
    basic_dir, basic_rows = basic_sweep
    assert [float(r["final_loss"]) for r in rows] == [float(r["final_loss"]) for r in basic_rows]
    assert set(losses) == {r["overrides"] for r in basic_rows}
    if launcher == "submitit_local":
        assert (sweep_dir / ".submitit").is_dir()
        assert OmegaConf.load(sweep_dir / "multirun.yaml").hydra.launcher.cpus_per_task == 1  # from kernel.threads


@pytest.mark.nest
def test_failed_jobs_are_rows_with_status_failed(tmp_path):
    sweep_dir = tmp_path / "sweep"
    # a bad value is refused before any job runs (cli/sweep_check.py); a missing weights.load source is
    # found when its job starts, so this job fails while the other runs
    missing = tmp_path / "no_run"
    proc = run_eprop("run", "-m", f"weights.load=null,{missing}", *TINY, f"hydra.sweep.dir={sweep_dir}", check=False)
    assert proc.returncode == 1  # a multirun with a failed job
    rows = read_summary(sweep_dir)
    assert [(r["job"], r["status"]) for r in rows] == [("0", "complete"), ("1", "failed")]
    assert rows[1]["final_loss"] == "" and rows[1]["runtime_s"] == ""
    error = f"weights.load={missing}: no such results file (give a results.h5 or a run directory holding one)"
    assert rows[1]["error"] == f"error.txt: {error}"
    assert (sweep_dir / "1" / "error.txt").read_text() == f"{error}\n"
    assert "sweep summary: " + str(sweep_dir / "summary.csv") + " (1 complete, 1 failed)" in proc.stderr  # Hydra's log
    check_against_results(rows, sweep_dir)


@pytest.mark.nest
def test_optuna_search_with_the_preset_and_a_database(tmp_path):
    import optuna

    sweep_dir = tmp_path / "sweep"
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    rows = multirun(
        sweep_dir, "hparams_search=eta_creg", "hydra.sweeper.n_trials=2", f"hydra.sweeper.storage={storage}"
    )
    assert [(r["job"], r["status"]) for r in rows] == [("0", "complete"), ("1", "complete")]
    losses = check_against_results(rows, sweep_dir)
    for row in rows:  # the sampled values lie in the preset's search space
        assert 1e-4 <= float(row["optimizer.eta"]) <= 3e-2
        assert 0.0 <= float(row["neuron.rec.c_reg"]) <= 600.0
    best = OmegaConf.load(sweep_dir / "optimization_results.yaml")
    assert best.best_value == min(losses.values())
    study = optuna.load_study(study_name="eta_creg", storage=storage)
    assert sorted(t.value for t in study.trials) == sorted(losses.values())
    assert {t.state.name for t in study.trials} == {"COMPLETE"}


@pytest.mark.nest
def test_optuna_failed_trial_does_not_end_the_search(tmp_path):
    sweep_dir = tmp_path / "sweep"
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    proc = run_eprop(
        "run",
        "-m",
        "hydra/sweeper=optuna",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler.seed=8",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.max_failure_rate=1.0",
        f"hydra.sweeper.storage={storage}",
        "hydra.sweeper.study_name=s",
        "optimizer.eta=choice(-1.0,0.005)",
        *TINY,
        f"hydra.sweep.dir={sweep_dir}",
        check=False,
    )
    assert proc.returncode == 1  # the search went on to its end; one job failed
    rows = read_summary(sweep_dir)
    assert sorted((r["optimizer.eta"], r["status"]) for r in rows) == [("-1.0", "failed"), ("0.005", "complete")]
    assert "Failed experiment: optuna trial (job" in proc.stderr  # Hydra's log (on stderr: conf/hydra/hydra_logging)
    check_against_results(rows, sweep_dir)
    import optuna

    trials = optuna.load_study(study_name="s", storage=storage).trials
    assert sorted((t.params["optimizer.eta"], t.state.name) for t in trials) == [(-1.0, "FAIL"), (0.005, "COMPLETE")]
    assert OmegaConf.load(sweep_dir / "optimization_results.yaml").best_params == {"optimizer.eta": 0.005}


@pytest.mark.nest
def test_optuna_stops_at_the_first_failure_by_default(tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_eprop(
        "run",
        "-m",
        "hydra/sweeper=optuna",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler.seed=8",
        "hydra.sweeper.n_trials=2",
        "optimizer.eta=choice(-1.0,0.005)",
        *TINY,
        f"hydra.sweep.dir={sweep_dir}",
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("eprop: error: optuna trial (job ")
    assert (
        "failed: optimizer.eta=-1.0: must be > 0; the search stops when failed trials exceed "
        "hydra.sweeper.max_failure_rate" in proc.stderr
    )
    rows = read_summary(sweep_dir)  # written although the search stopped
    assert sorted((r["optimizer.eta"], r["status"]) for r in rows) == [("-1.0", "failed"), ("0.005", "complete")]


@pytest.mark.nest
def test_optuna_search_where_every_trial_fails_is_one_line(tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_eprop(
        "run",
        "-m",
        "hydra/sweeper=optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.max_failure_rate=1.0",
        "optimizer.eta=choice(-1.0,-2.0)",
        *TINY,
        f"hydra.sweep.dir={sweep_dir}",
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"eprop: error: optuna: every trial failed, so there is no best trial; see {sweep_dir / 'summary.csv'}"
    )
    assert [r["status"] for r in read_summary(sweep_dir)] == ["failed", "failed"]


@pytest.mark.nest
def test_optuna_search_maximizes_the_accuracy_of_a_classification_task(tmp_path):
    import optuna

    sweep_dir = tmp_path / "sweep"
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    rows = multirun(
        sweep_dir,
        "experiment=nest_bsshslm_2020_evidence_accumulation",
        "hparams_search=evidence_accumulation",
        "task.batch_size=2",
        "hydra.sweeper.n_trials=2",
        f"hydra.sweeper.storage={storage}",
    )
    assert [(r["job"], r["status"]) for r in rows] == [("0", "complete"), ("1", "complete")]
    evaluated = {str(s["job"]): s for s in json.loads(run_eprop("eval", str(sweep_dir), "--json").stdout)}
    accuracies = {}
    for row in rows:
        with open_results(Path(row["dir"])) as res:  # no test phase: the mean over the 2 training iterations
            assert float(row["final_accuracy"]) == float(res.accuracy.mean()) == evaluated[row["job"]]["final_accuracy"]
        assert row["final_accuracy_from"] == "last 2 training iterations (no test phase)"
        assert row["accuracy_training"] == row["final_accuracy"]
        accuracies[row["job"]] = float(row["final_accuracy"])
    study = optuna.load_study(study_name="evidence_accumulation", storage=storage)
    assert study.direction.name == "MAXIMIZE"
    assert sorted(t.value for t in study.trials) == sorted(accuracies.values())  # the jobs returned their accuracy
    assert OmegaConf.load(sweep_dir / "optimization_results.yaml").best_value == max(accuracies.values())

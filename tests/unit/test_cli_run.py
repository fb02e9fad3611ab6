"""Fast tier: the `eprop run` command line, in-process (run directory, messages, help, version)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eprop.cli import main as cli
from eprop.cli import run_args
from tests.conftest import run_eprop


def run(capsys, *args: str) -> tuple[int, list[str], list[str]]:
    """`eprop run ARGS` in this process: exit code, stdout lines, stderr lines."""
    code = cli.main(["run", *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


# ------------------------------------------------------------------ the run directory (items 5, 11, 12)


def test_run_dir_that_cannot_be_made_is_one_line(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = run(capsys, f"hydra.run.dir={blocker}/run", "progress=false")
    assert code == 2
    assert err == [
        f"eprop: error: hydra.run.dir={blocker}/run: cannot create the run directory "
        f"({blocker} is a file, not a directory); choose a directory you can write to"
    ]
    code, out, err = run(capsys, "hydra.run.dir=/proc/x", "progress=false")
    assert code == 2
    assert err == [
        "eprop: error: hydra.run.dir=/proc/x: cannot create the run directory "
        "(no such file or directory: /proc/x); choose a directory you can write to"
    ]


def test_sweep_dir_that_cannot_be_made_is_one_line(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = run(capsys, "-m", f"hydra.sweep.dir={blocker}/sweep", "seed=1,2", "progress=false")
    assert code == 2
    assert err == [
        f"eprop: error: hydra.sweep.dir={blocker}/sweep: cannot create the sweep directory "
        f"({blocker} is a file, not a directory); choose a directory you can write to"
    ]


def test_error_removes_the_run_dir_this_call_made(capsys, tmp_path):
    run_dir = tmp_path / "new" / "a" / "b"
    code, out, err = run(capsys, f"hydra.run.dir={run_dir}", "task.n_iter=0", "progress=false")
    assert code == 2
    assert err == ["eprop: error: task.n_iter=0: must be an integer >= 1"]
    assert out == []
    assert list(tmp_path.iterdir()) == []  # the run directory and the parents this call made


def test_an_error_with_the_progress_bar_on_is_one_line_and_nothing_else(capsys, tmp_path):
    # progress=true is the default: a bar that never started must not print an empty line first
    code, out, err = run(capsys, f"hydra.run.dir={tmp_path}/run", "task.n_iter=0")
    assert (code, out, err) == (2, [], ["eprop: error: task.n_iter=0: must be an integer >= 1"])
    code, out, err = run(capsys, f"hydra.run.dir={tmp_path}/run", f"task.data_file={tmp_path}")
    assert (code, out, err) == (
        2,
        [],
        [f"eprop: error: task.data_file={tmp_path}: is a directory; give a text file with two or more numeric columns"],
    )


def test_error_keeps_an_existing_run_dir_and_logs_the_error(capsys, tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    code, out, err = run(capsys, f"hydra.run.dir={tmp_path}", "task.n_iter=0", "progress=false")
    assert code == 2
    assert err == ["eprop: error: task.n_iter=0: must be an integer >= 1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hydra", "eprop.log", "mine.txt"]
    (line,) = (tmp_path / "eprop.log").read_text().splitlines()
    assert line.endswith("[ERROR] task.n_iter=0: must be an integer >= 1")


def test_error_keeps_a_run_dir_with_other_files(capsys, tmp_path):
    run_dir = tmp_path / "run"
    code, out, err = run(
        capsys, f"hydra.run.dir={run_dir}", "task.n_iter=0", "progress=false", "hydra.output_subdir=.hydra/sub"
    )  # .hydra/ then holds a directory: not ours to judge
    assert code == 2
    assert (run_dir / ".hydra" / "sub").is_dir()


@pytest.mark.nest
def test_a_finished_run_names_its_directory_on_stdout(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_eprop("run", "task=infinite_loop", "task.n_iter=1", "progress=false", f"hydra.run.dir={run_dir}")
    assert proc.stdout.splitlines() == [f"eprop: results in {run_dir}"]
    proc = run_eprop(
        "run",
        "-m",
        "task=infinite_loop",
        "task.n_iter=1",
        "progress=false",
        "seed=1,2",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )
    assert proc.stdout.splitlines() == [f"eprop: results in {tmp_path / 'sweep'}"]  # Hydra's launch log: stderr
    proc = run_eprop(
        "run", "task=infinite_loop", "task.n_iter=1", "progress=false", "hydra.run.dir=rel/run", cwd=tmp_path
    )
    assert proc.stdout.splitlines() == ["eprop: results in rel/run"]  # relative to the working directory


# ------------------------------------------------------------------ messages that name the right thing (item 16)


def test_data_file_that_is_a_directory(capsys, tmp_path):
    code, out, err = run(capsys, f"task.data_file={tmp_path}", f"hydra.run.dir={tmp_path}/run", "progress=false")
    assert code == 2
    assert err == [
        f"eprop: error: task.data_file={tmp_path}: is a directory; give a text file with two or more numeric columns"
    ]


def test_data_file_header_names_its_line(capsys, tmp_path):
    path = tmp_path / "xy.csv"
    path.write_text("# pen trajectory\nx,y\n1,2\n3,4\n")
    code, out, err = run(
        capsys, "task=custom", f"task.data_file={path}", f"hydra.run.dir={tmp_path}/run", "progress=false"
    )
    assert code == 2
    assert err == [
        f"eprop: error: task.data_file={path}: line 2 is not numeric (x,y); a header or comment line must start with #"
    ]


@pytest.mark.slow
def test_tilde_is_expanded_in_path_values(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "xy.csv").write_text("x,y\n1,2\n3,4\n")
    code, out, err = run(capsys, "task=custom", "task.data_file=~/xy.csv", "hydra.run.dir=~/runs/a", "progress=false")
    assert code == 2
    assert err == [
        f"eprop: error: task.data_file={tmp_path}/xy.csv: line 1 is not numeric (x,y); a header or comment line must start with #"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xy.csv"]  # ~/runs/a was made, then removed
    code, out, err = run(capsys, "resume=~/no_run", "hydra.run.dir=~/runs/b", "progress=false")
    assert err == [
        f"eprop: error: resume={tmp_path}/no_run: no such run directory (expected a directory holding results.h5)"
    ]
    code, out, err = run(capsys, "weights.load=~/no_run", "hydra.run.dir=~/runs/c", "progress=false")
    assert err == [
        f"eprop: error: weights.load={tmp_path}/no_run: no such results file (give a results.h5 or a run directory holding one)"
    ]


def test_expand_home_leaves_deletions_and_plain_values():
    home = str(Path("~").expanduser())
    assert run_args.expand_home("task.data_file=~/a.csv,~/b.csv") == f"task.data_file={home}/a.csv,{home}/b.csv"
    assert run_args.expand_home("~task.data_file") == "~task.data_file"
    assert run_args.expand_home("task.n_iter=3") == "task.n_iter=3"


def test_resume_of_a_directory_without_results(capsys, tmp_path):
    parent = tmp_path / "parent"
    (parent / ".hydra").mkdir(parents=True)
    code, out, err = run(capsys, f"resume={parent}", f"hydra.run.dir={tmp_path}/run", "progress=false")
    assert code == 2
    assert err == [
        f"eprop: error: resume={parent}: the directory holds no results.h5 (a run that stopped before "
        "training wrote none); give the directory of a run that did"
    ]


def test_resolution_off_nest_grid_names_kernel_resolution(capsys, tmp_path):
    code, out, err = run(capsys, "kernel.resolution=0.1234", f"hydra.run.dir={tmp_path}/run", "progress=false")
    assert code == 2
    assert err == [
        "eprop: error: kernel.resolution=0.1234: must be a multiple of NEST's tic, 0.001 ms (e.g. 0.1, 0.25, 1.0)"
    ]


def test_times_in_ms_lie_on_the_grid():
    from eprop.config.timing import Timing

    timing = Timing(
        dt=0.3,
        sequence=1824,
        batch_size=1,
        n_iter=1,
        offset_gen=1,
        delay_in_rec=1,
        delay_rec_out=1,
        delay_out_norm=1,
        extension_sim=1,
    )
    assert 1824 * 0.3 != 547.2  # the float product is off the grid ...
    assert timing.ms(1824) == 547.2  # ... NEST's interval checks compare with the grid value
    assert (
        Timing(
            dt=1.0,
            sequence=1824,
            batch_size=1,
            n_iter=1,
            offset_gen=1,
            delay_in_rec=1,
            delay_rec_out=1,
            delay_out_norm=1,
            extension_sim=1,
        ).ms(1824)
        == 1824.0
    )


@pytest.mark.nest
def test_resolution_0_3_runs(tmp_path):
    # NEST refused it before ("neuron.rec: NEST refused the value: flush_event_send_interval ≥ eprop_update_interval")
    proc = run_eprop("run", "kernel.resolution=0.3", "task.n_iter=1", "progress=false", f"hydra.run.dir={tmp_path}")
    assert proc.stdout.splitlines() == [f"eprop: results in {tmp_path}"]


# ------------------------------------------------------------------ the [sweep] extra (item 14)

SWEEP_PLUGINS = (
    "hydra_plugins.hydra_joblib_launcher",
    "hydra_plugins.hydra_submitit_launcher",
    "hydra_plugins.hydra_optuna_sweeper",
)


@pytest.mark.parametrize(
    "override,distribution",
    [
        ("hydra/launcher=joblib", "hydra-joblib-launcher"),
        ("hydra/launcher=slurm", "hydra-submitit-launcher"),
        ("hydra/launcher=submitit_local", "hydra-submitit-launcher"),
        ("hparams_search=eta_creg", "hydra-optuna-sweeper"),
        ("hydra/sweeper=optuna", "hydra-optuna-sweeper"),
    ],
)
def test_sweep_plugins_without_the_extra_say_what_to_install(capsys, tmp_path, monkeypatch, override, distribution):
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):  # as if `pip install eprop` had been run without [sweep]
        return None if name in SWEEP_PLUGINS else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    code, out, err = run(capsys, "-m", override, "seed=1,2", f"hydra.sweep.dir={tmp_path}/sweep")
    assert code == 2
    assert err == [
        f"eprop: error: {override}: needs {distribution}, which is not installed; install eprop's sweep extra: "
        "pip install 'eprop[sweep]' (in a source checkout: pip install -e '.[sweep]')"
    ]
    assert not (tmp_path / "sweep").exists()


def test_sweep_plugins_installed_pass_the_check():
    assert (
        run_args.missing_sweep_extra(["hydra/launcher=joblib", "hparams_search=eta_creg", "hydra/launcher=slurm"])
        is None
    )
    assert run_args.missing_sweep_extra(["hparams_search=null", "task.n_iter=3"]) is None


# ------------------------------------------------------------------ version, help, parameters (item 13)


def test_version_names_eprop_nest_and_python_without_importing_nest(capsys):
    import platform
    import sys
    from importlib import metadata

    from eprop import __version__

    had_nest = "nest" in sys.modules
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == (
        f"eprop {__version__}, NEST {metadata.version('nest-simulator')}, Python {platform.python_version()}\n"
    )
    assert ("nest" in sys.modules) == had_nest


@pytest.mark.slow
def test_run_help_lists_options_without_schemas_or_banner(capsys):
    code = cli.main(["run", "--help"])
    out = capsys.readouterr().out
    assert code == 0
    assert "_schema" not in out and "Powered by Hydra" not in out and "is powered by" not in out
    assert out.startswith("usage: eprop run [GROUP=OPTION ...]")
    assert "\ntask: custom, evidence_accumulation, handwriting, infinite_loop, nmnist, sine_waves\n" in out
    assert (
        "\nneuron: alif, eprop_iaf, eprop_iaf_adapt, eprop_iaf_psc_delta, eprop_iaf_psc_delta_adapt, lif, lif_alif\n"
        in out
    )
    assert "--params " in out


def test_schema_is_not_an_option(capsys):
    code, out, err = run(capsys, "task=_schema")
    assert code == 2
    assert err == [
        "eprop: error: task=_schema: no such option; valid options: custom, evidence_accumulation, handwriting, infinite_loop, nmnist, sine_waves"
    ]


def test_params_gives_every_value_with_unit_and_meaning(capsys, compose):
    from omegaconf import OmegaConf

    code, out, err = run(capsys, "--params", "neuron.rec.V_th=0.06", "task=infinite_loop")
    assert code == 0 and err == []
    lines = {
        line.split(" = ")[0]: line for line in out if not line.startswith("#")
    }  # "#": other tasks' keys, at the end
    assert lines["neuron.rec.tau_m_std"] == (
        "neuron.rec.tau_m_std = 2.0".ljust(56) + "  # ms, std of the per-neuron membrane time constant (NEST rng)"
    )
    assert lines["neuron.rec.surrogate_gradient_height"].startswith("neuron.rec.surrogate_gradient_height = 5.0 ")
    assert lines["neuron.rec.surrogate_gradient_height"].endswith(
        "# dimensionless; derived: ${eprop.div:${.gamma},${.V_th}}"
    )
    assert lines["task.sine_periods"].startswith("task.sine_periods = [1000, 500, 333, 200] ")
    assert lines["task.name"].startswith("task.name = infinite_loop ")
    cfg = compose("task=infinite_loop")
    leaves = [key for key, _ in __import__("eprop.config.params_doc", fromlist=["_leaves"])._leaves(cfg)]
    assert sorted(lines) == sorted(leaves)
    assert all(" # " in line for line in out), [line for line in out if " # " not in line]  # a unit/meaning everywhere
    assert OmegaConf.select(cfg, "neuron.rec.n") == int(lines["neuron.rec.n"].split("=")[1].split("#")[0])


def test_params_bad_override_is_one_line(capsys):
    code, out, err = run(capsys, "--params", "task.n_iter=abc")
    assert code == 2
    assert err == ["eprop: error: task.n_iter=abc: not a valid integer"]


# ------------------------------------------------------------------ --cfg job of a resumed run (item 10)


def test_cfg_job_of_a_resumed_run_is_the_config_that_runs(capsys, compose, tmp_path):
    import h5py
    from omegaconf import OmegaConf

    from tests.support.synthetic_results import write_run

    parent = tmp_path / "parent"
    write_run(parent / "results.h5")
    with h5py.File(parent / "results.h5", "a") as f:  # the parent ran with eta 0.01 on infinite_loop
        f.attrs["config_source_yaml"] = OmegaConf.to_yaml(compose("task=infinite_loop", "optimizer.eta=0.01"))
    code = cli.main(["run", f"resume={parent}", "--cfg", "job", "task.n_iter=9"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    shown = OmegaConf.create(out)
    assert (shown.task.name, shown.task.n_iter, shown.optimizer.eta) == ("infinite_loop", 9, 0.01)
    assert (shown.resume, shown.weights.load) == (str(parent), str(parent))
    assert "${eprop.div:" in out  # unresolved, as Hydra's --cfg job
    code = cli.main(["run", f"resume={parent}", "--cfg", "job", "--resolve", "task.n_iter=9"])
    assert OmegaConf.create(capsys.readouterr().out).neuron.rec.surrogate_gradient_height == 10.0


def test_eval_skips_directories_an_old_error_left_empty(capsys, tmp_path):
    import json

    from eprop.cli import report
    from tests.support.synthetic_results import write_run

    root = tmp_path / "multirun"
    write_run(root / "0" / "results.h5", overrides=["seed=1"])
    for job, log in (("1", ""), ("2", "[2026-11-24 10:00:00,000][INFO] started\n")):
        (root / job / ".hydra").mkdir(parents=True)
        (root / job / ".hydra" / "overrides.yaml").write_text("- seed=2\n")
        (root / job / "eprop.log").write_text(log)
    assert report.eval_main([str(root), "--json"]) == 0
    out, err = capsys.readouterr()
    assert [job["job"] for job in json.loads(out)] == ["0", "2"]  # 1: left empty by an error, not a run
    assert err == "eprop: warning: job 2: failed: no results file\n"  # 2 logged something: a job that died


# ------------------------------------------------------------------ how a run ends, with a fake training (item 11)


@pytest.fixture
def fake_train(monkeypatch):
    """Replace the training by `ending(run_dir)` after writing a stand-in results file."""
    from eprop.cli import run_job

    def install(ending):
        def train(cfg, run_dir, overrides, parent=None, on_iteration=None):
            (Path(run_dir) / cfg.output.file).write_bytes(b"results")
            return ending(Path(run_dir))

        monkeypatch.setattr(run_job, "train", train)

    return install


def test_complete_run_names_its_directory(capsys, tmp_path, fake_train):
    fake_train(lambda run_dir: 1.5)
    code, out, err = run(capsys, f"hydra.run.dir={tmp_path}/run", "progress=false")
    assert (code, out) == (0, [f"eprop: results in {tmp_path}/run"])


def test_failed_run_with_results_names_its_directory_on_stdout(capsys, tmp_path, fake_train):
    from eprop.errors import UserError

    def fail(run_dir):
        raise UserError("neuron.rec.params.V_tha: eprop_iaf_adapt_bsshslm_2020 has no parameter V_tha")

    fake_train(fail)
    code, out, err = run(capsys, f"hydra.run.dir={tmp_path}/run", "progress=false")
    assert code == 2
    assert err == ["eprop: error: neuron.rec.params.V_tha: eprop_iaf_adapt_bsshslm_2020 has no parameter V_tha"]
    assert out == [f"eprop: results in {tmp_path}/run"]
    assert (tmp_path / "run" / "results.h5").is_file()
    assert (
        (tmp_path / "run" / "eprop.log")
        .read_text()
        .rstrip()
        .endswith("[ERROR] neuron.rec.params.V_tha: eprop_iaf_adapt_bsshslm_2020 has no parameter V_tha")
    )


def test_second_signal_names_the_directory_on_stdout(capsys, tmp_path, fake_train):
    def stop(run_dir):
        raise KeyboardInterrupt("SIGTERM")

    fake_train(stop)
    code, out, err = run(capsys, f"hydra.run.dir={tmp_path}/run", "progress=false")
    assert code == 130
    assert err == [
        "eprop: stopped at once by a second signal; the results file keeps every finished iteration "
        "(status interrupted, no final weights)"
    ]
    assert out == [f"eprop: results in {tmp_path}/run"]


def test_existing_results_are_not_announced(capsys, tmp_path):
    (tmp_path / "results.h5").write_bytes(b"an earlier run")
    code, out, err = run(capsys, f"hydra.run.dir={tmp_path}", "progress=false", "task=infinite_loop")
    assert code == 2
    assert err == [
        f"eprop: error: {tmp_path}/results.h5: exists already; eprop never overwrites results, choose another run directory"
    ]
    assert out == []
    assert (tmp_path / "results.h5").read_bytes() == b"an earlier run"


@pytest.mark.slow
def test_results_line_is_quoted_for_the_shell_and_warnings_go_to_stderr(tmp_path):
    """Issue 19 item 14: `results in 'space dir/sweep'` can be pasted; the oversubscription warning
    and Hydra's launch lines are on stderr, stdout holds only the results line."""
    from tests.conftest import run_eprop_in_process

    sweep = tmp_path / "space dir" / "sweep"
    proc = run_eprop_in_process(
        "run", "-m", "kernel.threads=99", "task.n_iter=-1", f"hydra.sweep.dir={sweep}", check=False
    )
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [f"eprop: results in '{sweep}'"]
    assert "warning: oversubscribed: kernel.threads=99 on" in proc.stderr
    plain = tmp_path / "plain"
    proc = run_eprop_in_process("run", "-m", "task.n_iter=-1", f"hydra.sweep.dir={plain}", check=False)
    assert proc.stdout.splitlines() == [f"eprop: results in {plain}"]  # a plain path as it is


@pytest.mark.slow
def test_every_job_of_a_sweep_is_checked_before_the_first_runs(tmp_path):
    """Issue 19 item 11: a value of any job that its run would refuse ends the sweep before job 0 runs."""
    from tests.conftest import run_eprop_in_process

    sweep = tmp_path / "sweep"
    cases = [
        (("optimizer.eta=1e-3,-5",), "optimizer.eta=-5.0: must be > 0 (job 1 of the sweep: optimizer.eta=-5)"),
        (
            ("task=handwriting,infinite_loop", "task.n_iter=2,-2"),
            "task.n_iter=-2: must be an integer >= 1 (job 1 of the sweep: task=handwriting task.n_iter=-2)",
        ),
    ]
    for overrides, message in cases:
        proc = run_eprop_in_process("run", "-m", *overrides, f"hydra.sweep.dir={sweep}", check=False)
        assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"eprop: error: {message}\n")
        assert not sweep.exists()

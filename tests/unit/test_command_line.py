"""The `eprop` command line (click): one line for every mistake, help, `run`'s untouched argv, and NEST
found (or not) without importing it. Fast tier: no NEST is started."""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata
from pathlib import Path

import click
import pytest

from eprop.cli import boundary, nest_install
from eprop.cli import main as cli
from eprop.cli.nest_install import NEST_MISSING
from eprop.errors import UserError
from tests.conftest import run_eprop_in_process

# ---------------------------------------------------------------- one line per mistake (issue 19 item 10)


@pytest.mark.parametrize(
    "argv, line",
    [
        ((), "no command given; valid commands: run, plot, eval"),
        (("frobnicate",), "unknown command 'frobnicate'; valid commands: run, plot, eval"),
        (("--frob",), "--frob: no such option; valid options of eprop: --version, --help"),
        (("plot",), "eprop plot: missing PATH; give a results.h5, a run directory or a multirun directory"),
        (
            ("eval",),
            "eprop eval: missing PATH; give one or more results files, run directories or multirun directories",
        ),
        (("plot", "x.h5", "--format", "jpg"), "--format jpg: no such format; valid: png, pdf, svg"),
        (
            ("plot", "x.h5", "--log", "--linear"),
            "--log --linear: not allowed together; valid: one of them, or neither (chosen from the data)",
        ),
        (("plot", "x.h5", "--dpi", "0"), "--dpi 0: must be a positive number of dots per inch"),
        (("plot", "x.h5", "--dpi", "many"), "--dpi many: must be a positive number of dots per inch"),
        (("plot", "x.h5", "y.h5"), "y.h5: unexpected argument; usage: eprop plot [OPTIONS] PATH"),
        (
            ("plot", "x.h5", "--fromat", "png"),
            "--fromat: no such option (did you mean --format?); valid options of eprop plot: "
            "--out, --format, --only, --dpi, --log, --linear, --help",
        ),
        (("plot", "x.h5", "--out"), "--out: needs a value (DIR)"),
        (("eval", "x.h5", "--sort"), "--sort: needs a value (KEY)"),
        (("eval", "x.h5", "--json=yes"), "--json: takes no value (a flag: give --json alone)"),
        (
            ("eval", "x.h5", "--jsn"),
            "--jsn: no such option (did you mean --json?); valid options of eprop eval: "
            "--json, --csv, --sort, --descending, --help",
        ),
    ],
)
def test_a_command_line_mistake_is_one_line_with_exit_2(argv, line):
    proc = run_eprop_in_process(*argv, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"eprop: error: {line}\n")


def test_long_options_may_be_shortened_to_a_unique_prefix(monkeypatch):
    from eprop.cli import report

    seen = []
    monkeypatch.setattr(report, "eval_table", lambda paths, **kwargs: seen.append((paths, kwargs)) or 0)
    assert cli.main(["eval", "x.h5", "--desc", "--so=job", "--js", "--", "--cs"]) == 0
    assert seen == [(["x.h5", "--cs"], dict(as_json=True, csv_file=None, sort="job", descending=True))]
    proc = run_eprop_in_process("plot", "x.h5", "--l", check=False)  # --log or --linear: ambiguous
    assert (proc.returncode, proc.stderr) == (2, "eprop: error: --l: ambiguous option; valid: --log, --linear\n")


def test_help_lists_the_commands_with_todays_summaries():
    proc = run_eprop_in_process("--help")
    assert proc.stdout.startswith("Usage: eprop [OPTIONS] COMMAND [ARGS]...")
    for line in (
        "eprop run [OVERRIDES...]          train a network (Hydra overrides, -m for sweeps, --help for the config)",
        "eprop run --params [OVERRIDES...] every parameter of the composed config with its unit and meaning",
        "eprop plot PATH [options]         figures from a results file, run directory or multirun directory",
        "eprop eval PATH... [options]      metrics table from results files or directories",
        "eprop --version                   eprop's, NEST's and Python's versions",
    ):
        assert f"\n    {line}\n" in proc.stdout
    assert proc.stdout.split("Commands:\n")[1].split()[:1] == ["run"]
    assert run_eprop_in_process("-h").stdout == proc.stdout


@pytest.mark.parametrize("command", ["plot", "eval"])
def test_plot_and_eval_help(command):
    proc = run_eprop_in_process(command, "--help")
    assert proc.stdout.startswith(f"Usage: eprop {command} [OPTIONS] PATH")
    assert "needs no NEST" in proc.stdout and "-h, --help" in proc.stdout


def test_plot_help_keeps_hyphenated_words_whole():
    proc = run_eprop_in_process("plot", "--help")
    assert "(cross-entropy)" in proc.stdout and "event-camera" in proc.stdout


# ---------------------------------------------------------------- eprop run: Hydra's argv, untouched


def test_run_hands_its_arguments_to_hydra_untouched(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "run_main", lambda argv: seen.append(list(argv)) or 0)
    argv = ["-m", "seed=1,2", "--", "--cfg", "job", "-h", "--help", "-cd", "/x", "--unknown=3", "a b"]
    assert cli.main(["run", *argv]) == 0
    assert seen == [argv]


# ---------------------------------------------------------------- the boundary


@pytest.mark.slow
def test_an_error_after_an_earlier_run_in_this_process_names_no_results(monkeypatch, tmp_path):
    from eprop.cli import run_job

    def fake_train(cfg, run_dir, *args, **kwargs):
        (run_dir / cfg.output.file).write_bytes(b"")
        return 1.0

    monkeypatch.setattr(run_job, "train", fake_train)
    proc = run_eprop_in_process("run", "progress=false", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.stdout.splitlines()[-1] == f"eprop: results in {tmp_path / 'run'}"
    for argv in (("--params", "task.foo=1"), ("task.foo=1",), ("task=nothing",)):
        proc = run_eprop_in_process("run", *argv, check=False)
        assert (proc.returncode, proc.stdout) == (2, ""), argv
        assert proc.stderr.startswith("eprop: error: task"), argv
    assert (tmp_path / "run" / "results.h5").is_file()


def test_a_runs_cleanup_comes_after_the_line_and_before_a_bug_is_reraised(capsys):
    calls = []

    @click.command()
    def failing():
        boundary.run_started(lambda exc, bug: calls.append((type(exc).__name__, bug)))
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        boundary.invoke(failing, [], "eprop failing")
    assert calls == [("ZeroDivisionError", True)]

    @click.command()
    def user_mistake():
        boundary.run_started(lambda exc, bug: calls.append((type(exc).__name__, bug)))
        raise UserError("x=1: bad")

    assert boundary.invoke(user_mistake, [], "eprop user_mistake") == 2
    assert calls[-1] == ("UserError", False) and capsys.readouterr().err == "eprop: error: x=1: bad\n"
    assert boundary.invoke(click.Command("ok", callback=lambda: None), [], "eprop ok") == 0
    assert len(calls) == 2  # a cleanup belongs to the command that registered it


def test_ctrl_c_in_plot_is_one_line_not_clicks_abort(monkeypatch, capsys):
    from eprop.cli import report

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("eprop.analysis.plot.plot_path", interrupted)
    assert report.plot_main(["x.h5"]) == 130
    assert capsys.readouterr().err == "eprop: interrupted by SIGINT\n"  # not a run's "before the first iteration"


# ---------------------------------------------------------------- NEST: checked and named without importing it


@pytest.fixture
def no_nest_metadata(monkeypatch):
    """No nest-simulator distribution (no wheel installed by pip)."""

    def no_distribution(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", no_distribution)


@pytest.fixture
def no_nest(monkeypatch, no_nest_metadata):
    """An environment where `import nest` would fail: no nest package, no nest-simulator metadata."""
    find_spec = importlib.util.find_spec

    def without_nest(name, *args, **kwargs):
        return None if name == "nest" else find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", without_nest)


def test_run_without_nest_is_one_line_before_anything_is_made(no_nest, tmp_path):
    assert NEST_MISSING == (
        'eprop run needs NEST 3.10 (the nest-simulator package), which is not installed here: pip install "eprop[nest]" '
        "on Linux x86_64; elsewhere conda install -c conda-forge nest-simulator, or a source build (for MPI)"
    )
    proc = run_eprop_in_process("run", "task.n_iter=1", f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"eprop: error: {NEST_MISSING}\n")
    assert not (tmp_path / "run").exists()
    proc = run_eprop_in_process("run", "-m", "seed=1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}", check=False)
    assert proc.returncode == 2 and not (tmp_path / "sweep").exists()


def test_config_shown_without_nest(no_nest):
    proc = run_eprop_in_process("run", "task.n_iter=3", "--cfg", "job")
    assert "n_iter: 3" in proc.stdout


def test_version_without_nest(no_nest, capsys):
    assert cli.main(["--version"]) == 0
    assert ", NEST not installed, Python " in capsys.readouterr().out


def _fake_build(tmp_path: Path, monkeypatch, conda: bool, header: bool = True) -> Path:
    """A NEST installed by conda or a source build: prefix/lib/python3.11/site-packages/nest,
    prefix/include/nest/config.h (or prefix/bin/nest-config), no pip metadata."""
    prefix = tmp_path / "prefix"
    package = prefix / "lib" / "python3.11" / "site-packages" / "nest"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('this fake NEST must never be imported')\n")
    if header:
        (prefix / "include" / "nest").mkdir(parents=True)
        (prefix / "include" / "nest" / "config.h").write_text('#define NEST_VERSION "3.10.1"\n#define NEST_X "y"\n')
    else:
        (prefix / "bin").mkdir()
        (prefix / "bin" / "nest-config").write_text('case "$1" in\n    --version)\n        echo "3.10.2"\n        ;;\n')
    if conda:
        (prefix / "conda-meta").mkdir()
        (prefix / "conda-meta" / "nest-simulator-3.10.1-py311.json").write_text("{}")
    monkeypatch.syspath_prepend(str(package.parent))
    return package


@pytest.mark.parametrize(
    "conda, header, text",
    [
        (False, True, "3.10.1 (conda or source build at {package})"),
        (True, True, "3.10.1 (conda package at {package})"),
        (False, False, "3.10.2 (conda or source build at {package})"),
    ],
)
def test_version_of_a_nest_built_elsewhere(no_nest_metadata, monkeypatch, tmp_path, conda, header, text):
    monkeypatch.delitem(sys.modules, "nest", raising=False)
    package = _fake_build(tmp_path, monkeypatch, conda, header)
    assert nest_install.nest_package() == package
    assert nest_install.nest_version_text() == text.format(package=package)
    nest_install.require_nest()  # found: no error
    assert "nest" not in sys.modules or sys.modules["nest"].__file__ != str(package / "__init__.py")


def test_version_of_the_wheel_is_its_metadata():
    assert nest_install.nest_version_text() == metadata.version("nest-simulator")


def test_params_validates_before_printing(tmp_path):
    """Issue 19 item 7: `--params` refuses what a run refuses, with the same line and exit code."""
    expected = "eprop: error: task.n_iter=-1: must be an integer >= 1\n"
    proc = run_eprop_in_process("run", "--params", "task.n_iter=-1", check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", expected)
    proc = run_eprop_in_process("run", "task.n_iter=-1", f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert (proc.returncode, proc.stderr) == (2, expected)


def test_a_removed_config_group_says_how_to_choose_an_option(tmp_path):
    """Issue 19 item 9: `eprop run ~optimizer` names the group and its options, not "Missing mandatory value"."""
    expected = (
        "eprop: error: optimizer: no option chosen (~optimizer removed it); "
        "choose one: optimizer=adam or optimizer=gradient_descent\n"
    )
    proc = run_eprop_in_process("run", "~optimizer", f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", expected)
    proc = run_eprop_in_process("run", "--params", "~optimizer", check=False)
    assert (proc.returncode, proc.stderr) == (2, expected)


@pytest.mark.parametrize(
    "args, line",
    [
        (["--cfg", "jobb"], "eprop: error: --cfg jobb: no such choice; valid: job, hydra, all"),
        (["--cfg"], "eprop: error: --cfg: needs a value; valid: job, hydra, all"),
        (["--cfg=hydraa"], "eprop: error: --cfg hydraa: no such choice; valid: job, hydra, all"),
        (["-c", "task.n_iter=2"], "eprop: error: -c: needs a value; valid: job, hydra, all"),
        (
            ["--info", "foo"],
            "eprop: error: --info foo: no such choice; valid: all, config, defaults, defaults-tree, plugins, searchpath",
        ),
    ],
)
def test_a_wrong_value_of_hydras_own_options_is_one_line(args, line):
    """Issue 19 item 10: Hydra's argparse would print its usage block (8 lines) for `--cfg jobb`."""
    proc = run_eprop_in_process("run", *args, check=False)
    assert (proc.returncode, proc.stderr.splitlines(), proc.stdout) == (2, [line], "")

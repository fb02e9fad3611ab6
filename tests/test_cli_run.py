"""Fast tier: the `eprop run` command line, in-process (run directory, messages, help, version)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eprop_cli import cli

from .conftest import run_eprop


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
    assert err == [f"eprop: error: hydra.run.dir={blocker}/run: cannot create the run directory "
                   f"({blocker} is a file, not a directory); choose a directory you can write to"]
    code, out, err = run(capsys, "hydra.run.dir=/proc/x", "progress=false")
    assert code == 2
    assert err == ["eprop: error: hydra.run.dir=/proc/x: cannot create the run directory "
                   "(no such file or directory: /proc/x); choose a directory you can write to"]


def test_sweep_dir_that_cannot_be_made_is_one_line(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = run(capsys, "-m", f"hydra.sweep.dir={blocker}/sweep", "seed=1,2", "progress=false")
    assert code == 2
    assert err == [f"eprop: error: hydra.sweep.dir={blocker}/sweep: cannot create the sweep directory "
                   f"({blocker} is a file, not a directory); choose a directory you can write to"]


def test_error_removes_the_run_dir_this_call_made(capsys, tmp_path):
    run_dir = tmp_path / "new" / "a" / "b"
    code, out, err = run(capsys, f"hydra.run.dir={run_dir}", "task.n_iter=0", "progress=false")
    assert code == 2
    assert err == ["eprop: error: task.n_iter=0: must be an integer >= 1"]
    assert out == []
    assert list(tmp_path.iterdir()) == []  # the run directory and the parents this call made


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
    code, out, err = run(capsys, f"hydra.run.dir={run_dir}", "task.n_iter=0", "progress=false",
                         "hydra.output_subdir=.hydra/sub")  # .hydra/ then holds a directory: not ours to judge
    assert code == 2
    assert (run_dir / ".hydra" / "sub").is_dir()


@pytest.mark.nest
def test_a_finished_run_names_its_directory_on_stdout(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_eprop("run", "task=infinite_loop", "task.n_iter=1", "progress=false", f"hydra.run.dir={run_dir}")
    assert proc.stdout.splitlines() == [f"eprop: results in {run_dir}"]
    proc = run_eprop("run", "-m", "task=infinite_loop", "task.n_iter=1", "progress=false", "seed=1,2",
                     f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.stdout.splitlines()[-1] == f"eprop: results in {tmp_path / 'sweep'}"  # after Hydra's launch log
    proc = run_eprop("run", "task=infinite_loop", "task.n_iter=1", "progress=false", "hydra.run.dir=rel/run", cwd=tmp_path)
    assert proc.stdout.splitlines() == ["eprop: results in rel/run"]  # relative to the working directory

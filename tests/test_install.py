"""eprop installs and reads results without NEST: the wheel, installed with its dependencies from the
package index into a fresh virtual environment (no nest-simulator: NEST is the `nest` extra), runs
`eprop eval`, `eprop plot` and `eprop.open` on a saved run, and `eprop run` says in one line that it
needs NEST.

Slow: the wheel build, the venv and the install take about a minute with a warm pip cache
(50 to 60 s measured on the shared 2-core machine), the commands some 20 s more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eprop.errors import nest_missing_message

from . import synthetic_results as syn

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def clean_env() -> dict[str, str]:
    """This environment without what would make the new venv import the source tree or this venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix))
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv with the eprop wheel and its dependencies (from the package index, pip's cache)."""
    root = tmp_path_factory.mktemp("install")
    started = time.perf_counter()
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(root / "wheel")],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        pytest.skip(f"could not build the wheel (no access to the build backend?): {built.stderr[-500:]}")
    (wheel,) = (root / "wheel").glob("eprop-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, capture_output=True, env=clean_env())
    python = root / "venv" / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, env=clean_env()
    )
    if installed.returncode != 0:
        pytest.skip(f"could not install the wheel's dependencies (no package index?): {installed.stderr[-800:]}")
    print(f"wheel, venv and install: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return root / "venv"


def run_in(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def saved_run(tmp_path) -> Path:
    return syn.write_run(tmp_path / "run" / "results.h5", overrides=["optimizer.eta=0.001"]).parent


def test_the_venv_has_eprop_from_the_wheel_and_no_nest(venv, tmp_path):
    proc = run_in(venv, "python", "-c", "import eprop; print(eprop.__file__)", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).is_relative_to(venv)
    proc = run_in(venv, "python", "-c", "import nest", cwd=tmp_path)
    assert proc.returncode != 0 and "No module named 'nest'" in proc.stderr


def test_eval_plot_and_open_work_without_nest(venv, saved_run, tmp_path):
    proc = run_in(venv, "eprop", "eval", str(saved_run), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["loss"] == pytest.approx(list(syn.EXPECTED_LOSS), rel=1e-12)
    assert (summary["first_loss"], summary["final_loss"]) == pytest.approx((25.0, 0.25), rel=1e-12)
    proc = run_in(venv, "eprop", "eval", str(saved_run), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "final loss E" in proc.stdout and "0.25" in proc.stdout

    proc = run_in(
        venv, "eprop", "plot", str(saved_run), "--out", str(tmp_path / "figures"), "--dpi", "40", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "figures").glob("*.png"))) == 6

    script = (
        "import sys, eprop\n"
        "results = eprop.open(sys.argv[1])\n"
        "print(results.to_pandas()['loss'].tolist())\n"
        "print(sorted(m for m in ('nest', 'pynest') if m in sys.modules))\n"
    )
    proc = run_in(venv, "python", "-c", script, str(saved_run), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    losses, imported = proc.stdout.strip().splitlines()
    assert json.loads(losses) == pytest.approx(list(syn.EXPECTED_LOSS), rel=1e-12)
    assert imported == "[]"


def test_sweep_to_pandas_works_without_nest(venv, tmp_path):
    for k, (eta, scale) in enumerate([("0.001", 2.0), ("0.01", 1.0)]):
        syn.write_run(tmp_path / "sweep" / str(k) / "results.h5", overrides=[f"optimizer.eta={eta}"], loss_scale=scale)
    script = (
        "import json, sys, eprop\n"
        "table = eprop.open(sys.argv[1]).to_pandas()\n"
        "print(json.dumps([table[k].tolist() for k in ('job', 'optimizer.eta', 'final_loss')]))\n"
    )
    proc = run_in(venv, "python", "-c", script, str(tmp_path / "sweep"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    jobs, etas, losses = json.loads(proc.stdout)
    assert (jobs, etas) == (["1", "0"], [0.01, 0.001])
    assert losses == pytest.approx([0.25, 0.5], rel=1e-12)


def test_eprop_run_without_nest_is_one_line_and_exit_2(venv, tmp_path):
    proc = run_in(venv, "eprop", "run", "task.n_iter=1", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == [f"eprop: error: {nest_missing_message()}"]
    assert not (tmp_path / "outputs").exists()
    script = "import eprop\ntry:\n    eprop.run(['task.n_iter=1'])\nexcept eprop.UserError as err:\n    print(err)\n"
    proc = run_in(venv, "python", "-c", script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == nest_missing_message()

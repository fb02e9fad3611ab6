"""Shared fixtures: the data folder, running `eprop` in a subprocess, composing configs.

NEST is a process-wide kernel, so every test that simulates runs `eprop` (or the seed
oracle) in its own process.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
ORACLE = ROOT / "tests" / "oracle" / "seed_tutorial.py"


def data_dir() -> Path:
    """Folder holding chaos_handwriting.txt: $EPROP_DATA_DIR, ../shared/data, or the cache."""
    for candidate in (os.environ.get("EPROP_DATA_DIR"), SHARED_DATA, ROOT / "data"):
        if candidate and (Path(candidate) / "chaos_handwriting.txt").is_file():
            return Path(candidate)
    pytest.skip("chaos_handwriting.txt is not available offline (set EPROP_DATA_DIR)")


@pytest.fixture(scope="session")
def handwriting_file() -> Path:
    return data_dir() / "chaos_handwriting.txt"


@pytest.fixture(scope="session")
def nmnist_dir(tmp_path_factory) -> Path:
    """A tiny N-MNIST-format data set (2 samples per digit and split, 300 events each) for task=nmnist configs."""
    from tests.support.nmnist_samples import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("nmnist_small") / "nmnist", n_per_digit=2, n_events=300)


def eprop_env() -> dict[str, str]:
    env = dict(os.environ)
    env["EPROP_DATA_DIR"] = str(data_dir())
    env["PYNEST_QUIET"] = "1"
    return env


def run_eprop(
    *args: str, cwd: Path | None = None, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run `python -m eprop.cli.main ARGS` and return the finished process (text output)."""
    proc = subprocess.run(
        [sys.executable, "-m", "eprop.cli.main", *args],
        cwd=cwd or ROOT,
        env=eprop_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"eprop {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def run_eprop_in_process(
    *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`eprop ARGS` in this process, as run_eprop returns it (exit code, stdout, stderr).

    For commands that end before NEST (config errors, bad paths, eval/plot): milliseconds instead
    of a Python start-up each. `env` replaces environment variables for the call (default:
    EPROP_DATA_DIR as run_eprop sets it). A bug raises here instead of printing a traceback.
    """
    import contextlib
    import io

    from eprop.cli import main as cli

    out, err = io.StringIO(), io.StringIO()
    env = env if env is not None else {"EPROP_DATA_DIR": str(data_dir())}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(args))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    proc = subprocess.CompletedProcess(["eprop", *args], code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f"eprop {' '.join(args)} exited {code}:\n{proc.stderr[-3000:]}")
    return proc


def run_oracle(task: str, n_iter: int, out: Path, *extra: str) -> Path:
    """Run the NEST 3.10 translation of the seed tutorial (EXTRA: its optional arguments); returns its .npz of results."""
    proc = subprocess.run(
        [sys.executable, str(ORACLE), task, str(n_iter), str(data_dir() / "chaos_handwriting.txt"), str(out), *extra],
        env=eprop_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture
def compose():
    """Compose eprop's config like `eprop run` would, without running anything.

    A config error (e.g. a value outside a closed choice) is raised as the UserError `eprop run`
    prints (errors.user_error), so tests assert the same one-line message.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from eprop.cli.main import conf_dir
    from eprop.config.store import register_configs

    register_configs()

    def _compose(*overrides: str, return_hydra_config: bool = False):
        from eprop.cli.boundary import user_error
        from eprop.config.hydra_errors import config_error_types

        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
            try:
                return hydra_compose("config", overrides=list(overrides), return_hydra_config=return_hydra_config)
            except config_error_types() as err:
                raise user_error(err) from None

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture(scope="module")
def oracle():
    """tests/oracle/evidence_accumulation.py as a module: its pure-numpy draws, without NEST
    (the oracle imports NEST inside main())."""
    path = ROOT / "tests" / "oracle" / "evidence_accumulation.py"
    spec = importlib.util.spec_from_file_location("evidence_accumulation_oracle", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

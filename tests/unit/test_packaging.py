"""The wheel carries conf/, so a non-editable `pip install .` composes the same configs.

The rest of the suite runs from the editable install (conf/ found at the top of the checkout).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(out)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"could not build the wheel (no access to the build backend?): {proc.stderr[-500:]}")
    (path,) = out.glob("eprop-*.whl")
    return path


@pytest.mark.slow
def test_wheel_contains_every_config(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    source = {f"eprop/conf/{p.relative_to(ROOT / 'conf').as_posix()}" for p in (ROOT / "conf").rglob("*.yaml")}
    assert source, "conf/ has no YAML files"
    assert source <= names, sorted(source - names)
    assert "eprop/cli/main.py" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "eprop = eprop.cli.main:main" in entry_points


@pytest.mark.slow
def test_installed_wheel_composes_from_its_packaged_configs(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "from eprop.cli.main import conf_dir; from eprop.config.store import register_configs; "
        "from hydra import compose, initialize_config_dir; register_configs(); d = conf_dir(); "
        "initialize_config_dir(config_dir=d, version_base='1.3'); "
        "c = compose('config', overrides=['task=infinite_loop']); print(d); print(c.task.sequence_steps)"
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    conf, steps = out.stdout.split()
    assert Path(conf) == target / "eprop" / "conf"
    assert steps == "1258"

"""`eprop run` composes its config once (run_mode.py), not twice as @hydra.main would.

Hydra composes the config a first time only to read hydra.mode; eprop answers "null" from the
command line when no config of eprop sets hydra.mode and the command line does not set it or
point Hydra at other config files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eprop.cli.run_mode import mode_is_null
from eprop.config.store import conf_dir
from tests.conftest import run_eprop_in_process


def test_no_config_file_of_eprop_sets_hydra_mode():
    files = sorted(Path(conf_dir()).rglob("*.yaml"))
    assert len(files) > 20
    setting = [str(f) for f in files if "mode" in ((yaml.safe_load(f.read_text()) or {}).get("hydra") or {})]
    assert setting == []


@pytest.mark.slow
@pytest.mark.parametrize("group", ["experiment", "hparams_search"])
def test_every_preset_composes_with_a_null_hydra_mode(compose, group):
    options = sorted(p.stem for p in (Path(conf_dir()) / group).glob("*.yaml") if not p.stem.startswith("_"))
    assert options
    for option in options:
        assert compose(f"{group}={option}", return_hydra_config=True).hydra.mode is None, option


@pytest.mark.parametrize(
    "argv, null",
    [
        (["task.n_iter=1", "hydra.run.dir=/tmp/x", "recording=minimal"], True),
        (["-m", "seed=1,2", "hparams_search=eta_creg", "hydra/launcher=joblib", "hydra.sweep.dir=/tmp/y"], True),
        (["--cfg", "job"], True),
        (["hydra.mode=RUN"], False),
        (["++hydra.mode=MULTIRUN", "seed=1"], False),
        (["hydra.searchpath=[file:///tmp/conf]"], False),
        (["+hydra.searchpath.0=file:///tmp/conf"], False),
        (["-cd", "/tmp/conf"], False),
        (["--config-dir=/tmp/conf"], False),
        (["--config-name", "other"], False),
        (["-cp", "/tmp/conf"], False),
    ],
)
def test_mode_is_null_only_when_the_command_line_cannot_set_it(argv, null):
    assert mode_is_null(argv) is null


@pytest.fixture
def counted_runs(monkeypatch):
    """`eprop run` in this process with train() replaced: how often Hydra composed, and each job's mode."""
    from hydra._internal.hydra import Hydra
    from hydra.core.hydra_config import HydraConfig

    from eprop.cli import run_job

    seen = {"compositions": 0, "modes": []}
    compose_config = Hydra.compose_config

    def counting(self, *args, **kwargs):
        seen["compositions"] += 1
        return compose_config(self, *args, **kwargs)

    def fake_train(cfg, run_dir, *args, **kwargs):
        seen["modes"].append(HydraConfig.get().mode.name)
        return 0.0

    monkeypatch.setattr(Hydra, "compose_config", counting)
    monkeypatch.setattr(run_job, "train", fake_train)
    return seen


def test_a_run_composes_its_config_once(counted_runs, tmp_path):
    proc = run_eprop_in_process("run", "progress=false", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0 and counted_runs == {"compositions": 1, "modes": ["RUN"]}


def test_hydra_mode_on_the_command_line_is_still_read_by_hydra(counted_runs, tmp_path):
    proc = run_eprop_in_process("run", "progress=false", "hydra.mode=RUN", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0 and counted_runs == {"compositions": 2, "modes": ["RUN"]}


@pytest.mark.slow
def test_a_multirun_keeps_its_mode(counted_runs, tmp_path):
    proc = run_eprop_in_process("run", "-m", "progress=false", "seed=1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode == 0 and counted_runs["modes"] == ["MULTIRUN", "MULTIRUN"]

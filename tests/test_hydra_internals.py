"""What eprop relies on in Hydra beyond its public API (eprop/cli/hydra_internals.py lists it).

These tests fail loudly when a Hydra release renames or changes any of it: first that the
private names exist with the signatures used, then that the behaviour eprop relies on holds,
on a two-key config of its own (no NEST, milliseconds each).
"""

from __future__ import annotations

import inspect
import math
import sys
from pathlib import Path

import hydra
import pytest
from hydra.core.hydra_config import HydraConfig

from eprop.cli import hydra_internals
from eprop.cli.hydra_internals import TESTED_HYDRA, hydra_main, one_composition


@pytest.fixture
def app(tmp_path):
    """A config directory with `x: 1`, and a task function that records (x, hydra.mode) per job."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text("x: 1\n")
    seen: list[tuple[int, str]] = []

    def task(cfg):
        seen.append((cfg.x, HydraConfig.get().mode.name))
        return float(cfg.x)

    return {"conf": str(conf), "task": task, "seen": seen, "out": tmp_path / "out"}


@pytest.fixture
def compositions(monkeypatch):
    """How often Hydra composes the config (Hydra.compose_config calls)."""
    from hydra._internal.hydra import Hydra

    count = {"n": 0}
    compose = Hydra.compose_config

    def counting(self, *args, **kwargs):
        count["n"] += 1
        return compose(self, *args, **kwargs)

    monkeypatch.setattr(Hydra, "compose_config", counting)
    return count


def test_hydra_is_a_version_the_module_names():
    # pyproject allows hydra-core >=1.3.2,<1.4; hydra_internals was checked against TESTED_HYDRA
    assert hydra.__version__.startswith("1.3."), (
        f"hydra-core {hydra.__version__}: re-check eprop/cli/hydra_internals.py"
    )
    assert TESTED_HYDRA.startswith("1.3.")


# ---------------------------------------------------------------- 1. Hydra.get_mode (private)


def test_get_mode_exists_with_the_signature_replaced():
    from hydra._internal.hydra import Hydra

    assert list(inspect.signature(Hydra.get_mode).parameters) == ["self", "config_name", "overrides"]


def test_hydra_asks_get_mode_before_a_run_and_treats_none_as_run_or_multirun():
    from hydra._internal import utils

    assert "hydra.get_mode(" in inspect.getsource(utils._run_hydra)
    assert list(inspect.signature(utils._run_app).parameters)[:3] == ["run", "multirun", "mode"]


def test_unpatched_get_mode_of_a_config_without_hydra_mode_is_none(app):
    """The answer one_composition gives without composing is the one Hydra's composition gives."""
    from hydra import initialize_config_dir
    from hydra._internal.hydra import Hydra
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=app["conf"], version_base="1.3"):
        hydra_object = GlobalHydra.instance().hydra
        assert isinstance(hydra_object, Hydra)
        assert hydra_object.get_mode(config_name="config", overrides=["x=2"]) is None
    GlobalHydra.instance().clear()


def test_a_run_composes_once(app, compositions):
    hydra_main(app["task"], ["x=2", f"hydra.run.dir={app['out']}"], app["conf"], "config")
    assert app["seen"] == [(2, "RUN")] and compositions["n"] == 1


def test_a_multirun_keeps_its_mode(app, compositions):
    hydra_main(app["task"], ["-m", "x=2,3", f"hydra.sweep.dir={app['out']}"], app["conf"], "config")
    assert app["seen"] == [(2, "MULTIRUN"), (3, "MULTIRUN")]


def test_without_the_shortcut_hydra_composes_twice(app, compositions):
    hydra_main(app["task"], ["hydra.mode=RUN", f"hydra.run.dir={app['out']}"], app["conf"], "config")
    assert app["seen"] == [(1, "RUN")] and compositions["n"] == 2


def test_one_composition_restores_get_mode():
    from hydra._internal.hydra import Hydra

    before = Hydra.get_mode
    with pytest.raises(RuntimeError):
        with one_composition(True):
            assert Hydra.get_mode is not before
            raise RuntimeError
    assert Hydra.get_mode is before


# ---------------------------------------------------------------- 2. @hydra.main reads sys.argv


def test_hydra_main_reads_sys_argv_and_the_argv_is_restored(app):
    saved = list(sys.argv)
    hydra_main(app["task"], ["x=5", f"hydra.run.dir={app['out']}"], app["conf"], "config")
    assert app["seen"] == [(5, "RUN")] and sys.argv == saved


def test_hydra_usage_errors_name_eprop_run(app, capsys):
    with pytest.raises(SystemExit) as info:
        hydra_main(app["task"], ["--cfg"], app["conf"], "config")  # --cfg needs a value: Hydra's argparse
    assert info.value.code == 2
    assert capsys.readouterr().err.startswith("usage: eprop run")


# ---------------------------------------------------------------- 3. HYDRA_FULL_ERROR (public)


def test_a_job_error_reaches_the_caller_as_raised(app):
    def failing(cfg):
        raise ValueError("x is wrong")

    with pytest.raises(ValueError, match="x is wrong"):
        hydra_main(failing, [f"hydra.run.dir={app['out']}"], app["conf"], "config")


# ---------------------------------------------------------------- JobReturn (public API used by eprop.sweep)


def test_job_return_value_is_public_and_settable():
    from hydra.core.utils import JobReturn, JobStatus

    ret = JobReturn(status=JobStatus.COMPLETED)
    ret.return_value = float("nan")
    assert math.isnan(ret.return_value)
    ret.status = JobStatus.FAILED
    ret.return_value = ValueError("failed trial")
    with pytest.raises(ValueError, match="failed trial"):
        ret.return_value  # a failed job's value is raised (optuna's sweeper counts the trial as failed)


# ---------------------------------------------------------------- 4. hydra-optuna-sweeper's private state


def test_optuna_sweeper_keeps_its_launcher_and_config_where_eprop_reaches_them():
    """Read from the plugin's source (importing it imports optuna: 3 s); the optuna searches of
    test_sweeps.py (NEST tier) show the wrapped launcher at work."""
    plugin = pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    folder = Path(next(iter(plugin.__path__)))
    sweeper, impl = (folder / "optuna_sweeper.py").read_text(), (folder / "_impl.py").read_text()
    assert "self.sweeper = OptunaSweeperImpl(" in sweeper and "self.sweeper.setup(" in sweeper
    assert "self.launcher = Plugins.instance().instantiate_launcher(" in impl
    assert "self.config = config" in impl and "self.launcher.launch(" in impl


def test_eprop_optuna_sweeper_reaches_the_launcher_through_this_module():
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    source = (Path(__file__).resolve().parents[1] / "hydra_plugins" / "eprop_sweeper" / "__init__.py").read_text()
    assert ".sweeper." not in source  # only hydra_internals touches the plugin's private state

    class Plugin:
        class sweeper:  # noqa: N801 - the shape of OptunaSweeper: .sweeper.launcher, .sweeper.config
            launcher, config = "launcher", "config"

    hydra_internals.set_optuna_launcher(Plugin, "wrapped")
    assert (hydra_internals.optuna_launcher(Plugin), hydra_internals.optuna_config(Plugin)) == ("wrapped", "config")


def test_no_other_module_of_eprop_uses_hydra_private_names():
    root = Path(__file__).resolve().parents[1]
    users = [
        str(path.relative_to(root))
        for folder in ("eprop", "hydra_plugins")
        for path in sorted((root / folder).rglob("*.py"))
        if "hydra._internal" in path.read_text() or "_return_value" in path.read_text()
    ]
    assert users == ["eprop/cli/hydra_internals.py"]

"""Fast tier: errors.exit_status is the one map from an exception to (line on stderr, exit code)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from eprop.cli.boundary import BUG, exit_status
from eprop.errors import Diverged, Interrupted, StopRun, UserError


def config_error() -> OmegaConfBaseException:
    try:
        OmegaConf.create({"a": "${b}"}).a
    except OmegaConfBaseException as err:
        return err
    raise AssertionError("no error")


@pytest.mark.parametrize(
    "exc,status",
    [
        (
            UserError("task.n_iter=0: must be an integer >= 1"),
            ("eprop: error: task.n_iter=0: must be an integer >= 1", 2),
        ),
        (StopRun(UserError("x: bad")), ("eprop: error: x: bad", 2)),
        (
            Diverged("diverged at iteration 2 of 5: loss is nan"),
            ("eprop: error: diverged at iteration 2 of 5: loss is nan", 3),
        ),
        (
            Interrupted("SIGINT", 2, 5, Path("/r")),
            (
                "eprop: interrupted by SIGINT after 2 of 5 iterations; results kept in /r; continue with: eprop run resume=/r",
                130,
            ),
        ),
        (
            StopRun(Interrupted("SIGTERM", 5, 5, Path("/r"), complete=True)),
            ("eprop: interrupted by SIGTERM during the last iteration; the run is complete: /r", 130),
        ),
        (KeyboardInterrupt(), ("eprop: interrupted by SIGINT before the first iteration; nothing to resume", 130)),
        (
            KeyboardInterrupt("SIGINT"),
            (
                "eprop: stopped at once by a second signal; the results file keeps every finished "
                "iteration (status interrupted, no final weights)",
                130,
            ),
        ),
        (SystemExit(0), ("", 0)),
        (SystemExit(None), ("", 0)),
        (SystemExit("usage"), ("", 1)),
        (config_error(), ("eprop: error: a: the interpolation ${b} names no key of the config", 2)),
        (ZeroDivisionError("bug"), BUG),
    ],
)
def test_exit_status(exc, status):
    assert exit_status(exc) == status


def test_cli_and_run_job_do_not_import_each_other():
    root = Path(__file__).resolve().parents[2] / "eprop"
    for name in ("cli/run_args.py", "cli/show_config.py", "cli/run_job.py", "config/hydra_errors.py", "errors.py"):
        assert "eprop.cli.main" not in (root / name).read_text(), name

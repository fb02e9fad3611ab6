"""Fast tier: ruff's linter and formatter accept every line (the configuration in pyproject.toml,
the same check as `make lint` and the pre-commit hook)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None, reason="ruff is not installed (pip install -e '.[test]')"
)


@pytest.mark.parametrize(
    "command", [["check", "--quiet", "."], ["format", "--check", "--quiet", "."]], ids=["lint", "format"]
)
def test_ruff_accepts_the_tree(command):
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]

"""The documentation site builds in strict mode (a broken link or reference fails), with the
parameter reference generated from the schema and the API reference from the docstrings.

Slow tier: it needs the docs extra (`pip install -e '.[docs]'`, which `make test` installs).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("mkdocs") is None,
        reason="mkdocs is not installed: install the docs extra (pip install -e '.[docs]')",
    ),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_config_reference_is_generated_from_the_schema(site):
    page = (site / "configuration" / "reference" / "index.html").read_text()
    row = page[page.index("<code>neuron.rec.tau_m_mean</code>") :]
    row = row[: row.index("</tr>")]
    assert "<td>ms</td>" in row
    assert "mean of the per-neuron membrane time constant" in row
    assert "<code>task.n_cues</code>" in page  # a task's own key, in its task schema's section


def test_the_api_page_documents_eprop_open(site):
    page = (site / "api" / "index.html").read_text()
    assert 'id="eprop.open"' in page  # mkdocstrings' entry for the function, not just a mention


def test_every_page_of_the_nav_is_built(site):
    for page in ("getting-started", "commands", "tasks", "results", "sweeps", "troubleshooting", "architecture"):
        assert (site / page / "index.html").is_file(), page
    assert (site / "benchmarks" / "index.html").is_file()

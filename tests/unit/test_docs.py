"""The documentation: the site builds in strict mode (a broken link or reference fails), with the
parameter reference generated from the schema and the API reference from the docstrings (slow
tier: it needs the docs extra, `pip install -e '.[docs]'`, which `make test` installs); the README
stays a front page whose links into the docs hold.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

needs_mkdocs = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None,
    reason="mkdocs is not installed: install the docs extra (pip install -e '.[docs]')",
)


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


@pytest.mark.slow
@needs_mkdocs
def test_the_config_reference_is_generated_from_the_schema(site):
    page = (site / "configuration" / "reference" / "index.html").read_text()
    row = page[page.index("<code>neuron.rec.tau_m_mean</code>") :]
    row = row[: row.index("</tr>")]
    assert "<td>ms</td>" in row
    assert "mean of the per-neuron membrane time constant" in row
    assert "<code>task.n_cues</code>" in page  # a task's own key, in its task schema's section


@pytest.mark.slow
@needs_mkdocs
def test_the_api_page_documents_eprop_open(site):
    import eprop

    if "open" not in getattr(eprop, "__all__", ()):
        pytest.skip("eprop.open is not in this eprop yet (the Python API lands separately)")
    page = (site / "api" / "index.html").read_text()
    assert 'id="eprop.open"' in page  # mkdocstrings' entry for the function, not just a mention


@pytest.mark.slow
@needs_mkdocs
def test_every_page_of_the_nav_is_built(site):
    for page in ("getting-started", "commands", "tasks", "results", "sweeps", "troubleshooting", "architecture"):
        assert (site / page / "index.html").is_file(), page
    for page in ("benchmarks", "nest-tests", "tutorial", "configuration"):
        assert (site / page / "index.html").is_file(), page


def test_the_readme_is_a_front_page_whose_links_hold():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert "make run" in readme and "make test" in readme and "make docs" in readme
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert "docs/commands.md" in local
    assert [link for link in local if not (REPO / link).exists()] == []

"""NEST tier: docs/tutorial.ipynb runs from top to bottom (nbclient, a fresh kernel, a temporary working
directory) and its 5-iteration handwriting run ends with the seed tutorial's loss.

`python -m tests.test_notebook` executes it the same way and saves it with its outputs (for the docs).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, data_dir

pytestmark = pytest.mark.nest

NOTEBOOK = ROOT / "docs" / "tutorial.ipynb"
FINAL_LOSS = 173.97540479  # handwriting, 5 iterations: the seed tutorial's loss (README, tests/nest/test_run_nest.py)


def execute(notebook: Path, workdir: Path, timeout: float = 600):
    """The notebook executed in a fresh kernel with `workdir` as its working directory."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def tagged(nb, tag: str):
    (cell,) = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    return cell


def text_of(cell) -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output and "text/plain" in output.data:
            parts.append(output.data["text/plain"])
    return "".join(parts)


def test_the_tutorial_notebook_runs_and_ends_with_the_seeds_loss(tmp_path, monkeypatch):
    monkeypatch.setenv("EPROP_DATA_DIR", str(data_dir()))
    monkeypatch.setenv("PYNEST_QUIET", "1")
    nb = execute(NOTEBOOK, tmp_path)
    printed = re.fullmatch(r"final loss E = (\S+)\n", text_of(tagged(nb, "final-loss")))
    assert printed is not None, text_of(tagged(nb, "final-loss"))
    assert float(printed.group(1)) == FINAL_LOSS
    from eprop.results import open_results

    with open_results(tmp_path / "runs" / "handwriting" / "results.h5") as results:
        assert results.n_iter_done == 5 and results.status == "complete"
        assert round(float(results.loss[-1]), 8) == FINAL_LOSS
    table = text_of(tagged(nb, "sweep-table"))
    assert "eta_1e-3" in table and "eta_5e-3" in table
    assert sorted(p.name for p in (tmp_path / "runs" / "eta_sweep").iterdir()) == ["eta_1e-3", "eta_5e-3"]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []


def main() -> None:
    """Execute docs/tutorial.ipynb in a temporary directory and save it with its outputs."""
    import tempfile

    import nbformat

    workdir = Path(tempfile.mkdtemp(prefix="eprop_tutorial_"))
    try:
        nb = execute(NOTEBOOK, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    nbformat.write(nb, NOTEBOOK)
    print(f"saved {NOTEBOOK} with its outputs", file=sys.stderr)


if __name__ == "__main__":
    main()

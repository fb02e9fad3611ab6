"""`eprop run` imports no plotting or progress-bar code it does not use.

PyNEST imports matplotlib at start-up for its spatial-layer plots (0.15 s); simulator.nest()
hides it while NEST loads, so a run without a progress bar loads neither matplotlib (nor PIL,
which matplotlib pulls in) nor rich, and matplotlib stays importable afterwards. pandas is not
checked: NEST imports it itself whenever it is installed (nest/lib/hl_api_types.py), and it is
one of eprop's dependencies (Results.to_pandas); eprop.results imports it only in to_pandas
(tests/test_results_api.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, eprop_env

pytestmark = pytest.mark.nest

SCRIPT = r"""
import json, sys
from eprop.cli import main as cli
code = cli.main(["run", "task.n_iter=1", "recording=minimal", "progress=false", "hydra.run.dir=" + sys.argv[1]])
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"matplotlib", "PIL", "rich"})
import matplotlib.pyplot
print(json.dumps({"code": code, "loaded": loaded, "importable": matplotlib.pyplot.__name__}))
"""


def test_a_run_without_progress_bar_imports_no_plotting_code(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "run")],
        cwd=ROOT,
        env=eprop_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "loaded": [], "importable": "matplotlib.pyplot"}

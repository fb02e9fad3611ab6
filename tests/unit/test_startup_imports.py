"""`eprop run` imports no plotting or progress-bar code it does not use; `import eprop` imports
neither NEST, nor matplotlib, nor h5py, nor Hydra (the API's names load on first use).

PyNEST imports matplotlib at start-up for its spatial-layer plots (0.15 s); simulator.nest()
hides it while NEST loads, so a run without a progress bar loads neither matplotlib (nor PIL,
which matplotlib pulls in) nor rich, and matplotlib stays importable afterwards. pandas is not
checked: NEST imports it itself whenever it is installed (nest/lib/hl_api_types.py), and it is
one of eprop's dependencies (Results.to_pandas); eprop.results imports it only in to_pandas
(tests/unit/test_results_api.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, eprop_env

SCRIPT = r"""
import json, sys
from eprop.cli import main as cli
code = cli.main(["run", "task.n_iter=1", "recording=minimal", "progress=false", "hydra.run.dir=" + sys.argv[1]])
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"matplotlib", "PIL", "rich"})
import matplotlib.pyplot
print(json.dumps({"code": code, "loaded": loaded, "importable": matplotlib.pyplot.__name__}))
"""


@pytest.mark.nest
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


IMPORT_EPROP = r"""
import json, sys
import eprop
names = (eprop.__version__, eprop.UserError, eprop.Diverged, eprop.__all__)
heavy = ("nest", "matplotlib", "h5py", "hydra", "pandas", "eprop.api", "eprop.results")
print(json.dumps(sorted(m for m in sys.modules if m in heavy or m.split(".")[0] in heavy)))
"""


def test_import_eprop_loads_no_simulator_plotting_or_hdf5_code():
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_EPROP], cwd=ROOT, env=eprop_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []

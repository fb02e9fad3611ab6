"""NEST tier: `eprop.run` in a Python process writes the numbers `eprop run` writes (compared with ==),
also for a second run in the same process, and returns a diverged run's results instead of raising.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from eprop.results import open_results
from tests.conftest import ROOT, eprop_env, run_eprop

pytestmark = pytest.mark.nest

OVERRIDES = ["task.n_iter=3", "progress=false"]

SCRIPT = r"""
import json, sys
import eprop
first = eprop.run(json.loads(sys.argv[1]), sys.argv[2])
cfg = eprop.compose(json.loads(sys.argv[1]))
second = eprop.run(cfg, sys.argv[3])  # a composed config, in the same process (the kernel is reset)
print(json.dumps({"paths": [str(first.path), str(second.path)], "status": [first.status, second.status]}))
"""


def test_eprop_run_writes_the_numbers_of_eprop_run(tmp_path):
    cli_dir = tmp_path / "cli"
    run_eprop("run", *OVERRIDES, f"hydra.run.dir={cli_dir}")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(OVERRIDES), str(tmp_path / "api"), str(tmp_path / "api2")],
        cwd=tmp_path,
        env=eprop_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["paths"] == [str(tmp_path / "api" / "results.h5"), str(tmp_path / "api2" / "results.h5")]
    assert report["status"] == ["complete", "complete"]
    with open_results(cli_dir / "results.h5") as cli:
        for path in report["paths"]:
            with open_results(path) as api:
                assert api.loss.shape == (3,)
                assert np.all(api.loss == cli.loss), (api.loss, cli.loss)
                assert np.all(api.loss_per_output == cli.loss_per_output)
                for projection in ("in_rec", "rec_rec", "rec_out"):
                    assert np.all(
                        api.weights("final", projection)["weight"] == cli.weights("final", projection)["weight"]
                    )
                spikes, cli_spikes = api.events("spike_recorder"), cli.events("spike_recorder")
                assert np.array_equal(spikes["times"], cli_spikes["times"])
                for key in ("config_yaml", "config_source_yaml", "overrides", "n_iter", "seed", "task"):
                    assert api.attrs[key] == cli.attrs[key], key
    for name in ("api", "api2"):
        assert (tmp_path / name / ".hydra" / "config.yaml").read_text() == (
            cli_dir / ".hydra" / "config.yaml"
        ).read_text()
        assert (tmp_path / name / ".hydra" / "overrides.yaml").read_text() == (
            cli_dir / ".hydra" / "overrides.yaml"
        ).read_text()
        assert "final loss 179.828 after 3 iterations" in (tmp_path / name / "eprop.log").read_text()


DIVERGING = [
    "task=sine_waves",
    "task.sequence_steps=200",
    "neuron.rec.n=30",
    "recording=minimal",
    "task.n_iter=3",
    "neuron=lif",
    "weights.in_rec.scale=100",
    "weights.rec_rec.scale=100",
    "recording.saturated_rate=0.4",  # as tests/nest/test_numbers_nest.py: 421 spikes/s is above 0.4 x 1000 spikes/s
    "progress=false",
]


def test_a_diverged_run_returns_its_results_and_a_refused_one_leaves_no_directory(tmp_path):
    script = (
        "import json, sys, eprop\n"
        "try:\n"
        "    eprop.run(['task.n_iter=1', '+neuron.rec.params.V_th=0.06'], sys.argv[3])\n"
        "except eprop.UserError as err:\n"
        "    refused = str(err)\n"
        "r = eprop.run(json.loads(sys.argv[1]), sys.argv[2])\n"
        "print(json.dumps([refused, r.status, r.n_iter_done, r.attrs['error']]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(DIVERGING), str(tmp_path / "run"), str(tmp_path / "new" / "run")],
        cwd=ROOT,
        env=eprop_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    refused, status, done, error = json.loads(proc.stdout.strip().splitlines()[-1])
    assert refused.startswith(
        "neuron.rec.params.V_th: shadows the schema field neuron.rec.V_th"
    )  # found by NEST's side
    assert not (tmp_path / "new").exists()  # the run directory made for it is gone again
    assert (status, done) == ("diverged", 1)
    assert error.startswith("diverged at iteration 1 of 3: mean recurrent rate ")
    assert error in (tmp_path / "run" / "eprop.log").read_text()

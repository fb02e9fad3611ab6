"""Reading the final weights and optimizer state from NEST (simulator.read_weights).

NEST builds each connection's whole status dictionary whatever keys are asked, so the state is
read in blocks of simulator.synapse_state.STATUS_BLOCK connections: reading the 39 800 recurrent synapses at
once raised the peak memory at the end of a run by about 140 MB. The script below trains two
iterations in its own process (NEST is one kernel per process) with a block of 399 connections,
which leaves a block of one connection in the 400-connection projections, and compares every
array with a read of whole projections at once.
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
import numpy as np
from hydra import compose, initialize_config_dir
from nest.lib.hl_api_types import SynapseCollection
from eprop import simulator
from eprop.simulator import synapse_state
from eprop.cli.main import conf_dir
from eprop.config.schema import register_configs, with_plain_choices
from eprop.training.loop import train

register_configs()
with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
    cfg = with_plain_choices(compose("config", overrides=["task.n_iter=2", "recording=minimal", "progress=false"]))

sizes = []
plain_get = SynapseCollection.get
def counting_get(self, *args, **kwargs):
    sizes.append(len(self))
    return plain_get(self, *args, **kwargs)
SynapseCollection.get = counting_get

report = {}
blocked_read = simulator.read_weights
def read_twice(net):
    sizes.clear()
    synapse_state.STATUS_BLOCK = 399
    weights, state = blocked_read(net)
    report["largest_get"] = max(sizes)
    synapse_state.STATUS_BLOCK = 10 ** 9
    whole_weights, whole_state = blocked_read(net)
    report["weights_equal"] = {p: all(np.array_equal(weights[p][k], whole_weights[p][k]) for k in whole_weights[p])
                               and sorted(weights[p]) == sorted(whole_weights[p]) for p in whole_weights}
    report["state_equal"] = {p: all(np.array_equal(state[p][k], whole_state[p][k]) for k in whole_state[p])
                             and sorted(state[p]) == sorted(whole_state[p]) for p in whole_state}
    report["sizes"] = {p: len(whole_weights[p]["weight"]) for p in whole_weights}
    report["nonzero_v"] = {p: int(np.count_nonzero(whole_state[p]["v"])) for p in whole_state}
    return weights, state
simulator.read_weights = read_twice
train(cfg, sys.argv[1])
print(json.dumps(report))
"""


def test_final_state_is_read_in_blocks_and_equals_a_whole_read(tmp_path):
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
    assert report["largest_get"] == 399
    assert report["sizes"] == {"in_rec": 20000, "rec_rec": 39800, "rec_out": 400, "out_rec": 400}
    assert report["weights_equal"] == {"in_rec": True, "rec_rec": True, "rec_out": True, "out_rec": True}
    assert report["state_equal"] == {"in_rec": True, "rec_rec": True, "rec_out": True}
    assert all(count > 0 for count in report["nonzero_v"].values()), report["nonzero_v"]

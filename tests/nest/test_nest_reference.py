"""NEST tier: NEST's own e-prop regression tests, written as eprop presets, give NEST's numbers.

Each case runs `eprop run experiment=<preset>`: an ordinary config in conf/experiment/, with
no code path of its own. The reference losses are copied from the test files that the
nest-simulator 3.10 wheel installs (paths relative to site-packages):

- nest/share/nest/testsuite/pytests/synapses/test_eprop_bsshslm_2020_plasticity.py,
  test_eprop_regression: `loss_nest_reference` (rtol 1e-8) and `loss_tf_reference` (rtol 1e-7);
- nest/share/nest/testsuite/pytests/synapses/test_eprop_plasticity.py, test_eprop_regression,
  parametrized over (neuron_model, optimizer): `loss_nest_reference` (rtol 1e-8).

Those tests compute 0.5 * sum over the sequence of (readout - target)^2, averaged over
outputs and the batch, per iteration. eprop's /loss sums over outputs and averages over the
batch; with their single output the two are the same number.
"""

from __future__ import annotations

import numpy as np
import pytest

from eprop.results import open_results
from tests.conftest import run_eprop

pytestmark = pytest.mark.nest

# test_eprop_bsshslm_2020_plasticity.py::test_eprop_regression
BSSHSLM_NEST = [101.964356999041, 103.466731126205, 103.340607074771, 103.680244037686, 104.412775748752]
BSSHSLM_TF = [101.964363098144, 103.466735839843, 103.340606689453, 103.680244445800, 104.412780761718]

# test_eprop_plasticity.py::test_eprop_regression, keyed by (neuron_model, optimizer)
EVENT_BASED_NEST = {
    ("eprop_iaf", "adam"): [0.14000491891386, 0.28735818029752, 0.22263713699860, 0.23015072431384, 0.17565248170694],
    ("eprop_iaf_adapt", "gradient_descent"): [
        0.02242584487453,
        0.01916753791522,
        0.00571493935652,
        0.00037875376195,
        0.00037823157578,
    ],
    ("eprop_iaf_psc_delta", "gradient_descent"): [
        0.27039631749159,
        0.51390204375229,
        0.53473859833866,
        0.53608474802202,
        0.49323580244201,
    ],
    ("eprop_iaf_psc_delta_adapt", "gradient_descent"): [
        0.16416646182675,
        0.27952159282830,
        0.29937515524341,
        0.26160957500433,
        0.26384514215024,
    ],
}


def preset_loss(tmp_path, preset: str) -> np.ndarray:
    run_dir = tmp_path / preset
    run_eprop("run", f"experiment={preset}", "progress=false", f"hydra.run.dir={run_dir}")
    with open_results(run_dir) as res:
        assert res.status == "complete" and res.config["experiment"] == preset
        assert res.loss_per_output.shape == (1, 5)
        return res.loss


def test_bsshslm_2020_sine_waves_gives_nest_and_tensorflow_reference_losses(tmp_path):
    loss = preset_loss(tmp_path, "nest_bsshslm_2020_sine_waves")
    assert np.allclose(loss, BSSHSLM_TF, rtol=1e-7)
    assert np.allclose(loss, BSSHSLM_NEST, rtol=1e-8)


@pytest.mark.parametrize("neuron,optimizer", list(EVENT_BASED_NEST))
def test_event_based_models_give_nest_reference_losses(tmp_path, neuron, optimizer):
    loss = preset_loss(tmp_path, f"nest_{neuron}_{optimizer}")
    assert np.allclose(loss, EVENT_BASED_NEST[(neuron, optimizer)], rtol=1e-8)

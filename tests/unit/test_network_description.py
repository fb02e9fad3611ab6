"""Fast tier: the config translated into the simulator's plain NetworkDescription (eprop/training/translate.py).

The NEST tier shows the network NEST builds from it is the one it built from the config (the
bit-exact tests); here: plain values only, the config keys the simulator's errors name, the
shadowing errors it raises after NEST's checks, the family's models and the learning rate.
"""

from __future__ import annotations

import dataclasses

import pytest

from eprop.config.lookup import with_plain_choices
from eprop.simulator.description import NetworkDescription, PassThrough
from eprop.training.translate import describe_network

PLAIN = (str, int, float, bool, type(None))


def leaves(value, where="network"):
    """(where, value) of every leaf of a description, through dataclasses, dicts, lists and tuples."""
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from leaves(getattr(value, f.name), f"{where}.{f.name}")
    elif isinstance(value, dict):
        assert type(value) is dict, where
        for key, item in value.items():
            assert isinstance(key, str), where
            yield from leaves(item, f"{where}[{key}]")
    elif isinstance(value, (list, tuple)):
        assert type(value) in (list, tuple), where
        for i, item in enumerate(value):
            yield from leaves(item, f"{where}[{i}]")
    else:
        yield where, value


@pytest.mark.parametrize(
    "overrides",
    [
        (),
        ("model=eprop", "+kernel.params.tics_per_ms=1000", "+optimizer.params.epsilon=1e-7"),
        ("neuron=lif_alif", "task=evidence_accumulation", "+synapse.params.delay=2.0"),
    ],
)
def test_the_description_holds_plain_values_only(compose, overrides):
    network = describe_network(with_plain_choices(compose(*overrides)))
    assert isinstance(network, NetworkDescription)
    found = list(leaves(network))
    assert found
    assert [(where, type(value).__name__) for where, value in found if not isinstance(value, PLAIN)] == []


def test_each_section_names_its_config_key(compose):
    network = describe_network(compose("neuron=lif_alif", "task=evidence_accumulation"))
    assert [(p.key, p.passthrough.section, p.model, p.n) for p in network.recurrent] == [
        ("neuron.rec", "neuron.rec", "eprop_iaf_bsshslm_2020", 50),
        ("neuron.rec_extra[0]", "neuron.rec_extra[0]", "eprop_iaf_adapt_bsshslm_2020", 50),
    ]
    assert (network.readout.key, network.readout.passthrough.section) == ("neuron.readout", "neuron.readout")
    assert (network.synapses.key, network.synapses.passthrough.section) == ("synapse", "synapse")
    assert network.synapses.optimizer_params.section == "optimizer"
    assert (network.kernel.key, network.kernel.params.section) == ("kernel", "kernel")
    rec = network.recording
    assert (rec.rec_variables_key, rec.out_variables_key) == ("recording.rec_variables", "recording.out_variables")
    assert network.readout.loss == "cross_entropy"


def test_the_models_and_kernel_timing_follow_the_family(compose):
    seed = describe_network(compose("task.batch_size=4"))
    assert (seed.synapses.model, seed.synapses.feedback_model) == (
        "eprop_synapse_bsshslm_2020",
        "eprop_learning_signal_connection_bsshslm_2020",
    )
    assert seed.kernel.per_update_interval and seed.synapses.optimizer["batch_size"] == 4
    event_based = describe_network(compose("model=eprop", "task.batch_size=4"))
    assert (event_based.synapses.model, event_based.synapses.feedback_model) == (
        "eprop_synapse",
        "eprop_learning_signal_connection",
    )
    assert not event_based.kernel.per_update_interval and event_based.synapses.optimizer["batch_size"] == 1
    explicit = describe_network(compose("model=eprop", "optimizer.batch_size=3"))
    assert explicit.synapses.optimizer["batch_size"] == 3


def test_the_schema_fields_and_the_pass_through_stay_apart(compose):
    cfg = compose("+neuron.rec.params.V_min=-1.0", "neuron.rec.tau_m_std=0.5")
    (rec,) = describe_network(cfg).recurrent
    assert rec.passthrough == PassThrough("neuron.rec", {"V_min": -1.0}, None)
    assert (rec.tau_m_mean, rec.tau_m_std) == (cfg.neuron.rec.tau_m_mean, 0.5)
    assert not {"model", "n", "gamma", "tau_m_mean", "tau_m_std", "adapt_beta_scale", "params"} & set(rec.params)
    assert rec.params["V_th"] == cfg.neuron.rec.V_th and list(rec.params)[0] == "C_m"  # the config's order


@pytest.mark.parametrize(
    "override,where,message",
    [
        (
            "+neuron.rec.params.V_th=0.06",
            lambda n: n.recurrent[0].passthrough,
            "neuron.rec.params.V_th: shadows the schema field neuron.rec.V_th; set neuron.rec.V_th=... instead "
            "(values derived from it follow it)",
        ),
        (
            "+optimizer.params.eta=0.1",
            lambda n: n.synapses.optimizer_params,
            "optimizer.params.eta: shadows the schema field optimizer.eta; set optimizer.eta=... instead "
            "(values derived from it follow it)",
        ),
        (
            "+kernel.params.resolution=0.5",
            lambda n: n.kernel.params,
            "kernel.params.resolution: shadows the schema field kernel.resolution; set kernel.resolution=... instead "
            "(values derived from it follow it)",
        ),
    ],
)
def test_a_shadowing_entry_is_described_not_raised(compose, override, where, message):
    """The simulator raises it after NEST has accepted the names (tests/nest/test_models.py runs it)."""
    assert where(describe_network(compose(override))).shadow_error == message


def test_with_learning_rate_keeps_everything_else(compose):
    network = describe_network(compose())
    assert network.with_learning_rate(network.synapses.eta) is network
    validating = network.with_learning_rate(0.0)
    assert validating.synapses.optimizer == {**network.synapses.optimizer, "eta": 0.0}
    assert list(validating.synapses.optimizer) == list(network.synapses.optimizer)
    assert network.synapses.eta == compose().optimizer.eta  # the original is untouched
    assert dataclasses.replace(validating, synapses=network.synapses) == network

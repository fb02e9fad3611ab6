"""The NEST models of each e-prop family (FAMILIES), and the recurrent populations a config
creates (neuron.rec, then each neuron.rec_extra[i]) with their neuron counts.
"""

from __future__ import annotations

import dataclasses

from omegaconf import DictConfig, OmegaConf

from eprop.config.schema import RecurrentNeuronConfig
from eprop.errors import UserError

# The NEST models of each e-prop family: recurrent neuron models (the `neuron=` options of
# that family), readout, synapse and feedback (learning-signal) connection.
FAMILIES = {
    "bsshslm_2020": {
        "recurrent": ("eprop_iaf_adapt_bsshslm_2020", "eprop_iaf_bsshslm_2020"),
        "neuron_options": ("alif", "lif"),
        "readout": "eprop_readout_bsshslm_2020",
        "synapse": "eprop_synapse_bsshslm_2020",
        "learning_signal": "eprop_learning_signal_connection_bsshslm_2020",
    },
    "eprop": {
        "recurrent": ("eprop_iaf", "eprop_iaf_adapt", "eprop_iaf_psc_delta", "eprop_iaf_psc_delta_adapt"),
        "neuron_options": ("eprop_iaf", "eprop_iaf_adapt", "eprop_iaf_psc_delta", "eprop_iaf_psc_delta_adapt"),
        "readout": "eprop_readout",
        "synapse": "eprop_synapse",
        "learning_signal": "eprop_learning_signal_connection",
    },
}


def recurrent_populations(cfg: DictConfig) -> list[tuple[str, DictConfig]]:
    """(config key, resolved neuron config) of each recurrent population, in NEST's creation order.

    neuron.rec first, then each neuron.rec_extra[i]: neuron.rec's (resolved) values with the
    entry's model, n and overrides. The recurrent layer is their concatenation, node ids in
    this order.
    """

    def plain(merged: DictConfig) -> DictConfig:  # NEST takes str, not the schema's Enum
        return OmegaConf.create(OmegaConf.to_container(merged, enum_to_str=True))

    rec = OmegaConf.to_container(cfg.neuron.rec, resolve=True, enum_to_str=True)
    pops = [("neuron.rec", plain(OmegaConf.merge(OmegaConf.structured(RecurrentNeuronConfig), rec)))]
    for i, extra in enumerate(cfg.neuron.get("rec_extra") or []):
        key = f"neuron.rec_extra[{i}]"
        overrides = OmegaConf.to_container(extra.overrides, resolve=True)
        for name in ("model", "n"):
            if name in overrides:
                raise UserError(f"{key}.overrides.{name}: give it as {key}.{name}")
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(RecurrentNeuronConfig)})
        if unknown:
            raise UserError(
                f"{key}.overrides.{unknown[0]}: not a key of neuron.rec (overrides set neuron.rec's keys for this population)"
            )
        try:
            merged = OmegaConf.merge(
                OmegaConf.structured(RecurrentNeuronConfig), rec, {"model": extra.model, "n": extra.n, **overrides}
            )
        except Exception as err:  # a value of the wrong type; OmegaConf's message names the key
            raise UserError(f"{key}.overrides: {' '.join(str(err).split())[:200]}")
        pops.append((key, plain(merged)))
    return pops


def n_recurrent(cfg: DictConfig) -> int:
    """Neurons in the recurrent layer: neuron.rec.n plus every neuron.rec_extra[i].n."""
    return int(cfg.neuron.rec.n) + sum(int(extra.n) for extra in (cfg.neuron.get("rec_extra") or []))

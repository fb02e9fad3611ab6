"""The NEST parameters of the neurons and the e-prop synapses, checked against NEST's own names.

A name the NEST model lacks, or a pass-through value that is not a number where NEST's default
is one, is refused with a one-line error naming its config key (`<key>.params.<name>` for a
pass-through entry, `<key>.<name>` for a schema field), before anything is created or simulated.
A pass-through entry that shadows a schema field is refused after those checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eprop.errors import UserError
from eprop.simulator.description import PassThrough, Readout, RecurrentPopulation, Synapses
from eprop.simulator.kernel import model_defaults, nest, unknown_param_error


def checked_params(model: str, params: dict[str, Any], key: str, passthrough: PassThrough) -> dict[str, Any]:
    """Refuse parameter names the NEST model does not have, before anything is simulated.

    The names of `passthrough` (the `params` dict) are reported as `key.params.name`.
    """
    known = model_defaults(model)
    unknown = sorted(set(params) - set(known))
    if unknown:
        where = f"{key}.params" if unknown[0] in passthrough.values else key
        raise unknown_param_error(where, model, unknown, known)
    for name in sorted(passthrough.values):
        default, value = known[name], params[name]
        numeric = isinstance(default, (int, float, np.number)) and not isinstance(default, bool)
        if numeric and (isinstance(value, (str, bool)) or not isinstance(value, (int, float))):
            raise UserError(f"{key}.params.{name}={value}: must be a number (NEST's default for {model} is {default})")
    if passthrough.shadow_error:
        raise UserError(passthrough.shadow_error)
    return params


def recurrent_params(pop: RecurrentPopulation, flush_interval_ms: float) -> dict[str, Any]:
    """NEST parameters of one recurrent population: its fields, tau_m, its pass-through, the flush interval."""
    n = nest()
    params = dict(pop.params)
    if pop.tau_m_std > 0:
        params["tau_m"] = n.random.normal(mean=pop.tau_m_mean, std=pop.tau_m_std)
    else:
        params["tau_m"] = float(pop.tau_m_mean)  # one value for all, no NEST random draw
    params.update(pop.passthrough.values)
    if "flush_event_send_interval" in model_defaults(pop.model):
        params.setdefault("flush_event_send_interval", flush_interval_ms)
    return checked_params(pop.model, params, pop.key, pop.passthrough)


def readout_params(readout: Readout) -> dict[str, Any]:
    params = {**readout.params, **readout.passthrough.values}
    return checked_params(readout.model, params, readout.key, readout.passthrough)


def synapse_params(synapses: Synapses) -> dict[str, Any]:
    """SetDefaults dictionary of the e-prop synapse model: optimizer, gradient averaging, pass-through."""
    n = nest()
    model = synapses.model
    optimizer = dict(synapses.optimizer)
    extra = synapses.optimizer_params
    if extra.values:
        # The optimizer's parameter names depend on its type: ask NEST with the type set.
        probe = f"{model}_eprop_probe"
        if probe not in n.synapse_models:
            n.CopyModel(model, probe)
        n.SetDefaults(probe, {"optimizer": {"type": optimizer["type"]}})
        known = set(n.GetDefaults(probe)["optimizer"]) | {"type"}
        unknown = sorted(set(extra.values) - known)
        if unknown:
            owner = f"the {optimizer['type']} optimizer of {model}"
            raise unknown_param_error(f"{extra.section}.params", owner, unknown, known)
        if extra.shadow_error:
            raise UserError(extra.shadow_error)
        optimizer.update(extra.values)
    params: dict[str, Any] = {"optimizer": optimizer}
    if synapses.average_gradient is not None:
        params["average_gradient"] = synapses.average_gradient
    params.update(synapses.passthrough.values)
    known = model_defaults(model)
    unknown = sorted(set(params) - set(known))
    if unknown:
        key = f"{synapses.key}.params" if unknown[0] in synapses.passthrough.values else synapses.key
        raise unknown_param_error(key, model, unknown, known)
    if synapses.passthrough.shadow_error:
        raise UserError(synapses.passthrough.shadow_error)
    return params

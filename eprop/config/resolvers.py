"""The OmegaConf resolvers that compute derived config values, so the YAML never pastes them as numbers:

- `${eprop.adapt_beta:adapt_tau,tau_m_mean,scale,dt}`
  = scale * (1 - exp(-dt/adapt_tau)) / (1 - exp(-dt/tau_m_mean)), the seed's prefactor of
  the adaptive threshold (scale 1.7 in the seed).
- `${eprop.div:a,b}` = a / b, used for NEST 3.10's surrogate_gradient_height = gamma / V_th
  (the seed's `gamma`, which NEST 3.10 removed).
- `${eprop.mul:a,b}` = a * b, `${eprop.sub:a,b}` = a - b and `${eprop.pow:a,b}` = a ** b, for
  derived values such as the event-based family's (1 - kappa) scalings.
- `${eprop.task_loss:${task.target}}` = cross_entropy for a classification task, else
  mean_squared_error: the bsshslm_2020 readout's `loss`, so that the neuron options fit every task.
- `${eprop.kappa_weight_factor:scale|divide_by,neuron model,kappa,projection}` = 1 - kappa or 1:
  the weight scaling NEST's event-based scripts apply to a projection for that neuron model.
"""

from __future__ import annotations

import math

from omegaconf import OmegaConf

from eprop.tasks import TASKS


def _adapt_beta(adapt_tau: float, tau_m_mean: float, scale: float, dt: float) -> float:
    if adapt_tau is None:
        return None  # a model without adaptation
    if min(adapt_tau, tau_m_mean, dt) <= 0:
        return float("nan")  # validate() names the offending input
    return scale * (1.0 - math.exp(-dt / adapt_tau)) / (1.0 - math.exp(-dt / tau_m_mean))


def _div(a: float, b: float) -> float:
    if b == 0:  # validate() names the values it is computed from (a non-finite value fails its bound)
        return math.nan if a == 0 else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _mul(a: float, b: float) -> float:
    return a * b


def _sub(a: float, b: float) -> float:
    return a - b


def _pow(a: float, b: float) -> float:
    return a**b


# NEST's event-based scripts scale the drawn weights by (1 - kappa), the factor of the
# eligibility trace's low-pass filter: LIF models (eprop_iaf, eprop_iaf_adapt) multiply all four
# projections by it; the psc_delta models multiply rec_out by it and divide out_rec by it.
_KAPPA_SCALED = {
    "multiply": {"in_rec", "rec_rec", "rec_out", "out_rec"},
    "psc_delta_multiply": {"rec_out"},
    "psc_delta_divide": {"out_rec"},
}


def _kappa_weight_factor(how: str, model: str, kappa: float, projection: str) -> float:
    """(1 - kappa) or 1.0: NEST's event-based weight scaling of `projection` for `model`.

    `how` is "scale" (the factor the drawn weights are multiplied by) or "divide_by".
    """
    if kappa is None:
        return 1.0
    psc_delta = "psc_delta" in str(model)
    if how == "scale":
        chosen = _KAPPA_SCALED["psc_delta_multiply" if psc_delta else "multiply"]
    else:
        chosen = _KAPPA_SCALED["psc_delta_divide"] if psc_delta else set()
    return 1.0 - kappa if projection in chosen else 1.0


def _task_loss(target: str) -> str:
    """The readout loss a task needs: cross_entropy for a classification task, else mean_squared_error."""
    task = TASKS.get(str(target))
    return "cross_entropy" if task is not None and task.kind == "classification" else "mean_squared_error"


def register_resolvers() -> None:
    """Register eprop's OmegaConf resolvers (idempotent)."""
    resolvers = (
        ("eprop.task_loss", _task_loss),
        ("eprop.adapt_beta", _adapt_beta),
        ("eprop.div", _div),
        ("eprop.mul", _mul),
        ("eprop.sub", _sub),
        ("eprop.pow", _pow),
        ("eprop.kappa_weight_factor", _kappa_weight_factor),
    )
    for name, fn in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)

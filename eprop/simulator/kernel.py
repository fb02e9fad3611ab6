"""The NEST module and its kernel: lazy import, reset with the run's settings, versions, model defaults.

The one-line errors of a value NEST refuses (`refused`) and of an unknown NEST parameter name
(`unknown_param_error`) are made here; each names the config key the description carries.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from eprop.config.timing import Timing
from eprop.errors import UserError
from eprop.simulator.description import KernelSettings

_nest = None


def nest():
    """The nest module, imported on first use with its banner silenced."""
    global _nest
    if _nest is None:
        os.environ.setdefault("PYNEST_QUIET", "1")
        # PyNEST imports matplotlib at start-up for its spatial-layer plots, which eprop never
        # draws (0.15 s of every run): unless it is loaded already, NEST is told it is absent.
        absent = "matplotlib" not in sys.modules
        if absent:
            sys.modules["matplotlib"] = None
        try:
            import nest as nest_module
        finally:
            if absent:
                del sys.modules["matplotlib"]

        nest_module.verbosity = nest_module.VerbosityLevel.WARNING
        _nest = nest_module
    return _nest


def nest_info() -> dict[str, Any]:
    """NEST version and build info, for the results file."""
    n = nest()
    info = n.GetKernelStatus("build_info")
    return {"version": n.__version__, "build_info": {k: v for k, v in info.items() if not isinstance(v, dict)}}


def model_defaults(model: str) -> dict[str, Any]:
    n = nest()
    if model not in n.node_models and model not in n.synapse_models:
        raise UserError(f"{model}: not a NEST model of this NEST {n.__version__}")
    return n.GetDefaults(model)


def num_virtual_procs() -> int:
    return int(nest().GetKernelStatus("total_num_virtual_procs"))


def min_delay_steps(timing: Timing) -> int:
    """NEST's min_delay in time steps: how late a multimeter receives its samples."""
    return int(round(nest().GetKernelStatus("min_delay") / timing.dt))


def reset_kernel(kernel: KernelSettings, timing: Timing) -> None:
    """A fresh NEST kernel with the run's resolution, threads, seed and e-prop settings."""
    n = nest()
    n.ResetKernel()
    settings = dict(
        resolution=kernel.resolution,
        total_num_virtual_procs=kernel.total_num_virtual_procs,
        rng_seed=kernel.rng_seed,
        print_time=kernel.print_time,
    )
    if kernel.per_update_interval:
        settings.update(
            eprop_learning_window=timing.ms(timing.window),
            eprop_reset_neurons_on_update=kernel.eprop_reset_neurons_on_update,
            eprop_update_interval=timing.ms(timing.sequence),
        )
    extra = kernel.params
    if extra.values:
        status = n.GetKernelStatus()
        unknown = sorted(set(extra.values) - set(status))
        if unknown:
            raise unknown_param_error(f"{extra.section}.params", "the NEST kernel", unknown, status)
        if extra.shadow_error:
            raise UserError(extra.shadow_error)
        settings.update(extra.values)
    refused(kernel.key, lambda: n.set(**settings))


def refused(key: str, action):
    """Run `action()`; a NEST error (a bad value NEST checks itself) becomes a one-line UserError."""
    try:
        return action()
    except nest().NESTErrors.KernelException as err:
        message = " ".join(str(err).split())
        raise UserError(f"{key}: NEST refused the value: {message}")


def unknown_param_error(key: str, owner: str, unknown: list[str], known) -> UserError:
    """One line naming the config key of the first unknown NEST parameter, with close matches."""
    import difflib

    name = unknown[0]
    close = difflib.get_close_matches(name, [k for k in known if isinstance(k, str)], n=3, cutoff=0.8)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return UserError(f"{key}.{name}: {owner} has no parameter {name}{hint}")

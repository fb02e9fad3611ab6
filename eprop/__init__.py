"""eprop: e-prop learning in recurrent spiking networks simulated with NEST, from the command line
(`eprop run`, `eprop eval`, `eprop plot`) or from Python.

The Python API (implemented in `eprop.api`):

- `compose(overrides, experiment=...)`: the config `eprop run OVERRIDES` would run, validated.
- `parameters(cfg, keys)`: its parameters with value, unit and meaning (a DataFrame).
- `run(cfg_or_overrides, run_dir=None, progress=False)`: one training in this process; its `Results`.
- `open(path)`: the `Results` of a results file or run directory, or a `Sweep` of a folder of runs.
- `figure(results, name)`: one of the figures of `eprop plot`, as a matplotlib Figure.
- `Results`, `Sweep`: reading one run, a set of runs (`to_pandas()`).
- `EpropError`: the base of eprop's errors, each a one-line message: `UserError` (a mistake in
  a config or a path, the line `eprop` prints after `eprop: error: `) and `ResultsError` (a results
  file that cannot be read); `Diverged` and `Interrupted`: how a training can end early.

`import eprop` is cheap: these names are loaded on first use, and NEST only when a run starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from eprop._version import __version__
from eprop.errors import Diverged, EpropError, Interrupted, ResultsError, UserError

if TYPE_CHECKING:
    from eprop.analysis.sweep import Sweep
    from eprop.api import compose, figure, open, parameters, run
    from eprop.results import Results

__all__ = [
    "__version__",
    "compose",
    "parameters",
    "run",
    "open",
    "figure",
    "Results",
    "Sweep",
    "EpropError",
    "UserError",
    "ResultsError",
    "Diverged",
    "Interrupted",
]

_LAZY = {
    "compose": "eprop.api",
    "parameters": "eprop.api",
    "run": "eprop.api",
    "open": "eprop.api",
    "figure": "eprop.api",
    "Results": "eprop.results",
    "Sweep": "eprop.analysis.sweep",
}


def __getattr__(name: str) -> Any:
    """The API's names, imported on first access (PEP 562), so that `import eprop` stays cheap."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'eprop' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""Fast tier: the package's shape: no import cycle, NEST and h5py each behind one package, a
simulator that receives plain values (no config schema, OmegaConf or Hydra), and the simulator
interface (eprop/simulator/protocol.py) that NEST's simulator and the fake implement.

The import graph counts every import, the lazy ones inside functions included: a cycle that
only closes at run time is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "eprop"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def absolute_imports(module: str, path: Path) -> set[str]:
    """Every module name `module` imports anywhere in its source (relative imports made absolute)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = (
                ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
                if node.level
                else (node.module or "")
            )
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package modules that `module` imports anywhere in its source."""
    return {name for name in absolute_imports(module, path) if name in known and name != module}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycle_in_the_package():
    known = modules()
    graph = {name: imported(name, path, known) for name, path in known.items()}
    assert "eprop.training.loop" in graph and "eprop.tasks" in graph
    assert import_cycles(graph) == []


def test_nest_and_h5py_each_behind_one_package():
    users = {"nest": set(), "h5py": set()}
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                top = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                top = {(node.module or "").split(".")[0]}
            else:
                continue
            for library in users:
                if library in top:
                    users[library].add(name)
    homes = {"nest": "eprop.simulator", "h5py": "eprop.results"}  # each library only inside its package
    outside = {
        library: {name for name in names if name != homes[library] and not name.startswith(homes[library] + ".")}
        for library, names in users.items()
    }
    assert outside == {"nest": set(), "h5py": set()} and all(users.values())
    assert users["nest"] == {"eprop.simulator.kernel"}  # imported lazily in one place: simulator.nest()


# What the simulator must not know: the config's schema and validation, the layers above it,
# and the config libraries. It receives plain values (eprop/simulator/description.py).
SIMULATOR_FORBIDDEN = (
    "eprop.config.validation",
    "eprop.config.schema",
    "eprop.training.translate",
    "eprop.training",
    "eprop.results",
    "eprop.analysis",
    "eprop.cli",
    "eprop.sweep",
    "omegaconf",
    "hydra",
)
# The small value modules it may use besides its own.
SIMULATOR_ALLOWED = ("eprop.simulator", "eprop.config.timing", "eprop.config.projections", "eprop.errors")


def test_the_simulator_imports_no_config_schema_nor_the_layers_above():
    simulator = {name: path for name, path in modules().items() if name.split(".")[:2] == ["eprop", "simulator"]}
    assert {"eprop.simulator", "eprop.simulator.protocol", "eprop.simulator.description"} <= set(simulator)
    for name, path in simulator.items():
        imports = absolute_imports(name, path)
        bad = sorted(i for i in imports for f in SIMULATOR_FORBIDDEN if i == f or i.startswith(f + "."))
        assert bad == [], f"{name} imports {bad}"
        ours = {i for i in imports if i == "eprop" or i.startswith("eprop.")}
        outside = sorted(i for i in ours if not any(i == a or i.startswith(a + ".") for a in SIMULATOR_ALLOWED))
        assert outside == [], f"{name} imports {outside}"


def test_simulator_modules_stay_small():
    for name, path in modules().items():
        if name.split(".")[:2] == ["eprop", "simulator"]:
            assert len(path.read_text().splitlines()) <= 400, name


def test_the_nest_simulator_and_the_fake_implement_the_protocol():
    """Every method of protocol.Simulator, with the same parameter names, in eprop.simulator and
    tests/fake_simulator.FakeSimulator; the protocol module itself imports no NEST."""
    import inspect
    import subprocess
    import sys

    from eprop import simulator
    from eprop.simulator.protocol import Simulator

    from .fake_simulator import FakeSimulator

    methods = {
        name: list(inspect.signature(member).parameters)[1:]
        for name, member in vars(Simulator).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }
    assert "build_network" in methods and "read_weights" in methods
    for name, parameters in methods.items():
        assert list(inspect.signature(getattr(simulator, name)).parameters) == parameters, name
        assert list(inspect.signature(getattr(FakeSimulator(), name)).parameters) == parameters, name
    probe = "import sys, eprop.simulator.protocol, eprop.simulator; print('nest' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "False\n"


# ---------------------------------------------------------------------------- layers
# Data flows one way: config -> tasks and data -> simulator -> training -> results -> analysis and
# sweep; the command line sits on top and nothing imports it. Each package, with the packages it
# must not import (a package stands for every module under it).
UPSTREAM = (
    "eprop.training",
    "eprop.simulator",
    "eprop.results",
    "eprop.analysis",
    "eprop.sweep",
    "eprop.cli",
    "eprop.api",
)
LAYERS = {
    "eprop.config": UPSTREAM,
    "eprop.tasks": UPSTREAM,
    "eprop.data": ("eprop.config", "eprop.tasks", *UPSTREAM),
    "eprop.results": (
        "eprop.tasks",
        "eprop.training",
        "eprop.simulator",
        "eprop.analysis",
        "eprop.sweep",
        "eprop.cli",
        "eprop.api",
    ),
    "eprop.analysis": ("eprop.training", "eprop.simulator", "eprop.sweep", "eprop.cli", "eprop.api"),
    "eprop.sweep": ("eprop.training", "eprop.simulator", "eprop.cli", "eprop.api"),
    "eprop.training": ("eprop.analysis", "eprop.sweep", "eprop.cli", "eprop.api"),
}


def inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, path in modules().items()
        if inside(module, package)
        for name in absolute_imports(module, path)
        if any(inside(name, f) for f in forbidden)
    )


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_each_layer_imports_nothing_upstream(package):
    assert offenders(package, LAYERS[package]) == []


def test_nothing_imports_the_command_line():
    found = [
        line
        for package in (
            "eprop.config",
            "eprop.tasks",
            "eprop.data",
            "eprop.simulator",
            "eprop.training",
            "eprop.results",
            "eprop.analysis",
            "eprop.sweep",
            "eprop.api",
            "eprop.errors",
        )
        for line in offenders(package, ("eprop.cli",))
    ]
    assert found == []


def test_analysis_reads_results_and_never_runs_anything():
    modules_ = {name: path for name, path in modules().items() if inside(name, "eprop.analysis")}
    reads = set().union(*(absolute_imports(name, path) for name, path in modules_.items()))
    assert any(inside(name, "eprop.results") for name in reads)
    assert offenders("eprop.analysis", ("eprop.simulator", "eprop.training", "nest")) == []


def test_every_module_stays_about_400_lines_or_less():
    assert sorted(name for name, path in modules().items() if len(path.read_text().splitlines()) > 420) == []

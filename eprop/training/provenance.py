"""What a results file records about where its run came from: the root attributes of a run
(config, seeds, versions, git commit, NEST's version and build) and the process's peak memory.
"""

from __future__ import annotations

import datetime as dt
import resource
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from eprop._version import __version__

PACKAGES = ("nest-simulator", "numpy", "h5py", "hydra-core", "omegaconf", "matplotlib", "rich", "pooch")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def package_versions() -> dict[str, str]:
    versions = {"eprop": __version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str:
    """The commit of the eprop source tree, or "" when it is not a git checkout."""
    source = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def now() -> str:
    """The local time to the second, as the `started` and `finished` attributes hold it."""
    return dt.datetime.now().isoformat(timespec="seconds")


def run_attributes(
    cfg, overrides: list[str] | None, task, sim, first_iteration: int, parent_run: Path | None
) -> dict[str, Any]:
    """The root attributes a results file starts with; `task` adds its kind and display hints,
    `sim` (the simulator) its version, build and virtual processes."""
    info = sim.nest_info()
    return {
        "config_yaml": OmegaConf.to_yaml(cfg, resolve=True),
        "config_source_yaml": OmegaConf.to_yaml(cfg),  # with its ${...} derivations, for resume
        "overrides": list(overrides or []),
        "task": cfg.task.name,
        **task.results_attrs(),
        "n_iter": cfg.task.n_iter,
        "n_out": task.n_outputs,
        "steps_per_sequence": task.sequence_steps,
        "batch_size": task.sequences_per_iteration,  # sequences per iteration (task.batch_size; nmnist: task.group_size)
        "resolution_ms": float(cfg.kernel.resolution),
        "seed": cfg.seed,
        "numpy_seed": cfg.seed,
        "nest_rng_seed": cfg.seed,
        "total_num_virtual_procs": sim.num_virtual_procs(),
        "local_num_threads": cfg.kernel.threads,
        "nest_version": info["version"],
        "nest_build_info": info["build_info"],
        "package_versions": package_versions(),
        "git_commit": git_commit(),
        "eprop_version": __version__,
        "started": now(),
        "first_iteration": first_iteration,
        "parent_run": str(parent_run) if parent_run else "",
    }

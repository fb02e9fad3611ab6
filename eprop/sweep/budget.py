"""The thread budget of a multirun: parallel jobs share the cores.

`SweepCallback.on_multirun_start` (callback.py) calls `apply_thread_budget` before Hydra builds
the sweeper and launcher. NEST runs `kernel.threads` OpenMP threads per job, so parallel jobs
must share the cores. With `hydra/launcher=joblib` and `hydra.launcher.n_jobs` left at its
default (-1, "all CPUs") it sets n_jobs = cores // kernel.threads (at least 1). An explicit n_jobs
with n_jobs × kernel.threads > cores is kept, with a warning. With the submitit launchers it
sets `cpus_per_task` to kernel.threads if it is unset, and warns if it is smaller. A swept
`kernel.threads=1,2` counts with its largest value.
"""

from __future__ import annotations

import logging
import os

from omegaconf import DictConfig, open_dict

log = logging.getLogger("eprop.sweep")  # the package's logger, as before the split into modules

JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
SUBMITIT_LAUNCHERS = {
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher": "submitit_local",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher": "submitit_slurm",
}


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a SLURM or taskset limit)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def swept_threads(cfg: DictConfig) -> int:
    """The largest kernel.threads of a multirun: the base value or any value of a sweep override."""
    from eprop.config.overrides import key_of, values

    threads = [int(cfg.kernel.threads)]
    for override in _task_overrides(cfg):
        if key_of(override) == "kernel.threads":  # sweep syntax Hydra's parser does not expand: the base value counts
            threads.extend(
                int(value) for value in values(override) if isinstance(value, int) and not isinstance(value, bool)
            )
    return max(threads)


def _task_overrides(cfg: DictConfig) -> list[str]:
    try:
        return [str(o) for o in cfg.hydra.overrides.task]
    except Exception:  # no hydra node (a config composed without return_hydra_config)
        return []


def joblib_jobs(n_jobs: int | None, cores: int) -> int:
    """joblib's n_jobs as a number of processes (-1: all cores, -2: all but one, ...)."""
    if n_jobs is None or n_jobs == 0:
        return 1
    return n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)


def apply_thread_budget(cfg: DictConfig, cores: int | None = None) -> list[str]:
    """Fit the launcher's parallelism to kernel.threads (see the module docstring).

    Changes `cfg.hydra.launcher` in place; returns the warnings it logged.
    """
    cores = cores or available_cores()
    threads = swept_threads(cfg)
    launcher = cfg.hydra.launcher
    target = launcher.get("_target_", "")
    warnings: list[str] = []
    if target == JOBLIB_LAUNCHER:
        if launcher.n_jobs is None or launcher.n_jobs == -1:
            n_jobs = max(1, cores // threads)
            with open_dict(launcher):
                launcher.n_jobs = n_jobs
            log.info(
                "thread budget: %d parallel job(s) x kernel.threads=%d on %d cores (hydra.launcher.n_jobs=%d)",
                n_jobs,
                threads,
                cores,
                n_jobs,
            )
        else:
            n_jobs = joblib_jobs(launcher.n_jobs, cores)
            if n_jobs * threads > cores:
                warnings.append(
                    f"oversubscribed: hydra.launcher.n_jobs={launcher.n_jobs} x kernel.threads={threads} = "
                    f"{n_jobs * threads} threads on {cores} cores; the jobs will slow each other down "
                    f"(use hydra.launcher.n_jobs={max(1, cores // threads)}, or leave it at -1 for the thread budget)"
                )
    elif target in SUBMITIT_LAUNCHERS:
        name = SUBMITIT_LAUNCHERS[target]
        if launcher.get("cpus_per_task") is None:
            with open_dict(launcher):
                launcher.cpus_per_task = threads
            log.info("%s: cpus_per_task=%d from kernel.threads", name, threads)
        elif launcher.cpus_per_task < threads:
            warnings.append(
                f"oversubscribed: hydra.launcher.cpus_per_task={launcher.cpus_per_task} < kernel.threads={threads}; "
                f"each job runs {threads} NEST threads on {launcher.cpus_per_task} CPU(s)"
            )
        if name == "submitit_local":
            log.info(
                "submitit_local starts every job of the sweep at once, each with %d NEST thread(s), on %d cores",
                threads,
                cores,
            )
    elif threads > cores:
        warnings.append(f"oversubscribed: kernel.threads={threads} on {cores} cores; NEST's threads will share cores")
    for message in warnings:
        log.warning("warning: %s", message)
    return warnings

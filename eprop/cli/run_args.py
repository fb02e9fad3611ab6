"""What `eprop run` checks and rewrites in its argv before Hydra sees it.

Hydra owns `eprop run`'s argv; these are the few cases where Hydra would print a traceback or
an unhelpful message, or where eprop answers itself (`--cfg job` of a resumed run).
"""

from __future__ import annotations

from eprop.config.overrides import (  # noqa: F401  (eprop run's checks, here for the command line)
    OPTUNA,
    SWEEP_EXTRA,
    argv_error,
    expand_home,
    missing_sweep_extra,
)


def resumed_cfg_job(argv: list[str]) -> list[str] | None:
    """The overrides of `eprop run resume=DIR ... --cfg job [--resolve]`, else None (Hydra prints the rest).

    Hydra would print the freshly composed config; a resumed run runs the parent's config
    with this command line's values on top, so eprop prints that one.
    """
    flags = {"--resolve"}
    for i, arg in enumerate(argv):
        if arg == "--cfg=job" or (arg in ("--cfg", "-c") and argv[i + 1 : i + 2] == ["job"]):
            flags |= {arg} | ({"job"} if arg in ("--cfg", "-c") else set())
            break
    else:
        return None
    overrides = [arg for arg in argv if arg not in flags]
    if any(arg.startswith("-") for arg in overrides):
        return None  # --package and friends: Hydra's business
    if not any(o.startswith("resume=") and o not in ("resume=null", "resume=") for o in overrides):
        return None
    return overrides


# Hydra's options that show something (help, a config, info, completion, its version) and run no job
SHOWING = ("--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc", "--version")


def trains(argv: list[str]) -> bool:
    """True when `eprop run ARGV` runs jobs (and so needs NEST); False when Hydra only shows something."""
    return not any(arg.split("=", 1)[0] in SHOWING for arg in argv)

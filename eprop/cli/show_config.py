"""Configs shown without running: `eprop run --params`, `--cfg job` of a resumed run, `--help`'s groups.

Composed with Hydra's compose API, which is fine here because nothing runs (a real run goes
through `@hydra.main`). A config error is raised; the boundary (boundary.py) prints it as one line.
"""

from __future__ import annotations

from pathlib import Path

from eprop.config.store import conf_dir


def help_groups() -> str:
    """`group: option, option` for each config group in conf/ (for `eprop run --help`; schemas left out)."""
    lines = []
    for group in sorted(p for p in Path(conf_dir()).iterdir() if p.is_dir() and p.name != "hydra"):
        options = sorted(f.stem for f in group.glob("*.yaml") if not f.stem.startswith("_"))
        lines.append(f"{group.name}: {', '.join(options)}")
    return "\n".join(lines)


def compose_config(overrides: list[str]):
    """The config `eprop run OVERRIDES` would run, composed with Hydra's compose API (nothing runs)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from eprop.config.store import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
            return compose("config", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def resumed_config(overrides: list[str]):
    """The config with `resume=DIR` applied: the parent's, plus this command line's values."""
    from eprop.config.overrides import key_of
    from eprop.training.job import expand_paths
    from eprop.training.resume import resume_config

    cfg = compose_config(overrides)
    expand_paths(cfg)
    task_overrides = [o for o in overrides if not key_of(o).startswith("hydra")]
    return resume_config(cfg, task_overrides)[0] if cfg.resume else cfg


def print_params(overrides: list[str]) -> int:
    """`eprop run --params [OVERRIDES]`: `key = value  # unit, meaning` for every parameter."""
    from eprop.config.lookup import with_plain_choices
    from eprop.config.params_doc import render
    from eprop.config.validation import validate

    cfg = resumed_config(overrides)
    validate(with_plain_choices(cfg))  # the values a run would refuse are refused here too, before printing
    print(render(cfg), end="")
    return 0


def print_resumed_config(overrides: list[str], resolve: bool) -> int:
    """`eprop run resume=DIR --cfg job [--resolve]`: the config the resumed run will run."""
    from omegaconf import OmegaConf

    print(OmegaConf.to_yaml(resumed_config(overrides), resolve=resolve), end="")
    return 0

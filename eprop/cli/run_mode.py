"""Hydra's run mode for `eprop run` without composing the config a second time.

`@hydra.main` composes the whole config once only to read `hydra.mode` (Hydra.get_mode), then
again to run: about 0.2 s of every run's start. When `hydra.mode` is null, Hydra runs a single
run without `-m` and a multirun with it. eprop's configs never set hydra.mode (tests/unit/test_run_mode.py
composes every preset to check), so its value can come only from the command line: an override of
`hydra.mode`, or one that makes Hydra read other config files (`hydra.searchpath`,
`--config-dir`/`-cd`, `--config-path`/`-cp`, `--config-name`/`-cn`). Without those,
hydra_internals.one_composition tells Hydra the mode is null without composing; with any of
them Hydra's own composition decides, as before.
"""

from __future__ import annotations

from eprop.config.overrides import key_of

# Options of Hydra's command line that name another config directory, search path or primary config.
OTHER_CONFIGS = ("--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn")
MODE_KEYS = ("hydra.mode", "hydra.searchpath")


def mode_is_null(argv: list[str]) -> bool:
    """True when the composed config's hydra.mode is null for this `eprop run` command line."""
    for arg in argv:
        if arg.split("=", 1)[0] in OTHER_CONFIGS:
            return False
        if arg.startswith("-"):
            continue
        key = key_of(arg)
        if any(key == k or key.startswith(k + ".") for k in MODE_KEYS):
            return False
    return True

"""Registration of the schemas in Hydra's ConfigStore (and of the resolvers in OmegaConf), and
conf_dir(), where the YAML options live.
"""

from __future__ import annotations

from pathlib import Path

from eprop.config.lookup import task_schemas
from eprop.config.resolvers import register_resolvers
from eprop.config.schema import GROUP_SCHEMAS, Config


def register_configs() -> None:
    """Register the schemas in Hydra's ConfigStore and the resolvers in OmegaConf."""
    from hydra.core.config_store import ConfigStore

    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="_config_schema", node=Config)
    for group, schema in GROUP_SCHEMAS.items():
        if group != "task":
            cs.store(group=group, name="_schema", node=schema)
    for target, schema in task_schemas().items():
        cs.store(group="task", name=f"_schema_{target}", node=schema)


def conf_dir() -> str:
    """The config directory: packaged in the wheel, or conf/ at the top of a source checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return str(candidate)
    raise RuntimeError(f"eprop's conf/ directory was not found in or next to {package}")

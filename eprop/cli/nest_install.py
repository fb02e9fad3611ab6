"""Which NEST is installed, and from where, found without importing it.

Importing NEST starts its kernel (about half a second and a banner), so `eprop --version` and
the check before `eprop run` only look: the nest-simulator wheel's package metadata, else the
`nest` package's location and the version its build left beside it (`include/nest/config.h`,
or the `nest-config` script of the install prefix).
"""

from __future__ import annotations

import importlib.util
import re
from importlib import metadata
from pathlib import Path

from eprop.errors import UserError, nest_missing_message

NEST_MISSING = nest_missing_message()


def nest_package() -> Path | None:
    """The folder of the importable `nest` package, or None when there is none (NEST is not imported)."""
    try:
        spec = importlib.util.find_spec("nest")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None


def require_nest() -> None:
    """Raise the one-line UserError NEST_MISSING when `import nest` cannot find NEST."""
    if nest_package() is None:
        raise UserError(NEST_MISSING)


def nest_version_text() -> str:
    """NEST's version for `eprop --version`: `3.10.0` for the nest-simulator wheel (pip), else the version
    and where it comes from, e.g. `3.10.0 (conda or source build at /opt/nest/...)`, or `not installed`."""
    package = nest_package()
    try:
        dist = metadata.distribution("nest-simulator")
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None and (dist.read_text("INSTALLER") or "").strip() != "conda":
        return dist.version if package is not None else f"{dist.version} (its nest package cannot be found)"
    if package is None:
        return "not installed"
    version = dist.version if dist is not None else build_version(package)
    origin = "conda package" if dist is not None or _in_conda_env(package) else "conda or source build"
    return f"{version or 'of unknown version'} ({origin} at {package})"


def build_version(package: Path) -> str | None:
    """The version a NEST build wrote beside its Python package: its config.h, else its nest-config script."""
    for base in (package, *list(package.parents)[:5]):
        header = base / "include" / "nest" / "config.h"
        if header.is_file() and (m := re.search(r'#define NEST_VERSION "([^"]+)"', _read(header))):
            return m.group(1)
        script = base / "bin" / "nest-config"
        if script.is_file() and (m := re.search(r'--version\)\s*echo "([^"]+)"', _read(script))):
            return m.group(1)
    return None


def _in_conda_env(package: Path) -> bool:
    return any(any((base / "conda-meta").glob("nest-simulator-*.json")) for base in list(package.parents)[:5])


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""

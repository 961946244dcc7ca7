"""The compiled build of the per-request path, and the way back to the Python sources.

The modules every request runs through (:data:`HOT_MODULES`) are compiled with mypyc when a
wheel is built, or in place by ``make compile``: the same typed sources, turned into C
extension modules, add about half the instructions per request that the interpreted
sources add to the app (a 1 KB response through uvicorn: 179k for the app alone, 214k with
the sources, 197k compiled). The sources ship
beside the extensions, and Python runs them instead when

* ``PERF_MIDDLEWARE_NO_EXTENSIONS=1`` is set (for debuggers, coverage, line tracing), or
* an in-place build is older than its sources: ``make compile`` records the digest of every
  source it compiled (:data:`BUILD_RECORD`), and a module edited since then would otherwise
  be shadowed by its stale extension. All of them then run from source, with a warning,
  because compiled modules call each other directly: mixing old and new code is not an option.

Imported by ``perf_middleware/__init__.py`` before any hot module, and only stdlib inside,
because the wheel build hook reads :data:`HOT_MODULES` from here too.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Final

#: Compiled together (one mypyc group: native calls between them), in dependency order.
HOT_MODULES: Final = (
    "metrics",
    "pipeline",
    "response_headers",
    "observe",
    "responder",
    "middleware",
)
#: Set to ``1`` to run the Python sources even when compiled extensions are installed.
SWITCH: Final = "PERF_MIDDLEWARE_NO_EXTENSIONS"
#: Written next to the sources by an in-place build: module -> sha256 of the source compiled.
BUILD_RECORD: Final = "compiled-sources.json"

PACKAGE: Final = "perf_middleware"
PACKAGE_DIR: Final = Path(__file__).resolve().parent


def source_digests(package_dir: Path = PACKAGE_DIR) -> dict[str, str]:
    """sha256 of each hot module's source, as recorded by an in-place build."""
    return {
        name: hashlib.sha256((package_dir / f"{name}.py").read_bytes()).hexdigest()
        for name in HOT_MODULES
    }


def stale_modules(package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Hot modules whose source changed since the in-place build (none without a record:
    a wheel's extensions and sources are built from the same files)."""
    record_path = package_dir / BUILD_RECORD
    if not record_path.is_file():
        return []
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return list(HOT_MODULES)
    current = source_digests(package_dir)
    return [name for name in HOT_MODULES if record.get(name) != current[name]]


def switched_off() -> bool:
    return os.environ.get(SWITCH, "").strip().lower() in {"1", "true", "yes", "on"}


class SourceFinder(importlib.abc.MetaPathFinder):
    """Resolves the hot modules to their ``.py`` files, ahead of the extension modules the
    standard path finder would pick first."""

    def __init__(self, package_dir: Path = PACKAGE_DIR) -> None:
        self.package_dir = package_dir
        self.names = {f"{PACKAGE}.{name}": name for name in HOT_MODULES}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        name = self.names.get(fullname)
        if name is None:
            return None
        return importlib.util.spec_from_file_location(fullname, self.package_dir / f"{name}.py")


def prefer_sources() -> None:
    """Run the hot modules from source from now on (before any of them is imported)."""
    if not any(isinstance(finder, SourceFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, SourceFinder())


def choose_build() -> None:
    """Called once, when the package is imported: honour the switch and never run a stale
    extension."""
    if switched_off():
        prefer_sources()
        return
    stale = stale_modules()
    if stale and extensions_present():
        warnings.warn(
            f"perf_middleware: the compiled {', '.join(stale)} "
            f"{'is' if len(stale) == 1 else 'are'} older than the source; running every "
            "per-request module from source. HINT: run `make compile` to rebuild.",
            RuntimeWarning,
            stacklevel=2,
        )
        prefer_sources()


def extensions_present(package_dir: Path = PACKAGE_DIR) -> bool:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return any(
        (package_dir / f"{name}{suffix}").is_file() for name in HOT_MODULES for suffix in suffixes
    )


def loaded_build() -> str:
    """Which build of the hot modules this process runs (importing them): for the headers
    of test and benchmark reports."""
    for name in HOT_MODULES:
        importlib.import_module(f"{PACKAGE}.{name}")
    if compiled_modules() == list(HOT_MODULES):
        return "compiled (mypyc)"
    return f"Python sources ({SWITCH}=1)" if switched_off() else "Python sources"


def compiled_modules() -> list[str]:
    """The hot modules loaded so far from a compiled extension (for reports and tests)."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    loaded = []
    for name in HOT_MODULES:
        module = sys.modules.get(f"{PACKAGE}.{name}")
        if module is not None and str(getattr(module, "__file__", "")).endswith(suffixes):
            loaded.append(name)
    return loaded

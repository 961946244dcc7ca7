"""The package's layering, checked on its source: no import hidden in a function to dodge a
cycle, processors that know nothing of orchestration, contracts that need only the stdlib.
(``[tool.importlinter]`` in pyproject.toml states the same layers for ``lint-imports``.)"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import asset_pipeline

PACKAGE = Path(asset_pipeline.__file__).parent


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return found


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def test_no_import_of_the_package_is_deferred_or_type_checking_only() -> None:
    hidden = []
    for name, tree in _modules().items():
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            own = [m for m in _imported(node) if m.split(".")[0] == "asset_pipeline"]
            if own and id(node) not in top:
                hidden.append(f"{name}:{node.lineno} {own[0]}")
    assert hidden == []


def test_processors_import_no_build_orchestration() -> None:
    forbidden = ("asset_pipeline.build", "asset_pipeline.upload", "asset_pipeline.sw")
    found = [
        f"{name} imports {module}"
        for name, tree in _modules().items()
        if name.startswith("asset_pipeline.processors")
        for node in ast.walk(tree)
        for module in _imported(node)
        if module == "asset_pipeline.cli"
        or module.startswith(tuple(f + "." for f in forbidden))
        or module in forbidden
    ]
    assert found == []


def test_the_contracts_with_the_runtime_import_only_the_stdlib() -> None:
    """The manifest takes its error from ``asset_pipeline.errors`` (the one exception root),
    which is itself standard library only."""
    modules = _modules()
    found = [
        f"{name} imports {module}"
        for name in (
            "asset_pipeline.manifest",
            "asset_pipeline.media_types",
            "asset_pipeline.errors",
        )
        for node in ast.walk(modules[name])
        for module in _imported(node)[:1]
        if module.split(".")[0] not in sys.stdlib_module_names | {"__future__"}
        and module != "asset_pipeline.errors"
    ]
    assert found == []

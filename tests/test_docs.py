"""The configuration reference is generated from the code and must not be stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "config_reference", ROOT / "scripts/config_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_reference_is_current() -> None:
    generated = _generator().render()
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == generated, "HINT: run python scripts/config_reference.py"


def test_reference_covers_every_middleware_option_and_config_class() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for option in ("cache", "static", "compression", "policy", "metrics", "admin"):
        assert f"| `{option}` |" in text
    for heading in ("## Response cache", "## Static files", "## Build", "## Upload"):
        assert heading in text


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1]
    assert "make demo" in first_block
    assert "make test" in first_block

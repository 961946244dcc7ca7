"""The configuration reference is generated from the code and must not be stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_reference_is_current() -> None:
    # as a contributor runs it: a fresh interpreter, the script's own exit status
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "config_reference.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


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

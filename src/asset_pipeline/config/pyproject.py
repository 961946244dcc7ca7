"""The one reader of ``[tool.asset-pipeline]``: build, upload and service worker each take
their part of the table it returns, so a file is found, decoded and reported on the same
way for every sub-command."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from asset_pipeline.errors import ConfigError


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` from ``start`` upward, or None."""
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_table(path: Path, *, explicit: bool) -> dict[str, Any] | None:
    """``[tool.asset-pipeline]`` of ``path``. A file given explicitly (``--config``) without
    that table is a dedicated config file: its top-level keys are the table. A
    ``pyproject.toml`` found by walking up without the table gives None (defaults).
    Raises ConfigError naming the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found. HINT: check the --config path."
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}). HINT: fix the syntax.") from None
    tool = data.get("tool")
    table = tool.get("asset-pipeline") if isinstance(tool, dict) else None
    if table is None:
        return {k: v for k, v in data.items() if k != "tool"} if explicit else None
    if not isinstance(table, dict):
        raise ConfigError(
            f"{path}: [tool.asset-pipeline] must be a table. HINT: [tool.asset-pipeline]"
        )
    return table

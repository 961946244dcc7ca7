"""Tables owned by other commands may sit beside the build's in one pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from asset_pipeline.config import ConfigError, load_config


def test_upload_and_service_worker_tables_do_not_break_the_build_config(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[tool.asset-pipeline]\n"
        'url_prefix = "/assets/"\n'
        "[tool.asset-pipeline.upload]\n"
        'bucket = "site"\n'
        "[tool.asset-pipeline.service-worker]\n"
        "enabled = true\n"
    )
    config = load_config(pyproject)
    assert config.url_prefix == "/assets/"


def test_a_misspelt_table_is_still_rejected(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.asset-pipeline.uplaod]\nbucket = 'site'\n")
    with pytest.raises(ConfigError, match="uplaod"):
        load_config(pyproject)

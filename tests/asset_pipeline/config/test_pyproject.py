"""The one ``[tool.asset-pipeline]`` reader, seen through every sub-command that reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from asset_pipeline.cli import main
from asset_pipeline.upload.config import read_settings


@pytest.mark.parametrize(
    "argv",
    [
        ["build", "--config", "{config}"],
        ["upload", "{dist}", "--bucket", "b", "--config", "{config}"],
        ["sw", "{dist}", "--config", "{config}"],
    ],
    ids=["build", "upload", "sw"],
)
def test_every_command_reports_a_broken_config_file_the_same_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    config = tmp_path / "assets.toml"
    config.write_text("[tool.asset-pipeline\n")
    dist = tmp_path / "dist"
    dist.mkdir()
    code = main([a.format(config=config, dist=dist) for a in argv])
    err = capsys.readouterr().err
    assert code != 0
    assert f"{config}: not valid TOML" in err
    assert "HINT: fix the syntax." in err


def test_a_dedicated_config_file_holds_the_upload_table_like_the_build_table(
    tmp_path: Path,
) -> None:
    config = tmp_path / "assets.toml"
    config.write_text('src = "static"\n\n[upload]\nbucket = "site-assets"\n')
    assert read_settings(config) == {"bucket": "site-assets"}


def test_a_pyproject_without_the_table_gives_no_upload_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "site"\n')
    monkeypatch.chdir(tmp_path)
    assert read_settings(None) == {}

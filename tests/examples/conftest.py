"""Fixtures of the example's tests: the example's static tree built by the real pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from asset_pipeline.cli import main as asset_pipeline

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "starlette_app"


@pytest.fixture(scope="module")
def example_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's static tree built by the real pipeline with the example's config."""
    out = tmp_path_factory.mktemp("example") / "dist"
    code = asset_pipeline(
        [
            "build",
            str(EXAMPLE / "static"),
            "--out",
            str(out),
            "--config",
            str(EXAMPLE / "assets.toml"),
            "--quiet",
        ]
    )
    assert code == 0
    return out

"""One exception root: a caller catches ``AssetPipelineError`` for anything the tool raises
on purpose, and ``ConfigError`` for every configuration problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from asset_pipeline.errors import AssetPipelineError, BuildError, ConfigError, UploadError
from asset_pipeline.file_tree import TreeError
from asset_pipeline.manifest import ManifestError, load_manifest
from asset_pipeline.processors import ProcessingError
from asset_pipeline.refs.graph import CycleError
from asset_pipeline.sw.config import ServiceWorkerConfigError, config_from_mapping
from asset_pipeline.sw.precache import ServiceWorkerError
from asset_pipeline.upload.config import OptionError
from asset_pipeline.upload.inventory import InventoryError
from asset_pipeline.upload.rules import RuleError, parse_cli_rule
from asset_pipeline.upload.state import StateConflict, StateError
from asset_pipeline.usage import UsageScanError


@pytest.mark.parametrize("error", [OptionError, RuleError, ServiceWorkerConfigError])
def test_every_configuration_error_is_a_config_error(error: type[Exception]) -> None:
    assert issubclass(error, ConfigError)
    assert issubclass(error, ValueError)  # what callers caught before: still caught


@pytest.mark.parametrize(
    "error",
    [
        BuildError,
        UploadError,
        ProcessingError,
        TreeError,
        CycleError,
        UsageScanError,
        InventoryError,
        StateError,
        StateConflict,
        ServiceWorkerError,
        ConfigError,
        ManifestError,
    ],
)
def test_every_deliberate_error_has_the_one_root(error: type[Exception]) -> None:
    assert issubclass(error, AssetPipelineError)


def test_a_bad_service_worker_table_is_caught_as_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown"):
        config_from_mapping({"enabled": True, "precahce": []})


def test_a_bad_cache_control_flag_is_caught_as_a_config_error() -> None:
    with pytest.raises(ConfigError, match="GLOB=VALUE"):
        parse_cli_rule("*.html")


def test_a_broken_manifest_is_caught_at_the_root_and_as_before(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(AssetPipelineError, match="not valid JSON") as caught:
        load_manifest(tmp_path)
    assert isinstance(caught.value, ManifestError)
    assert isinstance(caught.value, ValueError)  # what callers caught before: still caught

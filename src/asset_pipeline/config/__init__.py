"""The build's configuration: the model and its defaults (``model``), the one reader of
``[tool.asset-pipeline]`` (``pyproject``) and the checks that turn a table into a
``BuildConfig`` (``load``)."""

from __future__ import annotations

from asset_pipeline.config.load import config_from_mapping, load_config
from asset_pipeline.config.model import (
    DEFAULT_BUNDLER_HASH,
    MANIFEST_FORMATS,
    BuildConfig,
    DictionaryConfig,
    PrecompressConfig,
    glob_match,
    parse_manifest_formats,
    validate,
)
from asset_pipeline.config.pyproject import find_pyproject, read_table
from asset_pipeline.errors import ConfigError

__all__ = [
    "DEFAULT_BUNDLER_HASH",
    "MANIFEST_FORMATS",
    "BuildConfig",
    "ConfigError",
    "DictionaryConfig",
    "PrecompressConfig",
    "config_from_mapping",
    "find_pyproject",
    "glob_match",
    "load_config",
    "parse_manifest_formats",
    "read_table",
    "validate",
]

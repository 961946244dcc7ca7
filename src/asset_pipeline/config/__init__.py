"""The build's configuration: the model (``model``) and its ``[tool.asset-pipeline]`` loader
(``load``)."""

from __future__ import annotations

from asset_pipeline.config.model import (
    DEFAULT_BUNDLER_HASH,
    MANIFEST_FORMATS,
    BuildConfig,
    ConfigError,
    PrecompressConfig,
    config_from_mapping,
    find_pyproject,
    glob_match,
    load_config,
    parse_manifest_formats,
    validate,
)

__all__ = [
    "DEFAULT_BUNDLER_HASH",
    "MANIFEST_FORMATS",
    "BuildConfig",
    "ConfigError",
    "PrecompressConfig",
    "config_from_mapping",
    "find_pyproject",
    "glob_match",
    "load_config",
    "parse_manifest_formats",
    "validate",
]

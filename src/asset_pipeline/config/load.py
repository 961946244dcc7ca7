"""Parsing and checking ``[tool.asset-pipeline]`` tables into a ``BuildConfig``.

The dataclasses and defaults live in ``model``; the file is read by ``pyproject``. Every
error names the file and the key and carries a ``HINT``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asset_pipeline.config.model import (
    ADDRESSING_STYLES,
    MANIFEST_FORMATS,
    BuildConfig,
    DictionaryConfig,
    PrecompressConfig,
    validate,
)
from asset_pipeline.config.pyproject import find_pyproject, read_table
from asset_pipeline.errors import ConfigError
from asset_pipeline.processors import PROCESSOR_KINDS

_PRECOMPRESS_KEYS = {
    "br",
    "zstd",
    "gzip",
    "min_saving",
    "brotli_quality",
    "zstd_level",
    "gzip_level",
    "fast_globs",
}


def load_config(config_file: Path | None = None, *, cwd: Path | None = None) -> BuildConfig:
    """Read ``config_file`` (``[tool.asset-pipeline]`` or top-level keys), else the nearest
    ``pyproject.toml`` from ``cwd`` upward; no file at all gives the defaults."""
    cwd = cwd or Path.cwd()
    explicit = config_file is not None
    path = config_file if config_file is not None else find_pyproject(cwd)
    if path is None:
        return BuildConfig(root=cwd)
    table = read_table(path, explicit=explicit)
    if table is None:
        return BuildConfig(root=path.parent)
    return config_from_mapping(table, root=path.parent.resolve(), source=str(path))


def _check(cond: bool, source: str, key: str, expected: str) -> None:
    if not cond:
        raise ConfigError(
            f"{source}: [tool.asset-pipeline] {key} must be {expected}. "
            "HINT: see `asset-pipeline build --help` for the accepted values."
        )


def config_from_mapping(table: Mapping[str, Any], *, root: Path, source: str) -> BuildConfig:
    kinds = set(PROCESSOR_KINDS.values())
    known = set(BuildConfig.__dataclass_fields__) - {
        "root",
        "processors",
        "source",
        "manifest_formats",
    }
    known |= {"manifest_format", "service-worker", "upload"}  # read by their own modules
    unknown = sorted(k for k in table if k not in known and k not in kinds)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) in [tool.asset-pipeline]: {', '.join(unknown)}. "
            f"HINT: known keys are {', '.join(sorted(known | kinds))}."
        )
    kw: dict[str, Any] = {"root": root, "source": source}
    for key in ("src", "out", "cache_dir"):
        if key in table:
            value = table[key]
            ok = isinstance(value, str) or (key == "cache_dir" and value is False)
            _check(ok, source, key, "a path string" + (" or false" if key == "cache_dir" else ""))
            kw[key] = None if value is False else Path(value)
    for key in ("url_prefix", "name_pattern", "missing_reference"):
        if key in table:
            _check(isinstance(table[key], str), source, key, "a string")
            kw[key] = table[key]
    if "bundler_hash_pattern" in table:
        value = table["bundler_hash_pattern"]
        _check(
            isinstance(value, str) or value is False,
            source,
            "bundler_hash_pattern",
            "a regular expression string or false",
        )
        kw["bundler_hash_pattern"] = value or None
    if "ignore" in table:
        value = table["ignore"]
        _check(_str_list(value), source, "ignore", "a list of glob strings")
        kw["ignore"] = tuple(value)
    if "allow_symlink_targets" in table:
        value = table["allow_symlink_targets"]
        _check(_str_list(value), source, "allow_symlink_targets", "a list of directory paths")
        kw["allow_symlink_targets"] = tuple(root / v for v in value)
    if "ignore_hidden" in table:
        _check(isinstance(table["ignore_hidden"], bool), source, "ignore_hidden", "true or false")
        kw["ignore_hidden"] = table["ignore_hidden"]
    for key in ("hash_length", "jobs"):
        if key in table:
            value = table[key]
            _check(type(value) is int and value > 0, source, key, "a positive integer")
            kw[key] = value
    if "cache_max_bytes" in table:
        value = table["cache_max_bytes"]
        _check(type(value) is int and value >= 0, source, "cache_max_bytes", "an integer >= 0")
        kw["cache_max_bytes"] = value
    if "manifest_format" in table:
        value = table["manifest_format"]
        value = [value] if isinstance(value, str) else value
        _check(
            _str_list(value) and set(value) <= set(MANIFEST_FORMATS),
            source,
            "manifest_format",
            f"a list drawn from {', '.join(MANIFEST_FORMATS)}",
        )
        kw["manifest_formats"] = tuple(value)
    if "precompress" in table:
        kw["precompress"] = _precompress(table["precompress"], source)
    if "dictionaries" in table:
        kw["dictionaries"] = _dictionaries(table["dictionaries"], source)
    processors: dict[str, dict[str, Any]] = {}
    for kind in kinds & set(table):
        processors[kind] = _processor_table(kind, table[kind], source)
    kw["processors"] = processors
    return validate(BuildConfig(**kw))


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _precompress(value: Any, source: str) -> PrecompressConfig:
    if isinstance(value, bool):  # true: the default codings; false: none
        return PrecompressConfig() if value else PrecompressConfig(br=False, gzip=False)
    _check(isinstance(value, dict), source, "precompress", "true/false or a table")
    unknown = sorted(set(value) - _PRECOMPRESS_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) in [tool.asset-pipeline.precompress]: {', '.join(unknown)}."
            f" HINT: known keys are {', '.join(sorted(_PRECOMPRESS_KEYS))}."
        )
    for key in ("br", "zstd", "gzip"):
        if key in value:
            _check(isinstance(value[key], bool), source, f"precompress.{key}", "true or false")
    if "fast_globs" in value:
        _check(_str_list(value["fast_globs"]), source, "precompress.fast_globs", "a list of globs")
        value = {**value, "fast_globs": tuple(value["fast_globs"])}
    if "min_saving" in value:
        ms = value["min_saving"]
        _check(
            isinstance(ms, int | float) and 0 <= ms < 1,
            source,
            "precompress.min_saving",
            "a fraction between 0 and 1 (0.05 = 5 %)",
        )
    for key, lo, hi in (("brotli_quality", 0, 11), ("zstd_level", 1, 22), ("gzip_level", 1, 9)):
        if key in value:
            v = value[key]
            _check(
                type(v) is int and lo <= v <= hi,
                source,
                f"precompress.{key}",
                f"an integer from {lo} to {hi}",
            )
    return PrecompressConfig(**value)


def _dictionaries(value: Any, source: str) -> DictionaryConfig:
    if isinstance(value, bool):  # true: the defaults; false: no deltas
        return DictionaryConfig() if value else DictionaryConfig(versions=0)
    _check(isinstance(value, dict), source, "dictionaries", "true/false or a table")
    known = set(DictionaryConfig.__dataclass_fields__)
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) in [tool.asset-pipeline.dictionaries]: "
            f"{', '.join(unknown)}. HINT: known keys are {', '.join(sorted(known))}."
        )
    if "versions" in value:
        v = value["versions"]
        _check(type(v) is int and 0 <= v <= 20, source, "dictionaries.versions", "0 to 20")
    if "globs" in value:
        _check(_str_list(value["globs"]), source, "dictionaries.globs", "a list of globs")
        value = {**value, "globs": tuple(value["globs"])}
    if "zstd_level" in value:
        v = value["zstd_level"]
        _check(type(v) is int and 1 <= v <= 22, source, "dictionaries.zstd_level", "1 to 22")
    if "min_saving" in value:
        ms = value["min_saving"]
        _check(
            isinstance(ms, int | float) and 0 <= ms < 1,
            source,
            "dictionaries.min_saving",
            "a fraction between 0 and 1 (0.2 = 20 % smaller than the .br)",
        )
    for key in ("history_from", "history_endpoint_url", "history_region"):
        if key in value:
            _check(isinstance(value[key], str), source, f"dictionaries.{key}", "a string")
    if "history_addressing_style" in value:
        _check(
            value["history_addressing_style"] in ADDRESSING_STYLES,
            source,
            "dictionaries.history_addressing_style",
            f"one of {', '.join(ADDRESSING_STYLES)}",
        )
    return DictionaryConfig(**value)


def _processor_table(kind: str, value: Any, source: str) -> dict[str, Any]:
    _check(isinstance(value, dict), source, kind, "a table of options")
    table = dict(value)
    rules = table.get("rules", [])
    _check(isinstance(rules, list), source, f"{kind}.rules", "an array of tables ([[...rules]])")
    for i, rule in enumerate(rules):
        _check(
            isinstance(rule, dict) and isinstance(rule.get("glob"), str),
            source,
            f"{kind}.rules[{i}]",
            'a table with a string "glob" key',
        )
    return table

"""Build configuration: ``[tool.asset-pipeline]`` in ``pyproject.toml`` or a ``--config`` file.

Options for processors stay generic: any ``[tool.asset-pipeline.<kind>]`` table (a kind
from ``PROCESSOR_KINDS``) is passed through to that processor, overlaid by every
``[[tool.asset-pipeline.<kind>.rules]]`` entry whose ``glob`` matches the file, later
rules winning. Processors validate their own options, so adding one never touches here.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from asset_pipeline.processors import PROCESSOR_KINDS

#: Vite/Rollup/esbuild style ``name-BfT4x2aQ.js``: 8 url-safe base64 characters holding
#: at least one digit and one letter (so ``my-component.js`` is not mistaken for one).
DEFAULT_BUNDLER_HASH = (
    r"[-.](?=[A-Za-z0-9_-]{0,7}[0-9])(?=[A-Za-z0-9_-]{0,7}[A-Za-z])[A-Za-z0-9_-]{8}\.[^./]+$"
)
MANIFEST_FORMATS = ("django", "vite")
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


class ConfigError(ValueError):
    """The configuration is invalid; the message names the file and key."""


@dataclass(frozen=True, slots=True)
class PrecompressConfig:
    """Which siblings to write. Defaults: all three, each kept only if >= 5 % smaller.

    Files matching ``fast_globs`` (default: source maps, which only developer tools
    fetch) use fast settings (brotli 5, zstd 9, gzip 6): on a typical front-end tree
    the maps are a third of the bytes and brotli 11 on them would dominate build time.
    """

    br: bool = True
    zstd: bool = True
    gzip: bool = True
    min_saving: float = 0.05
    brotli_quality: int = 11
    zstd_level: int = 19
    gzip_level: int = 9
    fast_globs: tuple[str, ...] = ("*.map",)

    def for_file(self, logical_name: str) -> PrecompressConfig:
        if any(glob_match(g, logical_name) for g in self.fast_globs):
            return replace(self, brotli_quality=5, zstd_level=9, gzip_level=6, fast_globs=())
        return self

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(n for n in ("zstd", "br", "gzip") if getattr(self, n))


@dataclass(frozen=True, slots=True)
class BuildConfig:
    """Everything one build needs. Relative paths are resolved against ``root``.

    Defaults: ``url_prefix="/static/"``, hidden files ignored, ``hash_length=10``,
    ``name_pattern="{name}.{hash}{ext}"``, missing references are errors, all
    precompression on, cache in ``.asset-cache/``, ``jobs`` = CPU count.
    """

    src: Path | None = None
    out: Path | None = None
    root: Path = field(default_factory=Path.cwd)
    url_prefix: str = "/static/"
    ignore: tuple[str, ...] = ()
    ignore_hidden: bool = True
    hash_length: int = 10
    name_pattern: str = "{name}.{hash}{ext}"
    bundler_hash_pattern: str | None = DEFAULT_BUNDLER_HASH
    missing_reference: str = "error"
    precompress: PrecompressConfig = field(default_factory=PrecompressConfig)
    cache_dir: Path | None = Path(".asset-cache")
    jobs: int | None = None
    manifest_formats: tuple[str, ...] = ()
    processors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = "defaults"

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.root / path

    @property
    def workers(self) -> int:
        return max(1, self.jobs or os.cpu_count() or 1)

    def options_for(self, kind: str, logical_name: str) -> dict[str, Any]:
        table = dict(self.processors.get(kind, {}))
        rules = table.pop("rules", [])
        for rule in rules:
            if glob_match(rule["glob"], logical_name):
                table.update({k: v for k, v in rule.items() if k != "glob"})
        return table

    def with_overrides(self, **changes: Any) -> BuildConfig:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@functools.lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts))


def glob_match(pattern: str, logical_name: str) -> bool:
    """gitignore-like: a pattern without ``/`` matches the base name in any directory;
    ``**`` crosses directories; a trailing ``/`` matches everything below a directory."""
    pattern = pattern.lstrip("/")
    if pattern.endswith("/"):
        pattern += "**"
    if "/" not in pattern:
        return _glob_regex(pattern).fullmatch(logical_name.rsplit("/", 1)[-1]) is not None
    return _glob_regex(pattern).fullmatch(logical_name) is not None


def find_pyproject(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(config_file: Path | None = None, *, cwd: Path | None = None) -> BuildConfig:
    """Read ``config_file`` (``[tool.asset-pipeline]`` or top-level keys), else the nearest
    ``pyproject.toml`` from ``cwd`` upward; no file at all gives the defaults."""
    cwd = cwd or Path.cwd()
    explicit = config_file is not None
    path = config_file if config_file is not None else find_pyproject(cwd)
    if path is None:
        return BuildConfig(root=cwd)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found. HINT: check the --config path."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}). HINT: fix the syntax.") from None
    table = data.get("tool", {}).get("asset-pipeline")
    if table is None:
        if not explicit:
            return BuildConfig(root=path.parent)
        table = {k: v for k, v in data.items() if k != "tool"}
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
    if "ignore_hidden" in table:
        _check(isinstance(table["ignore_hidden"], bool), source, "ignore_hidden", "true or false")
        kw["ignore_hidden"] = table["ignore_hidden"]
    for key in ("hash_length", "jobs"):
        if key in table:
            value = table[key]
            _check(type(value) is int and value > 0, source, key, "a positive integer")
            kw[key] = value
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
    processors: dict[str, dict[str, Any]] = {}
    for kind in kinds & set(table):
        processors[kind] = _processor_table(kind, table[kind], source)
    kw["processors"] = processors
    return validate(BuildConfig(**kw))


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _precompress(value: Any, source: str) -> PrecompressConfig:
    if isinstance(value, bool):
        return PrecompressConfig(br=value, zstd=value, gzip=value)
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


def validate(config: BuildConfig) -> BuildConfig:
    """Cross-field checks, also run after command-line overrides."""
    src = config.source
    if "{hash}" not in config.name_pattern or "{ext}" not in config.name_pattern:
        raise ConfigError(
            f"{src}: name_pattern {config.name_pattern!r} must contain {{hash}} and {{ext}}. "
            'HINT: the default is "{name}.{hash}{ext}".'
        )
    if not 4 <= config.hash_length <= 64:
        raise ConfigError(f"{src}: hash_length must be 4..64. HINT: the default is 10.")
    if config.missing_reference not in ("error", "warn"):
        raise ConfigError(
            f'{src}: missing_reference must be "error" or "warn", not '
            f'{config.missing_reference!r}. HINT: "warn" builds anyway and lists them.'
        )
    if not (config.url_prefix.startswith("/") and config.url_prefix.endswith("/")):
        raise ConfigError(
            f"{src}: url_prefix {config.url_prefix!r} must start and end with '/'. "
            'HINT: for example "/static/".'
        )
    if config.bundler_hash_pattern:
        try:
            re.compile(config.bundler_hash_pattern)
        except re.error as exc:
            raise ConfigError(
                f"{src}: bundler_hash_pattern is not a valid regex ({exc}). "
                "HINT: use Python `re` syntax, or false to turn recognition off."
            ) from None
    return config


def parse_manifest_formats(values: Sequence[str]) -> tuple[str, ...]:
    bad = [v for v in values if v not in MANIFEST_FORMATS]
    if bad:
        raise ConfigError(
            f"--manifest-format {', '.join(bad)} is not supported. "
            f"HINT: choose from {', '.join(MANIFEST_FORMATS)}."
        )
    return tuple(values)

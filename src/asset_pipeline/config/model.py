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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from asset_pipeline.errors import ConfigError

#: Vite/Rollup/esbuild style ``name-BfT4x2aQ.js``: 8 url-safe base64 characters holding
#: at least one digit and one letter (so ``my-component.js`` is not mistaken for one).
DEFAULT_BUNDLER_HASH = (
    r"[-.](?=[A-Za-z0-9_-]{0,7}[0-9])(?=[A-Za-z0-9_-]{0,7}[A-Za-z])[A-Za-z0-9_-]{8}\.[^./]+$"
)
MANIFEST_FORMATS = ("django", "vite")
#: botocore's S3 addressing styles (the upload's ``addressing_style`` takes the same).
ADDRESSING_STYLES = ("auto", "path", "virtual")


@dataclass(frozen=True, slots=True)
class PrecompressConfig:
    """Which siblings to write. Defaults: ``.br`` and ``.gz``, each kept only if >= 5 %
    smaller.

    No ``.zst`` by default: every browser that sends ``zstd`` in Accept-Encoding also
    sends ``br``, and brotli 11 output is smaller than zstd 19's, so static serving
    would never pick the ``.zst`` for a browser while the build pays for it in CPU and
    disk (docs/benchmarks.md). ``zstd = true`` adds it for clients that only take zstd.

    Files matching ``fast_globs`` (default: source maps, which only developer tools
    fetch) use fast settings (brotli 5, zstd 9, gzip 6): on a typical front-end tree
    the maps are a third of the bytes and brotli 11 on them would dominate build time.
    """

    br: bool = True
    zstd: bool = False
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
class DictionaryConfig:
    """Compression Dictionary Transport deltas (RFC 9842): a browser holding an earlier
    version of a file receives the new one compressed against it (``dcz``).

    For each fingerprinted file matching ``globs`` (JS and CSS by default) the build keeps
    the SHA-256 of its last ``versions`` versions (3; 0 turns deltas off); the version a
    build replaces is read from the previous DIST and kept in the build cache for later builds,
    and writes ``new ⟵ old`` deltas with zstd at ``zstd_level`` (19) using the old version as
    a raw-content dictionary. A delta is kept only when it is at least ``min_saving`` (20 %)
    smaller than the file's ``.br``: a delta that barely beats brotli costs a ``Vary`` variant
    and disk for little. ``dcb`` (brotli with a shared dictionary) is not written: the
    maintained Python brotli bindings do not expose the encoder's dictionary API.

    ``history_from`` (``s3://bucket/prefix``, where ``asset-pipeline upload`` publishes the
    build) lets a build that starts from an empty DIST and cache, as most CI jobs do, take
    the earlier versions from the bucket: it reads the live ``manifest.json`` there, fetches
    only the versions it has no copy of and checks each against the SHA-256 the manifest
    records. ``history_endpoint_url``, ``history_region`` and ``history_addressing_style``
    mean what the upload's ``endpoint_url``, ``region`` and ``addressing_style`` mean;
    credentials come from the environment, as for the upload.
    """

    versions: int = 3
    globs: tuple[str, ...] = ("*.js", "*.mjs", "*.css")
    zstd_level: int = 19
    min_saving: float = 0.2
    history_from: str | None = None
    history_endpoint_url: str | None = None
    history_region: str | None = None
    history_addressing_style: str = "auto"

    def eligible(self, logical_name: str) -> bool:
        return self.versions > 0 and any(glob_match(g, logical_name) for g in self.globs)


@dataclass(frozen=True, slots=True)
class BuildConfig:
    """Everything one build needs. Relative paths are resolved against ``root``.

    Defaults: ``url_prefix="/static/"``, hidden files ignored, ``hash_length=10``,
    ``name_pattern="{name}.{hash}{ext}"``, missing references are errors, all
    precompression on, cache in ``.asset-cache/`` bounded to ``cache_max_bytes`` (512 MiB:
    after a build, entries it did not use are deleted oldest first beyond that; 0 keeps only
    what the last build used), ``jobs`` = CPU count. A symbolic link in SRC whose target
    lies outside SRC, or is a hidden or ignored file in SRC, fails the build; outside SRC,
    a target inside one of ``allow_symlink_targets`` is allowed (default: none; see
    ``file_tree``). The font usage ``content`` globs follow the same rule within ``root``.
    """

    src: Path | None = None
    out: Path | None = None
    root: Path = field(default_factory=Path.cwd)
    url_prefix: str = "/static/"
    ignore: tuple[str, ...] = ()
    ignore_hidden: bool = True
    allow_symlink_targets: tuple[Path, ...] = ()
    hash_length: int = 10
    name_pattern: str = "{name}.{hash}{ext}"
    bundler_hash_pattern: str | None = DEFAULT_BUNDLER_HASH
    missing_reference: str = "error"
    precompress: PrecompressConfig = field(default_factory=PrecompressConfig)
    dictionaries: DictionaryConfig = field(default_factory=DictionaryConfig)
    cache_dir: Path | None = Path(".asset-cache")
    cache_max_bytes: int = 512 * 2**20
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
    if config.cache_max_bytes < 0:
        raise ConfigError(
            f"{src}: cache_max_bytes must be >= 0. HINT: 0 keeps only what the last build used."
        )
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
    history = config.dictionaries
    if history.history_from is not None:
        split_s3_url(history.history_from, f"{src}: dictionaries.history_from")
    if history.history_addressing_style not in ADDRESSING_STYLES:
        raise ConfigError(
            f"{src}: dictionaries.history_addressing_style "
            f"{history.history_addressing_style!r} is not one of {', '.join(ADDRESSING_STYLES)}. "
            'HINT: "path" for MinIO-style endpoints.'
        )
    return config


def split_s3_url(url: str, where: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix/")`` (prefix ``""`` or
    ending in ``/``, as the upload stores keys)."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        raise ConfigError(
            f"{where}: {url!r} is not an s3://BUCKET[/PREFIX] URL. HINT: give the bucket and "
            "prefix `asset-pipeline upload` publishes to, e.g. s3://my-assets/static."
        )
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def parse_manifest_formats(values: Sequence[str]) -> tuple[str, ...]:
    bad = [v for v in values if v not in MANIFEST_FORMATS]
    if bad:
        raise ConfigError(
            f"--manifest-format {', '.join(bad)} is not supported. "
            f"HINT: choose from {', '.join(MANIFEST_FORMATS)}."
        )
    return tuple(values)

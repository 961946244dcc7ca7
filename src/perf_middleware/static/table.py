"""From a manifest (and, when configured, the directory) to the URL -> StaticFile table."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import replace

from asset_pipeline.manifest import ENCODING_SUFFIX, ManifestEntry, load_manifest
from asset_pipeline.media_types import guess_type
from perf_middleware.http.dictionary import SHA256_SIZE, use_as_dictionary
from perf_middleware.static.config import StaticConfig, safe_relative_path
from perf_middleware.static.files import StaticFile, TableBuilder

logger = logging.getLogger("perf_middleware.static")

_SUFFIX_CODING = {suffix: coding for coding, suffix in ENCODING_SUFFIX.items()}


def _dictionary(
    builder: TableBuilder, entry: ManifestEntry
) -> tuple[str | None, dict[bytes, tuple[str, str]]]:
    """``Use-As-Dictionary`` value and the deltas of a fingerprinted entry (RFC 9842)."""
    info = entry.dictionary
    if info is None or not entry.fingerprinted or not builder.config.dictionary_transport:
        return None, {}
    try:
        header = use_as_dictionary(info.match_under(builder.config.prefix), info.match_dest)
    except ValueError as exc:
        logger.warning("static dictionary skipped path=%r reason=%s", entry.path, exc)
        return None, {}
    deltas: dict[bytes, tuple[str, str]] = {}
    for digest, codings in info.deltas.items():
        variant = codings.get("dcz")
        try:
            key = bytes.fromhex(digest)
        except ValueError:
            key = b""
        if variant is None or len(key) != SHA256_SIZE:
            continue
        path = builder.resolve(variant.path)
        if path is not None:
            deltas[key] = ("dcz", path)
    return header, deltas


def entry_file(builder: TableBuilder, entry: ManifestEntry) -> StaticFile | None:
    real = builder.resolve(entry.path)
    if real is None:
        return None
    header, deltas = _dictionary(builder, entry)
    encodings: dict[str, str] = {}
    for coding, variant in entry.encodings.items():
        path = builder.resolve(variant.path)
        if path is not None and coding in ENCODING_SUFFIX:
            encodings[coding] = path
    alternates: list[tuple[str, str]] = []
    if builder.config.image_negotiation and entry.alternates:
        for alt in entry.alternates:
            same_size = entry.width is None or (
                alt.width == entry.width and alt.height == entry.height
            )
            if not same_size or alt.content_type == entry.content_type:
                continue
            path = builder.resolve(alt.path)
            if path is not None and alt.size < entry.size:
                alternates.append((alt.content_type, path))
    return builder.static_file(
        real,
        url_path=entry.path,
        media_type=entry.content_type,
        etag=f'"{entry.hash[:32]}"' if entry.hash else None,
        immutable=entry.fingerprinted,
        encodings=encodings,
        alternates=alternates,
        use_as_dictionary=header,
        deltas=deltas,
    )


def alternate_file(builder: TableBuilder, entry: ManifestEntry, index: int) -> StaticFile | None:
    """An image alternate at its own URL (what ``<picture>`` srcsets point to)."""
    alt = entry.alternates[index]
    real = builder.resolve(alt.path)
    if real is None:
        return None
    return builder.static_file(
        real,
        url_path=alt.path,
        media_type=alt.content_type,
        etag=None,
        immutable=entry.fingerprinted,
        encodings={},
        alternates=[],
    )


def plain_file(builder: TableBuilder, relative: str) -> StaticFile | None:
    """A file outside the manifest: identity plus any ``.br``/``.zst``/``.gz`` sibling."""
    real = builder.resolve(relative)
    if real is None:
        return None
    encodings = {
        coding: real + suffix
        for coding, suffix in ENCODING_SUFFIX.items()
        if os.path.isfile(real + suffix)
        and os.path.realpath(real + suffix).startswith(builder.root + os.sep)
    }
    return builder.static_file(
        real,
        url_path=relative,
        media_type=guess_type(relative),
        etag=None,
        immutable=False,
        encodings=encodings,
        alternates=[],
    )


def walk(root: str) -> Iterator[str]:
    """Relative paths of regular files under the root, never following directory links."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            yield rel


def build_table(directory: str | os.PathLike[str], config: StaticConfig) -> dict[str, StaticFile]:
    """URL path below the prefix (``css/app.3f2a1b9c0d.css``) -> StaticFile."""
    manifest = load_manifest(directory)
    builder = TableBuilder(directory, config)
    table: dict[str, StaticFile] = {}
    for logical, entry in manifest.files.items():
        static = entry_file(builder, entry)
        if static is None:
            continue
        table[entry.path] = static
        for index, alt in enumerate(entry.alternates):
            if alt.path not in table:
                alt_file = alternate_file(builder, entry, index)
                if alt_file is not None:
                    table[alt.path] = alt_file
        if config.serve_logical_names and logical != entry.path and safe_relative_path(logical):
            # same bytes and validators, but the URL is not content-addressed: revalidate
            again = entry_file(builder, replace(entry, fingerprinted=False))
            if again is not None:
                table.setdefault(logical, again)
    listed = manifest.output_paths()  # deltas included: never served at their own URL
    extras = list(config.extra_files)
    if config.serve_unlisted:
        for rel in walk(builder.root):
            base, suffix = os.path.splitext(rel)
            if suffix in _SUFFIX_CODING and os.path.isfile(os.path.join(builder.root, base)):
                continue  # a precompressed sibling, served through its base file
            extras.append(rel)
    for rel in extras:
        if rel in table or rel in listed or not os.path.isfile(os.path.join(builder.root, rel)):
            continue
        static = plain_file(builder, rel)
        if static is not None:
            table[rel] = static
    logger.info(
        "static table built files=%d in_memory_bytes=%d directory=%s",
        len(table),
        config.memory_budget - builder.budget.left,
        builder.root,
    )
    return table

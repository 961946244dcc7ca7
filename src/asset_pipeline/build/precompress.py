"""Precompressed siblings (``.br``, ``.gz``, and ``.zst`` when enabled) written once at
build time.

Build time is where the slow, dense settings belong (brotli 11, gzip 9, zstd 19): the
runtime then serves a file with no CPU spent per request. Which codings are on by
default, and why, is decided by measurement in docs/benchmarks.md. A sibling is only kept when
it saves at least ``min_saving`` (5 %) — serving a barely smaller file is not worth a
``Vary: Accept-Encoding`` variant.
"""

from __future__ import annotations

import gzip

import brotli
import zstandard

from asset_pipeline.config.model import PrecompressConfig

#: Media types that are already compressed (or too random to gain) are never tried.
_INCOMPRESSIBLE_PREFIXES = ("image/", "video/", "audio/", "font/woff")
_COMPRESSIBLE_IMAGES = ("image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon", "image/bmp")
_INCOMPRESSIBLE = {
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/zstd",
    "application/x-brotli",
    "application/pdf",
    "application/octet-stream",
    "application/x-bzip2",
    "application/x-7z-compressed",
}


def is_compressible(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _COMPRESSIBLE_IMAGES:
        return True
    return not media.startswith(_INCOMPRESSIBLE_PREFIXES) and media not in _INCOMPRESSIBLE


def encode(coding: str, data: bytes, settings: PrecompressConfig) -> bytes:
    if coding == "br":
        out: bytes = brotli.compress(data, quality=settings.brotli_quality)
        return out
    if coding == "zstd":
        params = zstandard.ZstdCompressor(level=settings.zstd_level, write_content_size=True)
        return params.compress(data)
    if coding == "gzip":
        # mtime=0 keeps the output deterministic, so rebuilds produce identical bytes.
        return gzip.compress(data, compresslevel=settings.gzip_level, mtime=0)
    raise ValueError(f"unknown content coding {coding!r}")


def precompress(data: bytes, settings: PrecompressConfig) -> dict[str, bytes]:
    """Each enabled coding whose output is at least ``min_saving`` smaller than ``data``.

    A top-level function so the build can run it in a process pool.
    """
    limit = len(data) * (1.0 - settings.min_saving)
    out: dict[str, bytes] = {}
    for coding in settings.enabled:
        encoded = encode(coding, data, settings)
        if len(encoded) <= limit:
            out[coding] = encoded
    return out

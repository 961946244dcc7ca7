"""Encoded variants of a stored body, compressed once at high levels.

On-the-fly compression must be cheap (zstd 3-4, br 4-5); an entry served thousands of times
can afford zstd 19 / br 11.  A variant is kept only when it is smaller than the identity body
by at least ``MIN_SAVING``.  What is compressible is decided by the middleware's own
``CompressionConfig``, the one on-the-fly compression uses, so both paths agree.
"""

from __future__ import annotations

from perf_middleware.cache.config import CacheConfig
from perf_middleware.compression.codecs import CompressionConfig, compress_body

MIN_SAVING = 0.05


def _level(coding: str, config: CacheConfig, fast: bool) -> int:
    if fast and coding in config.fast_levels:
        return config.fast_levels[coding]
    if coding == "zstd":
        return config.zstd_level
    return config.br_level if coding == "br" else config.gzip_level


def encode_variants(
    body: bytes,
    media_type: str,
    config: CacheConfig,
    compression: CompressionConfig,
    fast: bool = False,
) -> dict[str, bytes]:
    """``{coding: compressed, ..., "identity": body}`` in the configured preference order,
    keeping only codings that save at least 5 %; ``fast`` uses the on-the-fly levels.
    ``media_type``: lower-case, without parameters (``http.headers.content_type``)."""
    variants: dict[str, bytes] = {}
    if len(body) >= config.min_compress_size and compression.is_compressible(media_type):
        limit = len(body) * (1 - MIN_SAVING)
        for coding in config.codings:
            packed = compress_body(body, coding, _level(coding, config, fast))
            if len(packed) <= limit:
                variants[coding] = packed
    variants["identity"] = body
    return variants

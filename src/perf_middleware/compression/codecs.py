"""Content codings (zstd, br, gzip): configuration, one-shot and streaming encoders.

Negotiation rules live in ``http.accept_encoding``; this module decides *whether* a response
may be compressed and does the byte work. The on-the-fly levels (zstd 3 / br 4 / gzip 5)
keep most of the size win of the slow levels at a fraction of the CPU (figures in
docs/benchmarks.md); the slow levels belong to build time or to a cache that compresses once
(``CompressionConfig(zstd_level=19)`` for such a cache).

zstd compression contexts are reused: setting one up is a large share of the cost of
compressing a small body. A context is not safe to share between threads, and large bodies
are compressed in worker threads, so contexts are kept per thread inside a ``Codecs`` object
the middleware owns (no module-level mutable state).
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass, field
from typing import Protocol

import brotli
import zstandard

from perf_middleware.compression.memo import EncodedMemo
from perf_middleware.compression.site_dictionary import SiteDictionary, SiteDictionaryConfig
from perf_middleware.http.cache_control import parse_cache_control
from perf_middleware.http.headers import media_type
from perf_middleware.options import checked

CODINGS = ("zstd", "br", "gzip")

DEFAULT_COMPRESSIBLE_TYPES = frozenset(
    {
        "application/javascript",
        "application/ecmascript",
        "application/json",
        "application/ld+json",
        "application/manifest+json",
        "application/xml",
        "application/xhtml+xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/wasm",
        "application/graphql-response+json",
        "application/x-ndjson",
        "application/vnd.api+json",
        "application/vnd.ms-fontobject",
        "application/x-javascript",
        "application/x-font-ttf",
        "font/ttf",
        "font/otf",
        "image/svg+xml",
        "image/x-icon",
        "image/vnd.microsoft.icon",
        "image/bmp",
    }
)

_NO_COMPRESS_STATUS = frozenset({204, 206, 304})
#: log2 of the match-finder table sizes for on-the-fly zstd at levels up to 3 (the double-fast
#: strategy: a long-match table of ``2**_FAST_HASH_LOG`` entries, a short-match one of
#: ``2**_FAST_CHAIN_LOG``). Level 3's own tables (2**17 and 2**16 entries) outgrow the CPU's
#: near caches and cost more than the few matches they add; with the smaller short-match
#: table, repetitive JSON even comes out smaller than at level 3 or 4. Chosen with
#: ``benchmarks.zstd_params`` (docs/benchmarks.md, "Unique pages").
_FAST_HASH_LOG = 14
_FAST_CHAIN_LOG = 12
_FAST_TABLE_MAX_LEVEL = 3
_SHAPES_LIMIT = 1024


@checked()
@dataclass(frozen=True, slots=True, kw_only=True)
class CompressionConfig:
    """On-the-fly compression options.

    * ``preference``: server preference among codings the client weights equally.
    * ``zstd_level`` / ``br_level`` / ``gzip_level``: on-the-fly levels (the figures behind
      the defaults are in docs/benchmarks.md).
    * ``minimum_size``: bodies smaller than this (bytes) are sent as-is (and do not vary on
      Accept-Encoding): a body this small fits one TCP segment with its headers either way,
      so compressing saves bytes but no packet, while costing CPU on every response.
    * ``compressible_types``: exact media types compressed in addition to every ``text/*``
      and every ``+json`` / ``+xml`` suffix type.
    * ``offload_size``: bodies (or stream chunks) at least this big are compressed in a
      worker thread so the event loop is not blocked for more than a few milliseconds.
    * ``memo_bytes``: encoded output kept per middleware for complete bodies that repeat
      byte for byte (looked up by the blake3 digest already computed for the ETag, stored
      on a body's second sighting, bodies up to an eighth of this size); 0 switches it off.
    * ``site_dictionary``: compress HTML pages with a site dictionary for browsers that
      hold it (``SiteDictionaryConfig``, RFC 9842 ``dcz``); None (the default) = off.
    """

    preference: tuple[str, ...] = CODINGS
    zstd_level: int = 3
    br_level: int = 4
    gzip_level: int = 5
    minimum_size: int = 1024
    compressible_types: frozenset[str] = field(default=DEFAULT_COMPRESSIBLE_TYPES)
    offload_size: int = 64 * 1024
    memo_bytes: int = 8 * 2**20
    site_dictionary: SiteDictionaryConfig | None = None

    def __post_init__(self) -> None:
        unknown = [c for c in self.preference if c not in CODINGS]
        if unknown:
            raise ValueError(
                f"CompressionConfig.preference has unknown coding(s) {unknown!r}. "
                f"HINT: use a subset of {CODINGS!r}."
            )
        for name, value, low, high in (
            ("zstd_level", self.zstd_level, -7, 22),
            ("br_level", self.br_level, 0, 11),
            ("gzip_level", self.gzip_level, 1, 9),
        ):
            if not low <= value <= high:
                raise ValueError(
                    f"CompressionConfig.{name}={value} is out of range. HINT: choose {low}..{high}."
                )
        if self.site_dictionary is not None and not isinstance(
            self.site_dictionary, SiteDictionaryConfig
        ):
            raise TypeError(
                "CompressionConfig.site_dictionary must be a SiteDictionaryConfig or None. "
                "HINT: site_dictionary=SiteDictionaryConfig(path='site.dict')."
            )
        if self.minimum_size < 0 or self.offload_size < 0 or self.memo_bytes < 0:
            raise ValueError(
                "CompressionConfig sizes must be >= 0. HINT: use 0 to compress everything."
            )

    def level(self, coding: str) -> int:
        if coding == "zstd":
            return self.zstd_level
        if coding == "br":
            return self.br_level
        return self.gzip_level

    def is_compressible(self, media_type: str) -> bool:
        """``media_type`` lower-case without parameters (``headers.content_type``)."""
        if media_type.startswith("text/"):
            return True
        return (
            media_type in self.compressible_types
            or media_type.endswith("+json")
            or media_type.endswith("+xml")
        )


def compressible_response(
    config: CompressionConfig,
    status: int,
    media_type: str,
    content_encoding: bytes | None,
    cache_control: bytes | None,
) -> bool:
    """Whether a response may be compressed at all (size is checked separately)."""
    if status in _NO_COMPRESS_STATUS or status < 200:
        return False
    if content_encoding is not None and content_encoding.strip().lower() not in (b"", b"identity"):
        return False
    if not config.is_compressible(media_type):
        return False
    return not (cache_control is not None and parse_cache_control(cache_control).no_transform)


class StreamEncoder(Protocol):
    def compress(self, chunk: bytes) -> bytes:
        """Compress ``chunk`` and flush, so everything sent so far is decodable now."""

    def finish(self) -> bytes:
        """End the stream (trailer bytes)."""


class _ZstdStream:
    __slots__ = ("_obj",)

    def __init__(self, cctx: zstandard.ZstdCompressor) -> None:
        self._obj = cctx.compressobj()

    def compress(self, chunk: bytes) -> bytes:
        return self._obj.compress(chunk) + self._obj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def finish(self) -> bytes:
        return self._obj.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)


class _BrotliStream:
    __slots__ = ("_obj",)

    def __init__(self, level: int) -> None:
        self._obj = brotli.Compressor(quality=level)

    def compress(self, chunk: bytes) -> bytes:
        out: bytes = self._obj.process(chunk) + self._obj.flush()
        return out

    def finish(self) -> bytes:
        out: bytes = self._obj.finish()
        return out


class _GzipStream:
    __slots__ = ("_obj",)

    def __init__(self, level: int) -> None:
        self._obj = zlib.compressobj(level, zlib.DEFLATED, 31)

    def compress(self, chunk: bytes) -> bytes:
        return self._obj.compress(chunk) + self._obj.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._obj.flush(zlib.Z_FINISH)


def compress_body(body: bytes, coding: str, level: int) -> bytes:
    """Compress a complete body with ``coding`` ("zstd", "br", "gzip") at ``level``.

    Stateless convenience (e.g. for a cache that compresses each variant once); the
    middleware's hot path uses ``Codecs.compress`` which reuses zstd contexts.
    """
    if coding == "zstd":
        return zstandard.ZstdCompressor(level=level).compress(body)
    if coding == "br":
        out: bytes = brotli.compress(body, quality=level)
        return out
    if coding == "gzip":
        return zlib.compress(body, level, 31)
    raise ValueError(f"unknown content coding {coding!r}. HINT: use one of {CODINGS!r}.")


def one_shot_zstd(level: int) -> zstandard.ZstdCompressor:
    """The compressor for complete bodies at ``level``: at the fast levels its match tables
    are capped at ``2**_FAST_HASH_LOG`` and ``2**_FAST_CHAIN_LOG`` entries (zstd still
    shrinks them further for small inputs, whose size it is told)."""
    if not 1 <= level <= _FAST_TABLE_MAX_LEVEL:
        return zstandard.ZstdCompressor(level=level)
    base = zstandard.ZstdCompressionParameters.from_level(level)
    params = zstandard.ZstdCompressionParameters.from_level(
        level,
        hash_log=min(base.hash_log, _FAST_HASH_LOG),
        chain_log=min(base.chain_log, _FAST_CHAIN_LOG),
    )
    return zstandard.ZstdCompressor(compression_params=params)


class Codecs:
    """Compression entry points bound to one ``CompressionConfig`` with per-thread zstd
    contexts. One instance per middleware; safe to use from the loop and worker threads."""

    __slots__ = ("_local", "_shapes", "config", "dictionary", "memo")

    def __init__(self, config: CompressionConfig) -> None:
        self.config = config
        site = config.site_dictionary
        self.dictionary = SiteDictionary.load(site) if site is not None else None
        self.memo = EncodedMemo(config.memo_bytes) if config.memo_bytes else None
        self._local = threading.local()
        self._shapes: dict[tuple[int, bytes | None, bytes | None, bytes | None], bool] = {}

    def compressible(
        self,
        status: int,
        content_type: bytes | None,
        content_encoding: bytes | None,
        cache_control: bytes | None,
    ) -> bool:
        """``compressible_response`` from raw header values, memoised per distinct response
        shape (a handful cover all traffic): a dict hit instead of parsing on every request."""
        key = (status, content_type, content_encoding, cache_control)
        answer = self._shapes.get(key)
        if answer is None:
            answer = compressible_response(
                self.config, status, media_type(content_type), content_encoding, cache_control
            )
            if len(self._shapes) >= _SHAPES_LIMIT:
                self._shapes.clear()  # odd values from a misbehaving app: stay bounded
            self._shapes[key] = answer
        return answer

    def _zstd(self) -> zstandard.ZstdCompressor:
        cctx: zstandard.ZstdCompressor | None = getattr(self._local, "zstd", None)
        if cctx is None:
            cctx = one_shot_zstd(self.config.zstd_level)
            self._local.zstd = cctx
        return cctx

    def compress(self, body: bytes, coding: str) -> bytes:
        """``body`` in ``coding``: a ``CODINGS`` member, or ``dcz`` (the site dictionary)."""
        if coding == "zstd":
            return self._zstd().compress(body)
        if coding == "dcz" and self.dictionary is not None:
            return self.dictionary.encode(body)
        return compress_body(body, coding, self.config.level(coding))

    def stream(self, coding: str) -> StreamEncoder:
        if coding == "zstd":
            return _ZstdStream(zstandard.ZstdCompressor(level=self.config.zstd_level))
        if coding == "br":
            return _BrotliStream(self.config.br_level)
        if coding == "gzip":
            return _GzipStream(self.config.gzip_level)
        raise ValueError(f"unknown content coding {coding!r}. HINT: use one of {CODINGS!r}.")

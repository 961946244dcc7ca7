"""Identical dynamic bodies are compressed once: the memo keyed by the ETag digest."""

from __future__ import annotations

from typing import Any

import pytest
import zstandard

from perf_middleware.compression.codecs import Codecs, CompressionConfig
from perf_middleware.compression.memo import EncodedMemo
from perf_middleware.middleware import PerformanceMiddleware
from tests.perf_middleware.asgi_driver import call

AE = ("accept-encoding", "zstd")
PAGE = b"<!doctype html>" + b"<p>the same page for every visitor</p>\n" * 300


class CountingCodecs(Codecs):
    """Real codecs that count the compressions they actually do."""

    __slots__ = ("calls",)

    def __init__(self, config: CompressionConfig) -> None:
        super().__init__(config)
        self.calls = 0

    def compress(self, body: bytes, coding: str) -> bytes:
        self.calls += 1
        return super().compress(body, coding)


def counted(app: Any, **config: Any) -> tuple[PerformanceMiddleware, CountingCodecs]:
    middleware = PerformanceMiddleware(app, compression=CompressionConfig(**config), metrics=None)
    codecs = CountingCodecs(middleware.pipeline.compression)  # type: ignore[arg-type]
    object.__setattr__(middleware.pipeline, "codecs", codecs)
    return middleware, codecs


def body_app(bodies: dict[str, bytes], headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = bodies[scope["path"]]
        extra = headers or []
        start_headers = [(b"content-type", b"text/html; charset=utf-8"), *extra]
        await send({"type": "http.response.start", "status": 200, "headers": start_headers})
        await send({"type": "http.response.body", "body": body})

    return app


def decoded(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


async def test_a_repeated_body_is_compressed_twice_then_served_from_the_memo() -> None:
    app, codecs = counted(body_app({"/": PAGE}))
    results = [await call(app, "/", headers=[AE]) for _ in range(5)]
    # first sighting: compressed, not kept; second: compressed and kept; then memo hits
    assert codecs.calls == 2
    assert all(decoded(r.body) == PAGE for r in results)
    assert len({r.body for r in results}) == 1
    assert {r.header("content-encoding") for r in results} == {"zstd"}
    assert {r.header("content-length") for r in results} == {str(len(results[0].body))}
    assert codecs.memo is not None
    assert codecs.memo.hits == 3


async def test_unique_bodies_are_never_stored() -> None:
    bodies = {f"/{i}": PAGE + str(i).encode() for i in range(50)}
    app, codecs = counted(body_app(bodies))
    for path in bodies:
        result = await call(app, path, headers=[AE])
        assert decoded(result.body) == bodies[path]
    assert codecs.calls == 50
    assert codecs.memo is not None
    assert len(codecs.memo) == 0


async def test_each_coding_is_remembered_separately() -> None:
    app, codecs = counted(body_app({"/": PAGE}))
    for coding in ("zstd", "br", "zstd", "br", "zstd", "br"):
        result = await call(app, "/", headers=[("accept-encoding", coding)])
        assert result.header("content-encoding") == coding
    assert codecs.calls == 4
    assert codecs.memo is not None
    assert codecs.memo.hits == 2


async def test_an_app_etag_is_not_trusted_as_a_digest() -> None:
    """Two different bodies under one app-chosen ETag must each be compressed for real."""
    bodies = {"/a": PAGE, "/b": PAGE.replace(b"every", b"other")}
    app, codecs = counted(body_app(bodies, [(b"etag", b'"v1"')]))
    for _ in range(3):
        for path, body in bodies.items():
            assert decoded((await call(app, path, headers=[AE])).body) == body
    assert codecs.calls == 6


async def test_memo_off_compresses_every_time() -> None:
    app, codecs = counted(body_app({"/": PAGE}), memo_bytes=0)
    for _ in range(4):
        await call(app, "/", headers=[AE])
    assert codecs.memo is None
    assert codecs.calls == 4


def test_memo_evicts_least_recently_used_by_encoded_bytes() -> None:
    memo = EncodedMemo(300, max_entry=200)
    for key in (b"a", b"b", b"c"):
        for _ in range(2):  # admitted on the second sighting
            memo.put(key, "zstd", key * 100)
        assert memo.get(key, "zstd") == key * 100
    assert memo.get(b"a", "zstd") is not None  # a is now the most recently used
    memo.put(b"d", "zstd", b"d" * 100)
    memo.put(b"d", "zstd", b"d" * 100)
    assert memo.get(b"b", "zstd") is None
    assert [memo.get(k, "zstd") is not None for k in (b"a", b"c", b"d")] == [True] * 3
    assert memo.bytes == 300


def test_memo_bounds_the_seen_table_and_body_size() -> None:
    memo = EncodedMemo(1000, max_seen=10)
    for i in range(25):
        memo.put(b"%d" % i, "br", b"x")
    assert len(memo._seen) <= 10
    assert memo.accepts(125)
    assert not memo.accepts(126)
    assert not memo.accepts(0)
    with pytest.raises(ValueError, match="HINT"):
        EncodedMemo(-1)


def test_config_rejects_a_negative_memo() -> None:
    with pytest.raises(ValueError, match="HINT"):
        CompressionConfig(memo_bytes=-1)

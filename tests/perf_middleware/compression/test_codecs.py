from __future__ import annotations

import threading
import zlib

import brotli
import pytest
import zstandard

from perf_middleware.compression.codecs import (
    CODINGS,
    Codecs,
    CompressionConfig,
    compress_body,
    compressible_response,
)
from tests.perf_middleware.asgi_driver import decode

BODY = b"<p>hello world, hello compression</p>\n" * 400


@pytest.mark.parametrize("coding", CODINGS)
def test_compress_body_round_trips_and_shrinks(coding: str) -> None:
    out = compress_body(BODY, coding, 3)
    assert len(out) < len(BODY) // 10
    assert decode(out, coding) == BODY


def test_compress_body_rejects_unknown_coding() -> None:
    with pytest.raises(ValueError, match="HINT"):
        compress_body(b"x", "deflate", 1)


@pytest.mark.parametrize("coding", CODINGS)
def test_codecs_compress_uses_configured_level_and_round_trips(coding: str) -> None:
    codecs = Codecs(CompressionConfig())
    assert decode(codecs.compress(BODY, coding), coding) == BODY
    assert decode(codecs.compress(BODY[:100], coding), coding) == BODY[:100]


def test_zstd_context_is_reused_per_thread() -> None:
    codecs = Codecs(CompressionConfig())
    first = codecs._zstd()
    assert codecs._zstd() is first
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(codecs._zstd()))
    thread.start()
    thread.join()
    assert other[0] is not first


@pytest.mark.parametrize("coding", CODINGS)
def test_stream_encoder_flushes_every_chunk(coding: str) -> None:
    encoder = Codecs(CompressionConfig()).stream(coding)
    if coding == "zstd":
        dec = zstandard.ZstdDecompressor().decompressobj()
        feed = dec.decompress
    elif coding == "br":
        bdec = brotli.Decompressor()
        feed = bdec.process
    else:
        zdec = zlib.decompressobj(31)
        feed = zdec.decompress
    received = b""
    for i in range(5):
        chunk = f"data: event {i}\n\n".encode()
        received += feed(encoder.compress(chunk))
        # everything sent so far is decodable right away: no buffering in the encoder
        assert received.endswith(chunk)
    received += feed(encoder.finish())
    assert received == b"".join(f"data: event {i}\n\n".encode() for i in range(5))


@pytest.mark.parametrize(
    ("media_type", "expected"),
    [
        ("text/html", True),
        ("text/event-stream", True),
        ("application/json", True),
        ("application/problem+json", True),
        ("application/javascript", True),
        ("image/svg+xml", True),
        ("application/wasm", True),
        ("image/png", False),
        ("application/octet-stream", False),
        ("video/mp4", False),
        ("", False),
    ],
)
def test_allow_list(media_type: str, expected: bool) -> None:
    assert CompressionConfig().is_compressible(media_type) is expected


def test_compressible_response_skips() -> None:
    cfg = CompressionConfig()
    assert compressible_response(cfg, 200, "text/html", None, None)
    assert compressible_response(cfg, 200, "text/html", b"identity", None)
    assert not compressible_response(cfg, 200, "text/html", b"br", None)
    assert not compressible_response(cfg, 200, "text/html", None, b"public, no-transform")
    for status in (204, 206, 304, 101):
        assert not compressible_response(cfg, status, "text/html", None, None)
    assert compressible_response(cfg, 404, "text/html", None, None)


def test_config_validation_has_hints() -> None:
    with pytest.raises(ValueError, match="HINT"):
        CompressionConfig(preference=("deflate",))
    with pytest.raises(ValueError, match=r"br_level=12.*HINT"):
        CompressionConfig(br_level=12)
    with pytest.raises(ValueError, match="HINT"):
        CompressionConfig(minimum_size=-1)


def test_levels_by_coding() -> None:
    cfg = CompressionConfig(zstd_level=5, br_level=6, gzip_level=7)
    assert [cfg.level(c) for c in CODINGS] == [5, 6, 7]


@pytest.mark.parametrize(
    ("status", "ctype", "encoding", "cache_control", "expected"),
    [
        (200, b"Text/HTML; charset=utf-8", None, None, True),
        (200, b"application/json", None, b"public, max-age=60", True),
        (200, b"application/vnd.deck+json", None, None, True),
        (200, b"image/png", None, None, False),
        (200, None, None, None, False),
        (200, b"text/css", b"br", None, False),
        (200, b"text/css", b"identity", None, True),
        (200, b"text/css", None, b"no-transform", False),
        (206, b"text/css", None, None, False),
        (304, b"text/css", None, None, False),
    ],
)
def test_codecs_compressible_memo_answers_like_the_pure_rule(
    status: int, ctype: bytes | None, encoding: bytes | None, cache_control: bytes | None,
    expected: bool,
) -> None:  # fmt: skip
    codecs = Codecs(CompressionConfig())
    media = ctype.split(b";")[0].strip().lower().decode() if ctype else ""
    assert compressible_response(codecs.config, status, media, encoding, cache_control) is expected
    for _ in range(2):  # the second call is answered from the memo
        assert codecs.compressible(status, ctype, encoding, cache_control) is expected


def test_codecs_compressible_memo_stays_bounded() -> None:
    codecs = Codecs(CompressionConfig())
    for i in range(3000):
        assert codecs.compressible(200, b"text/x-%d" % i, None, None) is True
    assert codecs.compressible(200, b"image/x-odd", None, None) is False
    assert len(codecs._shapes) <= 1024


def test_fast_levels_use_small_match_tables_for_nearly_the_same_output() -> None:
    """Level 3 with small match tables (2**14 long, 2**12 short entries): decodes, and stays
    within 1 % of level 3's size; slow levels (a cache that compresses once) keep their own
    parameters."""
    import random

    from perf_middleware.compression.codecs import one_shot_zstd

    rng = random.Random(3)
    words = ["slide", "deck", "render", "cache", "header", "stream", "the", "of", "and"]
    body = " ".join(rng.choice(words) for _ in range(20_000)).encode()
    small = one_shot_zstd(3).compress(body)
    assert zstandard.ZstdDecompressor().decompress(small) == body
    plain = zstandard.ZstdCompressor(level=3).compress(body)
    assert len(small) <= len(plain) * 1.01
    params = zstandard.get_frame_parameters(small)
    assert params.content_size == len(body)
    assert one_shot_zstd(19).compress(body) == zstandard.ZstdCompressor(level=19).compress(body)
    assert one_shot_zstd(-1).compress(body) == zstandard.ZstdCompressor(level=-1).compress(body)


def test_on_the_fly_zstd_sends_no_more_bytes_than_level_4_on_the_benchmark_bodies() -> None:
    """The benchmark's unique 50 KB page and 500 KB JSON: the on-the-fly setting is never
    larger than zstd 4 (what starlette-compress sends), so a faster setting cannot have
    bought its speed with bytes; on the JSON the small short-match table is what keeps it
    under (one of 2**14 entries comes out larger than level 4)."""
    from benchmarks.dynamic import BODIES, unique_html

    from perf_middleware.compression.codecs import one_shot_zstd

    fast = one_shot_zstd(3)
    for body in (unique_html(7), BODIES["html50k"][0], BODIES["json500k"][0]):
        out = fast.compress(body)
        assert zstandard.ZstdDecompressor().decompress(out) == body
        assert len(out) <= len(zstandard.ZstdCompressor(level=4).compress(body))

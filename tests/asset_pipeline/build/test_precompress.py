from __future__ import annotations

import gzip
import os

import brotli
import zstandard

from asset_pipeline.build.precompress import encode, is_compressible, precompress
from asset_pipeline.config import PrecompressConfig

TEXT = b"".join(b".rule-%d { color: #%06x; margin: 0 auto; }\n" % (i, i * 997) for i in range(400))


def test_default_writes_brotli_and_gzip_but_no_zstd() -> None:
    """Every browser that sends ``zstd`` also sends ``br``, and brotli 11 is the smaller of
    the two, so a ``.zst`` sibling would never be served to a browser (docs/benchmarks.md)."""
    out = precompress(TEXT, PrecompressConfig())
    assert set(out) == {"br", "gzip"}
    assert len(out["br"]) < len(encode("zstd", TEXT, PrecompressConfig()))


def test_all_three_codings_round_trip() -> None:
    out = precompress(TEXT, PrecompressConfig(zstd=True))
    assert set(out) == {"br", "zstd", "gzip"}
    assert brotli.decompress(out["br"]) == TEXT
    assert zstandard.ZstdDecompressor().decompress(out["zstd"]) == TEXT
    assert gzip.decompress(out["gzip"]) == TEXT
    assert all(len(v) <= len(TEXT) * 0.95 for v in out.values())


def test_incompressible_data_gets_no_siblings() -> None:
    noise = os.urandom(4096)
    assert precompress(noise, PrecompressConfig()) == {}
    assert precompress(b"hi", PrecompressConfig()) == {}


def test_switches_and_threshold() -> None:
    only_zstd = PrecompressConfig(br=False, zstd=True, gzip=False)
    assert set(precompress(TEXT, only_zstd)) == {"zstd"}
    assert precompress(TEXT, PrecompressConfig(min_saving=0.999)) == {}


def test_output_is_deterministic() -> None:
    assert precompress(TEXT, PrecompressConfig()) == precompress(TEXT, PrecompressConfig())


def test_compressible_types() -> None:
    assert is_compressible("text/css; charset=utf-8")
    assert is_compressible("image/svg+xml; charset=utf-8")
    assert is_compressible("font/ttf")
    assert not is_compressible("image/png")
    assert not is_compressible("font/woff2")
    assert not is_compressible("application/zip")


def test_source_maps_use_fast_settings() -> None:
    settings = PrecompressConfig()
    fast = settings.for_file("js/app.js.map")
    assert (fast.brotli_quality, fast.zstd_level, fast.gzip_level) == (5, 9, 6)
    assert settings.for_file("js/app.js") is settings
    assert PrecompressConfig(fast_globs=()).for_file("a.map").brotli_quality == 11

"""The stored byte format: round trip, compression at rest, corrupt input."""

from __future__ import annotations

import pytest
import zstandard

from perf_middleware.cache.entry import CacheEntry, EntryFormatError, dump_entry, load_entry

TEXT = b"<p>hello cache</p>\n" * 400


def test_round_trip_keeps_every_field():
    entry = CacheEntry(
        primary="https://h/p",
        secondary="s",
        vary=("accept-language",),
        status=404,
        headers=((b"x-a", b"\xe9"),),
        bodies={"identity": b"tiny"},
        etag='W/"e"',
        last_modified=123,
        freshness_lifetime=5.5,
        stale_if_error=9,
        must_revalidate=True,
        tags=("a", "b"),
    )
    back = load_entry(dump_entry(entry))
    for name in (
        "primary",
        "secondary",
        "vary",
        "status",
        "headers",
        "etag",
        "last_modified",
        "freshness_lifetime",
        "stale_if_error",
        "must_revalidate",
        "tags",
    ):
        assert getattr(back, name) == getattr(entry, name), name
    assert back.body() == b"tiny"


def test_identity_dropped_when_zstd_copy_exists_and_decoded_lazily():
    zst = zstandard.ZstdCompressor(level=19).compress(TEXT)
    entry = CacheEntry(primary="k", bodies={"identity": TEXT, "zstd": zst})
    data = dump_entry(entry)
    assert len(data) < len(TEXT) // 4
    back = load_entry(data)
    assert back.codings == ("zstd",)
    assert back.body("identity") == TEXT
    assert back.body("zstd") == zst


def test_lone_identity_compressed_at_rest_only_when_it_saves_space():
    back = load_entry(dump_entry(CacheEntry(primary="k", bodies={"identity": TEXT})))
    assert back.body() == TEXT
    assert len(dump_entry(CacheEntry(primary="k", bodies={"identity": TEXT}))) < len(TEXT) // 4
    noise = bytes(range(256)) * 8
    import os

    noise = os.urandom(4096)
    assert len(dump_entry(CacheEntry(primary="k", bodies={"identity": noise}))) > 4096


@pytest.mark.parametrize(
    "blob", [b"", b"XXXX\x00\x00\x00\x02{}", b"PMC1\x00\x00\x00\x02{}", b"PMC1\x00\x00\x00\x01{"]
)
def test_foreign_bytes_are_a_format_error(blob):
    with pytest.raises(EntryFormatError):
        load_entry(blob)

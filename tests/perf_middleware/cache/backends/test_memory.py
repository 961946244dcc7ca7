"""MemoryBackend specifics: byte-bounded LRU, expiry, eviction counting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from perf_middleware.cache.backends.memory import INDEX_OVERHEAD, MemoryBackend
from tests.perf_middleware.cache.backends.test_backends import make_entry


async def test_lru_evicts_least_recently_used_by_bytes(clock):
    one = make_entry("https://h/a", body=b"x" * 1000).size + INDEX_OVERHEAD
    store = MemoryBackend(max_bytes=3 * one + 100, max_entry_bytes=2 * one, clock=clock)
    for name in "abc":
        assert await store.set(make_entry(f"https://h/{name}", body=b"x" * 1000), ttl=100)
    await store.get("https://h/a", "")  # a becomes most recent
    await store.set(make_entry("https://h/d", body=b"x" * 1000), ttl=100)
    assert store.stats.evictions == 1
    assert (await store.get("https://h/b", "")).entry is None
    assert (await store.get("https://h/a", "")).entry is not None
    assert store.stats.bytes <= store.max_bytes


async def test_entry_larger_than_limit_is_refused(clock):
    store = MemoryBackend(max_bytes=10_000, max_entry_bytes=1000, clock=clock)
    assert await store.set(make_entry(body=b"x" * 5000), ttl=100) is False
    assert store.stats.entries == 0


async def test_expired_entry_is_a_miss(clock):
    store = MemoryBackend(clock=clock)
    await store.set(make_entry(), ttl=10)
    clock.advance(11)
    assert (await store.get(make_entry().primary, "")).entry is None
    assert store.stats.bytes == 0


async def test_tiny_entries_are_charged_their_object_overhead(clock):
    # a 2-byte body still costs a process more than a kilobyte of objects and index records
    store = MemoryBackend(max_bytes=2**20, clock=clock)
    for i in range(2000):
        await store.set(make_entry(f"https://h/{i}", body=b"ok"), ttl=100)
    assert store.stats.bytes <= store.max_bytes
    assert store.stats.entries < 2**20 // 1024


def test_bad_size_is_a_clear_error():
    with pytest.raises(ValueError, match="HINT"):
        MemoryBackend(max_bytes=0)


def test_flood_of_unique_urls_keeps_rss_bounded():
    # the bound: 500k unique cacheable URLs through the full cache stage against
    # MemoryBackend(max_bytes=16 MiB), in a child process whose own RSS is read
    max_bytes = 16 * 2**20
    child = subprocess.run(
        [sys.executable, "-m", "tests.perf_middleware.cache.rss_flood", "500000", str(max_bytes)],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[4],
        timeout=280,
    )
    result = json.loads(child.stdout)
    before, after_50k, end = result["rss"][0], result["rss"][1], result["rss"][-1]
    mib = [round(rss / 2**20, 1) for rss in result["rss"]]  # before, after each 50k
    assert result["evictions"] > 400_000  # the store was full and churning
    assert end <= 2 * after_50k, mib
    # nothing grows per URL once the cache is full ...
    assert end - after_50k <= max_bytes // 4, mib
    # ... and the cache's real footprint is about its budget, tiny entries included
    assert end - before <= 1.5 * max_bytes, mib

"""MemoryBackend specifics: byte-bounded LRU, expiry, eviction counting."""

from __future__ import annotations

import pytest

from perf_middleware.cache.backends.memory import MemoryBackend
from tests.perf_middleware.cache.test_backends import make_entry


async def test_lru_evicts_least_recently_used_by_bytes(clock):
    store = MemoryBackend(max_bytes=3 * 1400, max_entry_bytes=2000, clock=clock)
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


def test_bad_size_is_a_clear_error():
    with pytest.raises(ValueError, match="HINT"):
        MemoryBackend(max_bytes=0)

"""RedisBackend specifics against a real redis-server: encryption at rest, fail-open, breaker."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from redis.asyncio import Redis

from perf_middleware import cached
from perf_middleware.cache.backends.redis import CacheBackendError, RedisBackend
from tests.perf_middleware.cache.test_backends import URL, make_entry
from tests.support.servers import free_port

SECRET = b"top-secret-page-body" * 10


async def test_encrypted_entries_are_opaque_in_redis_and_round_trip(redis_url):
    key = os.urandom(32)
    store = RedisBackend(redis_url, namespace="enc", encryption_key=key)
    await store.set(make_entry(body=SECRET), ttl=100)
    raw = Redis.from_url(redis_url)
    blobs = [await raw.get(k) async for k in raw.scan_iter(match="enc:e:*")]
    await raw.aclose()
    assert len(blobs) == 1
    assert SECRET[:20] not in blobs[0]
    assert (await store.get(URL, "")).entry.body() == SECRET
    # another key cannot read it: a miss, never garbage or an exception
    other = RedisBackend(redis_url, namespace="enc", encryption_key=os.urandom(32))
    assert (await other.get(URL, "")).entry is None
    assert other.stats.errors == 1
    await store.close()
    await other.close()


def test_bad_encryption_key_is_a_clear_error():
    with pytest.raises(ValueError, match="HINT"):
        RedisBackend("redis://127.0.0.1:1/0", encryption_key="too-short")


async def test_base64_key_accepted(redis_url):
    import base64

    store = RedisBackend(redis_url, encryption_key=base64.b64encode(os.urandom(32)).decode())
    assert await store.set(make_entry(), ttl=10)
    assert (await store.get(URL, "")).entry is not None
    await store.close()


async def test_dead_redis_fails_open_and_breaker_stops_trying():
    store = RedisBackend(
        f"redis://127.0.0.1:{free_port()}/0", breaker_threshold=2, breaker_retry_after=60
    )
    for _ in range(5):
        assert (await store.get(URL, "")).entry is None
        assert await store.set(make_entry(), ttl=10) is False
    # only the calls before the breaker opened reached the socket
    assert store.stats.errors == 2
    assert store.breaker.is_open
    assert (await store.ping()).ok is False
    with pytest.raises(CacheBackendError, match="HINT"):
        await store.invalidate_tags(["x"])
    await store.close()


async def test_namespaces_are_isolated(redis_url):
    a = RedisBackend(redis_url, namespace="a")
    b = RedisBackend(redis_url, namespace="b")
    await a.set(make_entry(), ttl=10)
    assert (await b.get(URL, "")).entry is None
    assert await b.clear() == 0
    assert (await a.get(URL, "")).entry is not None
    await a.close()
    await b.close()


async def test_tag_invalidation_racing_with_stores_leaves_no_orphans(redis_url):
    # the reproduction: invalidations beside two tagged readers, then one quiet
    # edit + invalidation must reach every entry stored during the race
    store = RedisBackend(redis_url, namespace="race")
    deck = {"title": "old"}

    @cached(ttl=600, backend=store, tags=["deck"])
    async def home() -> str:
        await asyncio.sleep(0)
        return deck["title"]

    @cached(ttl=600, backend=store, tags=["deck"])
    async def deck_list() -> str:
        await asyncio.sleep(0)
        return deck["title"]

    async def read(fn, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await fn()

    stale = 0
    for trial in range(4):
        deck["title"] = f"old-{trial}"
        stop = asyncio.Event()
        readers = [asyncio.create_task(read(fn, stop)) for fn in (home, deck_list)]
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            await store.invalidate_tags(["deck"])
        stop.set()
        await asyncio.gather(*readers)
        deck["title"] = f"new-{trial}"
        await store.invalidate_tags(["deck"])
        stale += sum([await home() != deck["title"], await deck_list() != deck["title"]])
    await store.close()
    assert stale == 0, f"{stale} of 8 reads served a value invalidated before them"

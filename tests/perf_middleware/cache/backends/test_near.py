"""The near cache: local copies of Redis entries kept coherent by CLIENT TRACKING.

The pure part (``NearCache``) runs on injected clocks; the rest against a real redis-server
and a real Redis Cluster.  The two-process bound is in ``test_near_processes.py``."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from perf_middleware.cache.backends.near import NearCache
from perf_middleware.cache.backends.redis import RedisBackend
from perf_middleware.cache.backends.redis_admin import key_hash
from tests.perf_middleware.cache.backends.test_backends import URL, make_entry
from tests.perf_middleware.cache.conftest import FakeClock
from tests.perf_middleware.cache.support import Origin, client, make, status_of

LAG = 0.4


def stored(body: bytes = b"hello", tags=(), expires_at: float = 2e9, primary: str = URL):
    entry = make_entry(primary, tags=tags, body=body)
    entry.expires_at = expires_at
    return entry


def near_cache(max_bytes: int = 2**20) -> tuple[NearCache, FakeClock]:
    ticks = FakeClock(100.0)
    near = NearCache("p:", max_bytes=max_bytes, max_lag=LAG, clock=FakeClock(), monotonic=ticks)
    near.confirm(100.0)
    return near, ticks


def test_copies_are_served_only_while_tracking_was_confirmed_within_the_bound():
    near, ticks = near_cache()
    assert near.put("k", stored(), near.mark())
    assert near.get("k") is not None
    ticks.advance(LAG - 0.01)
    assert near.get("k") is not None
    ticks.advance(0.02)  # the last confirmation is now older than the bound
    assert near.get("k") is None
    assert not near.entries  # and the copies are gone, not just hidden
    near.confirm(ticks.now)
    assert near.get("k") is None
    assert near.hits == 2


def test_announcements_drop_entries_by_key_and_by_tag_version_and_on_flush():
    near, _ = near_cache()
    for kh, tags in (("a", ["deck"]), ("b", ["deck", "x"]), ("c", ["x"]), ("d", [])):
        assert near.put(kh, stored(tags=tags), near.mark())
    near.announce([b"p:e:d", b"other:e:c"])  # another namespace's key is not ours
    assert near.get("d") is None
    assert near.get("c") is not None
    near.announce([b"p:v:deck"])  # a tag's version moved: every entry recorded under it
    assert [near.get(k) is None for k in "abc"] == [True, True, False]
    assert near.by_tag == {"x": {"c"}}
    near.announce(None)  # FLUSHALL / FLUSHDB
    assert near.get("c") is None


def test_announcements_of_every_bucket_are_applied_and_others_ignored():
    ticks = FakeClock(100.0)
    near = NearCache(("{p:0:3}:", "{p:1:9}:"), max_bytes=2**20, max_lag=LAG, monotonic=ticks)
    near.clock = FakeClock()
    near.confirm(100.0)
    for kh, tags in (("a", ["deck"]), ("b", []), ("c", [])):
        assert near.put(kh, stored(tags=tags), near.mark())
    # another namespace whose name starts like this one, and a key without a hash tag
    near.announce([b"{p:0:3:1}:e:b", b"{p:2:0}:e:b", b"p:e:b"])
    assert near.get("b") is not None
    near.announce([b"{p:1:9}:e:b", b"{p:0:3}:v:deck"])  # keys of two buckets
    assert [near.get(k) is None for k in "abc"] == [True, True, False]


def test_several_prefixes_must_each_end_a_hash_tag():
    with pytest.raises(ValueError, match="end with"):
        NearCache(("a:", "b:"), max_bytes=2**20, max_lag=LAG)


def test_a_fetch_racing_with_an_announcement_is_not_installed():
    near, _ = near_cache()
    mark = near.mark()  # the fetch starts...
    near.announce([b"p:e:k"])  # ...a write lands and is announced before its reply is used
    assert not near.put("k", stored(b"old"), mark)
    tag_mark = near.mark()
    near.announce([b"p:v:deck"])
    assert not near.put("t", stored(tags=["deck"]), tag_mark)
    assert near.put("other", stored(), tag_mark)  # unrelated announcements do not matter
    cleared_mark = near.mark()
    near.lost()
    near.confirm(100.0)
    assert not near.put("other", stored(), cleared_mark)
    assert near.put("k", stored(b"new"), near.mark())
    assert near.get("k").body() == b"new"


def test_writes_by_this_process_drop_their_copy_at_once():
    near, _ = near_cache()
    mark = near.mark()
    near.drop("k")
    assert not near.put("k", stored(), mark)  # a fetch begun before the write
    assert near.put("k", stored(), near.mark())
    near.drop("k")
    assert near.get("k") is None


def test_the_copies_are_bounded_and_expire_with_their_entry():
    one = stored().size + 200
    near, _ = near_cache(max_bytes=one * 8)
    for i in range(12):
        assert near.put(str(i), stored(), near.mark())
    assert near.size <= near.max_bytes
    assert len(near.entries) == 8
    assert near.get("0") is None  # least recently used went first
    assert near.get("11") is not None
    assert not near.put("big", stored(body=b"x" * one * 2), near.mark())
    assert near.put("old", stored(expires_at=near.clock() - 1), near.mark())
    assert near.get("old") is None
    assert "old" not in near.entries


def test_too_many_racing_announcements_fall_back_to_skipping_every_racing_fetch():
    near, _ = near_cache()
    mark = near.mark()
    near.announce([f"p:e:{i}".encode() for i in range(5000)])
    assert len(near.touched) < 5000
    assert not near.put("never-announced", stored(), mark)


def test_a_non_positive_bound_is_a_clear_error():
    with pytest.raises(ValueError, match="HINT"):
        RedisBackend("redis://127.0.0.1:1/0", near_cache_max_lag=0)


async def warm(store: RedisBackend, primary: str = URL) -> bytes:
    """Read until the entry is served from the near cache; its body."""
    assert store.near is not None
    for _ in range(200):
        before = store.near.hits
        found = (await store.get(primary, "")).entry
        if found is not None and store.near.hits > before:
            return found.body()
        await asyncio.sleep(0.02)
    raise AssertionError("the near cache never served the entry")


async def evalsha_calls(raw: Redis) -> int:
    stats = await raw.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_near_hits_do_not_reach_redis(redis_url):
    store = RedisBackend(redis_url, namespace="nr", near_cache_max_lag=LAG)
    raw = Redis.from_url(redis_url)
    assert await store.set(stored(), ttl=60)
    assert await warm(store) == b"hello"
    before = await evalsha_calls(raw)
    for _ in range(50):
        assert (await store.get(URL, "")).entry is not None
    assert await evalsha_calls(raw) == before
    await raw.aclose()
    await store.close()


async def test_every_kind_of_change_by_anyone_is_seen_within_the_bound(redis_url):
    reader = RedisBackend(redis_url, namespace="nc", near_cache_max_lag=LAG)
    writer = RedisBackend(redis_url, namespace="nc", near_cache_bytes=0)
    raw = Redis.from_url(redis_url)
    tagged = stored(tags=["deck"])

    async def after_bound() -> bytes | None:
        await asyncio.sleep(LAG)  # the bound, measured from the write's completion
        found = (await reader.get(URL, "")).entry
        return None if found is None else found.body()

    assert await writer.set(tagged, ttl=60)
    assert await warm(reader) == b"hello"
    assert await writer.set(stored(b"v2", tags=["deck"]), ttl=60)  # a new version
    assert await after_bound() == b"v2"
    await warm(reader)
    await writer.invalidate_tags(["deck"])  # the tag's version moves
    assert await after_bound() is None
    assert await writer.set(stored(b"v3"), ttl=60)
    await warm(reader)
    await writer.invalidate_url(URL)
    assert await after_bound() is None
    assert await writer.set(stored(b"v4"), ttl=60)
    await warm(reader)
    await raw.delete(*[k async for k in raw.scan_iter(match="nc:e:*")])  # out of band
    assert await after_bound() is None
    assert await writer.set(stored(b"v5"), ttl=60)
    await warm(reader)
    await raw.flushall()
    assert await after_bound() is None
    await raw.aclose()
    await reader.close()
    await writer.close()


async def test_this_process_reads_its_own_writes_at_once(redis_url):
    store = RedisBackend(redis_url, namespace="own", near_cache_max_lag=LAG)
    assert await store.set(stored(tags=["deck"]), ttl=60)
    await warm(store)
    assert await store.set(stored(b"v2", tags=["deck"]), ttl=60)
    assert (await store.get(URL, "")).entry.body() == b"v2"
    await warm(store)
    await store.invalidate_tags(["deck"])
    assert (await store.get(URL, "")).entry is None
    await store.close()


async def test_a_lost_tracking_connection_empties_the_near_cache_until_it_is_back(redis_url):
    store = RedisBackend(redis_url, namespace="lost", near_cache_max_lag=LAG)
    raw = Redis.from_url(redis_url)
    assert await store.set(stored(), ttl=60)
    await warm(store)
    assert store.tracker is not None
    assert store.tracker.sessions == 1
    await raw.client_kill_filter(_type="pubsub")  # the tracking connection is subscribed
    await asyncio.sleep(0.05)
    assert not store.near.entries  # dropped the moment the connection broke
    hits = store.near.hits
    assert (await store.get(URL, "")).entry is not None  # from Redis meanwhile
    assert store.near.hits == hits
    assert await warm(store) == b"hello"  # tracking set up again, copies refilled
    assert store.tracker.sessions == 2
    await raw.aclose()
    await store.close()


async def test_redis_going_away_stops_the_near_cache_within_the_bound(private_redis):
    store = RedisBackend(private_redis.url, namespace="gone", near_cache_max_lag=LAG)
    assert await store.set(stored(), ttl=60)
    await warm(store)
    private_redis.stop()
    stopped = time.monotonic()
    await asyncio.sleep(LAG)
    assert (await store.get(URL, "")).entry is None  # fail open: the app answers
    assert time.monotonic() - stopped < 5
    assert not store.near.entries
    await store.close()


def one_url_per_master(store: RedisBackend, cluster) -> dict[int, str]:
    """A primary key whose bucket lives on each master of ``cluster``."""
    found: dict[int, str] = {}
    for i in range(1000):
        url = f"https://example.test/p/{i}"
        port = cluster.port_for_key(store.bucket(key_hash(url)))
        found.setdefault(port, url)
        if len(found) == len(cluster.processes):
            return found
    raise AssertionError(f"buckets on {sorted(found)} only")


async def test_the_near_cache_on_a_cluster_tracks_every_master(private_redis_cluster):
    cluster = private_redis_cluster
    reader = RedisBackend(
        cluster.url, namespace="nearc", near_cache_max_lag=LAG, breaker_retry_after=0.2
    )
    writer = RedisBackend(
        cluster.url, namespace="nearc", near_cache_bytes=0, breaker_retry_after=0.05
    )
    urls = one_url_per_master(reader, cluster)
    assert len(urls) == 3

    async def after_bound(url: str) -> bytes | None:
        found = (await reader.get(url, "")).entry
        return None if found is None else found.body()

    async def store_and_warm(body: bytes) -> None:
        for url in urls.values():
            assert await writer.set(stored(body, tags=["deck"], primary=url), ttl=60)
        for url in urls.values():
            assert await warm(reader, url) == body

    await store_and_warm(b"v1")
    assert reader.tracker is not None
    assert reader.tracker.connected == 3  # one tracking connection per master
    for url in urls.values():  # a new version written by another client, on each master
        assert await writer.set(stored(b"v2", tags=["deck"], primary=url), ttl=60)
        await asyncio.sleep(LAG)  # the bound, measured from the write's completion
        assert await after_bound(url) == b"v2"
    for url in urls.values():
        await warm(reader, url)
    await writer.invalidate_tags(["deck"])  # every bucket's version of the tag moves
    await asyncio.sleep(LAG)
    assert [await after_bound(url) for url in urls.values()] == [None] * 3

    await store_and_warm(b"v3")
    killed = next(iter(urls))
    cluster.kill(killed)
    await asyncio.sleep(LAG)
    assert not reader.near.entries  # one master gone: no copy of any master is served
    others = [url for port, url in urls.items() if port != killed]
    hits = reader.near.hits
    assert [await after_bound(url) for url in others] == [b"v3", b"v3"]  # from Redis
    assert reader.near.hits == hits
    for url in others:  # changed while the near cache cannot hear the dead master
        assert await writer.set(stored(b"v4", primary=url), ttl=60)
    await asyncio.to_thread(cluster.restart, killed)
    assert await after_bound(urls[killed]) is None  # the restarted master came back empty
    for url in urls.values():
        # the first command on a connection to the restarted master fails (fail-open)
        for _ in range(100):
            if await writer.set(stored(b"v5", primary=url), ttl=60):
                break
            await asyncio.sleep(0.05)
        assert await warm(reader, url) == b"v5"  # nothing stale once tracking is back
    assert reader.tracker.connected == 3
    await reader.close()
    await writer.close()


async def test_peek_answers_near_hits_without_a_coroutine(redis_url):
    store = RedisBackend(redis_url, namespace="peek", near_cache_max_lag=LAG)
    plain = RedisBackend(redis_url, namespace="peek", near_cache_bytes=0)
    assert await store.set(stored(), ttl=60)
    assert store.peek(URL, "") is None  # nothing copied yet: the stage then calls get()
    await warm(store)
    hits = store.stats.hits
    assert store.peek(URL, "").body() == b"hello"
    assert store.stats.hits == hits + 1
    assert plain.peek(URL, "") is None
    await store.close()
    await plain.close()


async def test_the_cache_stage_serves_near_hits(redis_url):
    origin = Origin()
    origin.route("/deck", b'{"deck": 1}')
    store = RedisBackend(redis_url, namespace="stage", near_cache_max_lag=LAG)
    app = make(origin, store, time.time)
    async with client(app) as c:
        assert "stored" in status_of(await c.get("/deck"))
        for _ in range(200):
            r = await c.get("/deck")
            if store.near is not None and store.near.hits >= 3:
                break
            await asyncio.sleep(0.02)
        assert "hit" in status_of(r)
        assert r.content == b'{"deck": 1}'
    assert store.near.hits >= 3
    assert origin.calls == 1
    await app.cache_stage.drain()
    await store.close()


def move_slot(cluster, slot: int, source: int, target: int) -> None:
    """Reshard ``slot`` from master ``source`` to master ``target`` (keys migrated), as
    ``redis-cli --cluster reshard`` does."""
    ids = {port: cluster.cli(port, "CLUSTER", "MYID").strip() for port in (source, target)}
    cluster.cli(target, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", ids[source])
    cluster.cli(source, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", ids[target])
    keys = cluster.cli(source, "CLUSTER", "GETKEYSINSLOT", str(slot), "1000").split()
    if keys:
        migrate = ["MIGRATE", "127.0.0.1", str(target), "", "0", "5000", "KEYS", *keys]
        cluster.cli(source, *migrate)
    for port in cluster.processes:
        cluster.cli(port, "CLUSTER", "SETSLOT", str(slot), "NODE", ids[target])


async def test_a_bucket_moved_to_another_master_rebuilds_the_tracking(private_redis_cluster):
    cluster = private_redis_cluster
    reader = RedisBackend(cluster.url, namespace="moved", near_cache_max_lag=LAG)
    writer = RedisBackend(cluster.url, namespace="moved", near_cache_bytes=0)
    bucket = reader.bucket(key_hash(URL))
    source = cluster.port_for_key(bucket)
    target = next(port for port in cluster.processes if port != source)
    assert await writer.set(stored(b"v1"), ttl=60)
    assert await warm(reader) == b"v1"
    assert reader.tracker is not None
    sessions = reader.tracker.sessions
    await asyncio.to_thread(move_slot, cluster, key_slot(bucket.encode()), source, target)
    assert cluster.port_for_key(bucket) == target
    # the writer follows the MOVED reply; the reader's copy went with the migrated key
    assert await writer.set(stored(b"v2"), ttl=60)
    await asyncio.sleep(LAG)
    assert (await reader.get(URL, "")).entry.body() == b"v2"  # its client follows MOVED too
    assert await writer.set(stored(b"v3"), ttl=60)  # on the new master
    await asyncio.sleep(LAG)
    assert (await reader.get(URL, "")).entry.body() == b"v3"
    assert await warm(reader) == b"v3"
    assert reader.tracker.sessions >= sessions + 3  # set up again for the new layout
    assert await writer.set(stored(b"v4"), ttl=60)  # and the new master is tracked
    await asyncio.sleep(LAG)
    assert (await reader.get(URL, "")).entry.body() == b"v4"
    await reader.close()
    await writer.close()

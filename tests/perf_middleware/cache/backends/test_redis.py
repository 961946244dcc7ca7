"""RedisBackend specifics against a real redis-server: encryption at rest, fail-open, breaker."""

from __future__ import annotations

import asyncio
import os
import re
import time

import pytest
from redis.asyncio import Redis

from perf_middleware import cached
from perf_middleware.cache.backends.redis import CacheBackendError, RedisBackend
from perf_middleware.cache.backends.redis_admin import SCRIPT_BATCH, key_hash
from tests.perf_middleware.cache.backends.test_backends import URL, _fill, make_entry
from tests.support.servers import RedisServer, free_port

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


async def test_tag_invalidation_survives_eviction_of_the_tag_index(tmp_path):
    # Redis under memory pressure with allkeys-lru evicts the tag set of a hot entry (the
    # entry is read all the time, the set never); invalidating the tag must still work.
    # LRU idle times tick in seconds, so the phases are a second apart: the tag set is
    # older than the flood, and the hot entry is read last.
    server = RedisServer(tmp_path, ("--maxmemory-policy", "allkeys-lru"))
    server.start()
    store = RedisBackend(server.url, namespace="ev")
    raw = Redis.from_url(server.url)
    try:
        hot = "https://example.test/decks"
        assert await store.set(make_entry(hot, tags=["deck"]), ttl=600)
        await asyncio.sleep(1.1)
        await _flood(store, 0, 1500)
        await asyncio.sleep(1.1)
        assert (await store.get(hot, "")).entry is not None
        used = int((await raw.info("memory"))["used_memory"])
        await raw.config_set("maxmemory", used - 2**20)
        flooded = 1500
        while await raw.exists("ev:t:deck") and flooded < 20_000:
            await _flood(store, flooded, 50)
            flooded += 50
            assert (await store.get(hot, "")).entry is not None, "the hot entry was evicted"
        assert not await raw.exists("ev:t:deck"), "the flood never evicted the tag set"
        await store.invalidate_tags(["deck"])
        assert (await store.get(hot, "")).entry is None
    finally:
        await raw.aclose()
        await store.close()
        server.stop()


async def _flood(store: RedisBackend, start: int, count: int) -> None:
    for first in range(start, start + count, 50):
        await asyncio.gather(
            *(
                store.set(make_entry(f"https://example.test/p/{i}", body=b"x" * 2000), 600)
                for i in range(first, min(first + 50, start + count))
            )
        )


@pytest.mark.parametrize("server", ["redis_url", "redis_cluster_url"], ids=["redis", "cluster"])
async def test_a_missing_tag_version_means_the_entry_is_not_served(request, server):
    # an evicted (or expired) version key must read as "invalidated", never as "valid"
    store = RedisBackend(request.getfixturevalue(server), namespace="tv")
    await store.set(make_entry(tags=["deck", "user:1"]), ttl=100)
    assert (await store.get(URL, "")).entry is not None
    # the version kept in the entry's bucket (the only one outside a cluster)
    version = f"{store.bucket(key_hash(URL))}v:user:1"
    assert await store.redis.delete(version) == 1
    assert (await store.get(URL, "")).entry is None
    # stored again, the entry records a fresh version and is served
    await store.set(make_entry(tags=["deck", "user:1"]), ttl=100)
    assert (await store.get(URL, "")).entry is not None
    await store.close()


async def test_tagged_entries_round_trip_encrypted(redis_url):
    store = RedisBackend(redis_url, namespace="enc2", encryption_key=os.urandom(32))
    await store.set(make_entry(body=SECRET, tags=["deck"]), ttl=100)
    assert (await store.get(URL, "")).entry.body() == SECRET
    assert len(await store.entry_info(URL)) == 1
    assert await store.invalidate_tags(["deck"]) == 1
    assert (await store.get(URL, "")).entry is None
    await store.close()


async def test_an_eviction_policy_that_can_drop_indexes_is_reported(tmp_path, caplog):
    server = RedisServer(tmp_path, ("--maxmemory-policy", "allkeys-lru"))
    server.start()
    store = RedisBackend(server.url, namespace="pol")
    try:
        with caplog.at_level("WARNING", logger="perf_middleware.cache"):
            await store.set(make_entry(), ttl=10)
            await store.set(make_entry(), ttl=10)
        warnings = [r for r in caplog.records if "maxmemory-policy=allkeys-lru" in r.message]
        assert len(warnings) == 1
        assert "HINT" in warnings[0].message
    finally:
        await store.close()
        server.stop()


async def test_decoded_memo_charges_object_overhead_of_tiny_entries(redis_url):
    store = RedisBackend(redis_url, namespace="memo", decoded_cache_bytes=64 * 1024)
    for i in range(500):
        await store.set(make_entry(f"{URL}/{i}", body=b"ok"), ttl=100)
        assert (await store.get(f"{URL}/{i}", "")).entry is not None
    # each decoded entry holds objects worth more than a kilobyte besides its few bytes
    assert 0 < len(store._decoded) <= store.decoded_cache_bytes // 1024
    await store.close()


class Monitor:
    """``redis-cli MONITOR`` on a real server: every command it runs, the ones a Lua script
    calls included (marked ``[db lua]``), in execution order."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.lines: list[bytes] = []

    async def __aenter__(self) -> Monitor:
        self.proc = await asyncio.create_subprocess_exec(
            "redis-cli", "-p", str(self.port), "MONITOR", stdout=asyncio.subprocess.PIPE
        )
        assert self.proc.stdout is not None
        assert (await self.proc.stdout.readline()).strip() == b"OK"
        return self

    async def __aexit__(self, *exc: object) -> None:
        raw = Redis(port=self.port)
        await raw.echo("monitor-end")
        await raw.aclose()
        assert self.proc.stdout is not None
        while b'"monitor-end"' not in (line := await self.proc.stdout.readline()):
            self.lines.append(line)
        self.proc.terminate()
        await self.proc.wait()

    def script_runs(self) -> list[int]:
        """Commands per script call: a script is atomic, so its commands form one run of
        consecutive ``lua`` lines."""
        runs, current = [], 0
        for line in self.lines:
            if re.search(rb"\[\d+ lua\]", line):
                current += 1
            elif current:
                runs.append(current)
                current = 0
        return runs

    def widest_command(self) -> int:
        """The most arguments any command sent by a client carried."""
        return max(line.count(b'" "') for line in self.lines if b" lua]" not in line)


# Redis commands one dropped entry costs at most inside a script (entry, index record, tag
# set, variants set, primary record, path and expiry indexes), plus the batch's own few
PER_ENTRY, PER_CALL = 10, 12


class Monitors:
    """A :class:`Monitor` on each of several nodes (a cluster's masters)."""

    def __init__(self, ports: list[int]) -> None:
        self.monitors = [Monitor(port) for port in ports]

    async def __aenter__(self) -> Monitors:
        for monitor in self.monitors:
            await monitor.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for monitor in self.monitors:
            await monitor.__aexit__(*exc)

    def script_runs(self) -> list[int]:
        return [run for monitor in self.monitors for run in monitor.script_runs()]

    def widest_command(self) -> int:
        return max(monitor.widest_command() for monitor in self.monitors if monitor.lines)

    def busy_nodes(self) -> int:
        return sum(bool(monitor.script_runs()) for monitor in self.monitors)


# Redis commands one dropped entry costs at most inside a script (entry, index record, tag
# set, variants set, primary record, path and expiry indexes), plus the batch's own few
PER_ENTRY, PER_CALL = 10, 12


def _url_and_ports(request: pytest.FixtureRequest, server: str) -> tuple[str, list[int]]:
    """A private node's URL and port, or the cluster's URL and the ports of its masters."""
    if server == "redis":
        node = request.getfixturevalue("private_redis")
        return node.url, [node.port]
    url = request.getfixturevalue("redis_cluster_url")
    return url, list(request.getfixturevalue("redis_cluster_server").processes)


@pytest.mark.parametrize("server", ["redis", "cluster"])
@pytest.mark.parametrize(
    "operation",
    [("invalidate_tags", ["all"]), ("invalidate_pattern", "/*/*.json"), ("clear",)],
    ids=["tags", "pattern", "clear"],
)
async def test_bulk_operations_run_as_bounded_commands(request, server, operation):
    """Bulk invalidation of thousands of entries is a sequence of short commands: no script
    call drops more than SCRIPT_BATCH entries, no command names more than a page of keys,
    so none runs into the socket timeout on a loaded machine or stalls other clients.  In a
    cluster the namespace's buckets are on every master, and each bucket is drained so."""
    count = 25 * SCRIPT_BATCH
    url, ports = _url_and_ports(request, server)
    store = RedisBackend(url, namespace="bulk", near_cache_bytes=0)
    await _fill(store, count, tags=["all"])
    name, *args = operation
    async with Monitors(ports) as monitor:
        assert await getattr(store, name)(*args) == count
    runs = monitor.script_runs()
    if name != "clear":
        assert len(runs) >= count // SCRIPT_BATCH
        assert monitor.busy_nodes() == len(ports)
    assert max(runs, default=0) <= SCRIPT_BATCH * PER_ENTRY + PER_CALL
    assert monitor.widest_command() <= 1000
    assert (await store.get("https://bulk.test/p/7.json", "")).entry is None
    # the indexes agree with the data: nothing left of the dropped entries
    for p in store.prefixes:
        assert [await store.redis.hlen(f"{p}m"), await store.redis.zcard(f"{p}x")] == [0, 0]
        assert [await store.redis.zcard(f"{p}u"), await store.redis.scard(f"{p}t:all")] == [0, 0]
    assert [k async for k in store.redis.scan_iter(match="*bulk*e:*")] == []
    await store.close()


@pytest.mark.parametrize("server", ["redis", "cluster"])
async def test_dropping_thousands_of_vary_variants_of_one_url_is_bounded(request, server):
    """One URL varying on a header with many values (Vary: User-Agent) holds thousands of
    variants; invalidating it drops them SCRIPT_BATCH at a time, not in one long script."""
    count = 25 * SCRIPT_BATCH
    url, ports = _url_and_ports(request, server)
    store = RedisBackend(url, namespace="variants", near_cache_bytes=0)
    for first in range(0, count, 50):
        variants = (
            make_entry(secondary=f"ua{i}", vary=["user-agent"], body=b"x", tags=["t"])
            for i in range(first, first + 50)
        )
        assert all(await asyncio.gather(*(store.set(e, ttl=1000) for e in variants)))
    assert (await store.get(URL, "ua7")).entry is not None
    async with Monitors(ports) as monitor:
        assert await store.invalidate_url(URL) == count
    runs = monitor.script_runs()
    assert len(runs) >= count // SCRIPT_BATCH
    assert max(runs) <= SCRIPT_BATCH * PER_ENTRY + PER_CALL
    assert (await store.get(URL, "ua7")).entry is None
    p = store.bucket(key_hash(URL))  # nothing left of the URL in its bucket's indexes
    assert [await store.redis.hlen(f"{p}m"), await store.redis.zcard(f"{p}x")] == [0, 0]
    assert [await store.redis.zcard(f"{p}u"), await store.redis.scard(f"{p}t:t")] == [0, 0]
    assert await store.redis.exists(f"{p}pv:{key_hash(URL)}", f"{p}p:{key_hash(URL)}") == 0
    await store.close()

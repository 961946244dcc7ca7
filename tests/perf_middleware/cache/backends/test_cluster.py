"""RedisBackend against a real 3-master Redis Cluster: selection by URL, one namespace
spread over every master, and a master killed while requests run (fail-open, nothing stale
afterwards).

The behaviour suite in ``test_backends.py`` runs against the cluster as well (the
``backend`` fixture's ``cluster`` parameter)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from perf_middleware.cache.backends.redis import CacheBackendError, RedisBackend, cluster_url
from perf_middleware.cache.backends.redis_admin import key_hash
from tests.perf_middleware.cache.backends.test_backends import URL, make_entry
from tests.perf_middleware.cache.support import Origin, client, make, status_of
from tests.support.servers import RedisClusterServer


def test_cluster_url_selects_cluster_mode():
    assert cluster_url("redis+cluster://h:7000/0", False) == ("redis://h:7000/0", True)
    assert cluster_url("rediss+cluster://h:7000", False) == ("rediss://h:7000", True)
    assert cluster_url("redis://h:6379/0", False) == ("redis://h:6379/0", False)
    assert cluster_url("redis://h:6379/0", True) == ("redis://h:6379/0", True)


async def test_cluster_option_and_url_build_a_cluster_client(redis_cluster_server):
    by_url = RedisBackend(redis_cluster_server.url, namespace="c")
    plain = f"redis://127.0.0.1:{redis_cluster_server.ports[1]}/0"
    by_option = RedisBackend(plain, namespace="c", cluster=True)
    for store in (by_url, by_option):
        assert store.cluster
        assert isinstance(store.redis, RedisCluster)
        assert len(store.prefixes) == 64
        assert all(p.startswith("{c:") for p in store.prefixes)
    assert await by_url.set(make_entry(tags=["deck"]), ttl=60)
    assert (await by_option.get(URL, "")).entry is not None
    await by_url.close()
    await by_option.close()


async def test_one_namespace_spreads_over_every_master(redis_cluster_url, redis_cluster_server):
    store = RedisBackend(redis_cluster_url, namespace="spread", near_cache_bytes=0)
    count = 300
    for i in range(count):
        entry = make_entry(f"https://example.test/p/{i}", tags=[f"t{i % 7}", "all"])
        assert await store.set(entry, ttl=60)
    await store.close()
    entries: dict[int, int] = {}
    for port in redis_cluster_server.ports:
        node = Redis(port=port)
        entries[port] = len([k async for k in node.scan_iter(match="{spread*}:e:*", count=1000)])
        await node.aclose()
    assert sum(entries.values()) == count
    # every master holds about a third of the entries (buckets spread evenly over the slots)
    assert all(held > count / 3 * 0.6 for held in entries.values()), entries


async def ports_holding_entries(cluster: RedisClusterServer, namespace: str) -> list[int]:
    """The ports of the masters holding entries of ``namespace``."""
    holders = []
    for port in cluster.processes:
        node = Redis(port=port)
        if [k async for k in node.scan_iter(match=f"{{{namespace}:*}}:e:*")]:
            holders.append(port)
        await node.aclose()
    return holders


async def test_a_master_killed_mid_run_fails_open_and_nothing_stale_after_recovery(
    private_redis_cluster, clock
):
    cluster = private_redis_cluster
    origin = Origin()
    origin.route("/deck", b'{"title": "v1"}')
    pages = [f"/p/{i}" for i in range(30)]  # the namespace on every master
    for page in pages:
        origin.route(page, b"{}")
    backend = RedisBackend(cluster.url, namespace="kill", breaker_retry_after=0.2)
    app = make(origin, backend, clock)
    responses: list[tuple[float, int, bytes, str]] = []
    seen = asyncio.Condition()
    stop = asyncio.Event()

    async def traffic() -> None:
        async with client(app) as c:
            for page in pages:
                assert (await c.get(page)).status_code == 200
            while not stop.is_set():
                r = await c.get("/deck")
                async with seen:
                    responses.append((time.monotonic(), r.status_code, r.content, status_of(r)))
                    seen.notify_all()
                await asyncio.sleep(0.005)

    async def until(predicate: Callable[[], bool]) -> None:
        async with seen:
            await seen.wait_for(predicate)

    runner = asyncio.create_task(traffic())
    await until(lambda: any("hit" in s for *_, s in responses))
    calls_before = origin.calls
    assert len(await ports_holding_entries(cluster, "kill")) == 3
    deck = key_hash("http://example.test/deck")  # the page's primary key
    assert await backend.redis.exists(f"{backend.bucket(deck)}p:{deck}") == 1
    owner = cluster.port_for_key(backend.bucket(deck))
    cluster.kill(owner)  # the master holding the page's bucket
    killed_at = time.monotonic()
    origin.route("/deck", b'{"title": "v2"}')  # the page changes while its master is down
    with pytest.raises(CacheBackendError, match="HINT"):
        await backend.invalidate_url("https://example.test/deck")
    await until(lambda: sum(t > killed_at for t, *_ in responses) >= 20)
    await asyncio.to_thread(cluster.restart, owner)
    recovered_at = time.monotonic()
    await until(lambda: any(t > recovered_at and "hit" in s for t, _, _, s in responses))
    stop.set()
    await runner
    await app.cache_stage.drain()
    await backend.close()
    assert all(code == 200 for _, code, _, _ in responses)
    during = [body for t, _, body, _ in responses if killed_at < t <= recovered_at]
    assert len(during) >= 20
    assert all(body == b'{"title": "v2"}' for body in during)
    assert origin.calls > calls_before  # the outage went to the app
    after = [body for t, _, body, _ in responses if t > recovered_at]
    assert after
    assert all(body == b'{"title": "v2"}' for body in after)


async def test_admin_calls_on_a_dead_cluster_are_clear_errors(private_redis_cluster):
    store = RedisBackend(private_redis_cluster.url, namespace="dead")
    assert await store.set(make_entry(), ttl=60)
    private_redis_cluster.stop()
    assert (await store.get(URL, "")).entry is None  # the request path fails open
    with pytest.raises(CacheBackendError, match="HINT"):
        await store.invalidate_tags(["deck"])
    await store.close()

"""Admin API against real cache backends: entry metadata, DELETE, POST /invalidate counts,
logging of mutating calls, and /health following a real Redis server going down and up."""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

import httpx
import pytest
from redis.asyncio import Redis

from perf_middleware.admin.app import AdminApp
from perf_middleware.admin.config import AdminConfig
from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.backends.redis import RedisBackend
from perf_middleware.cache.entry import CacheEntry
from perf_middleware.metrics.counters import Metrics

TOKEN = "cache-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "https://example.com"


def entry(path: str, *, tags=(), secondary="", private=False) -> CacheEntry:
    headers = [(b"content-type", b"text/html")]
    if private:
        headers.append((b"cache-control", b"private, max-age=60"))
    return CacheEntry(
        primary=BASE + path,
        secondary=secondary,
        vary=("accept-language",) if secondary else (),
        status=200,
        headers=tuple(headers),
        bodies={"identity": b"<p>SECRET BODY</p>" * 10, "br": b"\x1b\x00brotli"},
        etag='"e1"',
        response_time=time.time() - 5,
        freshness_lifetime=60,
        tags=tuple(tags),
    )


@pytest.fixture(params=["memory", "redis"])
async def backend(request):
    if request.param == "memory":
        yield MemoryBackend()
    else:
        url = request.getfixturevalue("redis_url")
        b = RedisBackend(url, namespace="admintest")
        yield b
        await b.close()


async def fill(backend) -> None:
    await backend.set(entry("/a", tags=("page", "p:1")), 60)
    await backend.set(entry("/b", tags=("page",)), 60)
    await backend.set(entry("/blog/1", tags=("blog",), secondary="en"), 60)
    await backend.set(entry("/blog/1", tags=("blog",), secondary="fr"), 60)
    await backend.set(entry("/blog/2", tags=("blog",), private=True), 60)


def client(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_entry_metadata_never_contains_the_body(backend):
    await fill(backend)
    app = AdminApp(AdminConfig(token=TOKEN), cache=backend)
    async with client(app) as c:
        r = await c.get(f"/_perf/cache/{quote(BASE + '/blog/1', safe='')}", headers=AUTH)
        assert r.status_code == 200
        doc = r.json()
        assert doc["key"] == BASE + "/blog/1"
        assert len(doc["entries"]) == 2
        first = doc["entries"][0]
        assert first["url"] == BASE + "/blog/1"
        assert first["status"] == 200
        assert first["tags"] == ["blog"]
        assert set(first["variants"]) >= {"identity", "br"}
        assert first["vary"] == ["accept-language"]
        assert 0 < first["ttl"] <= 60
        assert first["age"] >= 0
        assert first["size"] > 0
        r = await c.get(f"/_perf/cache/{quote(BASE + '/blog/2', safe='')}", headers=AUTH)
        assert r.status_code == 200
        assert b"SECRET" not in r.content
        # ?url= works as well as the path form
        r = await c.get("/_perf/cache", params={"url": BASE + "/a"}, headers=AUTH)
        assert [e["tags"] for e in r.json()["entries"]] == [["page", "p:1"]]


async def test_unknown_entry_is_404(backend):
    app = AdminApp(AdminConfig(token=TOKEN), cache=backend)
    async with client(app) as c:
        r = await c.get(f"/_perf/cache/{quote(BASE + '/nothing', safe='')}", headers=AUTH)
        assert r.status_code == 404
        assert r.json()["error"] == "not cached"
        r = await c.get("/_perf/cache/", headers=AUTH)
        assert r.status_code == 400
        assert "HINT" in r.json()["error"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_entry_get_and_delete_refuse_a_missing_target_and_a_missing_cache(method, backend):
    async with client(AdminApp(AdminConfig(token=TOKEN), cache=backend)) as c:
        r = await c.request(method, "/_perf/cache/", headers=AUTH)
        assert r.status_code == 400
        assert "HINT" in r.json()["error"]
    async with client(AdminApp(AdminConfig(token=TOKEN), cache=None)) as c:
        r = await c.request(method, f"/_perf/cache/{quote(BASE + '/a', safe='')}", headers=AUTH)
        assert r.status_code == 404
        assert r.json()["error"].startswith("no response cache configured. HINT: pass cache=")


async def test_delete_removes_every_variant_and_is_logged(backend, caplog):
    caplog.set_level(logging.INFO, logger="perf_middleware.admin")
    await fill(backend)
    app = AdminApp(AdminConfig(token=TOKEN), cache=backend)
    target = quote(BASE + "/blog/1", safe="")
    async with client(app) as c:
        r = await c.delete(f"/_perf/cache/{target}", headers=AUTH)
        assert r.json() == {"removed": 2, "url": BASE + "/blog/1"}
        assert (await c.get(f"/_perf/cache/{target}", headers=AUTH)).status_code == 404
        r = await c.delete(f"/_perf/cache/{target}", headers=AUTH)
        assert r.json()["removed"] == 0
    assert "admin delete client=127.0.0.1 url=https://example.com/blog/1 removed=2" in caplog.text


async def test_invalidate_counts_per_kind(backend, caplog):
    caplog.set_level(logging.INFO, logger="perf_middleware.admin")
    await fill(backend)
    app = AdminApp(AdminConfig(token=TOKEN), cache=backend)
    async with client(app) as c:
        r = await c.post("/_perf/invalidate", json={"tags": ["p:1"]}, headers=AUTH)
        assert r.json() == {"removed": 1, "by_kind": {"tags": 1}}
        r = await c.post(
            "/_perf/invalidate",
            json={"patterns": ["/blog/*"], "urls": [BASE + "/b"]},
            headers=AUTH,
        )
        assert r.json() == {"removed": 4, "by_kind": {"urls": 1, "patterns": 3}}
        r = await c.post("/_perf/invalidate", json={"tags": ["page"]}, headers=AUTH)
        assert r.json()["removed"] == 0
    assert "admin invalidate client=127.0.0.1" in caplog.text
    assert "removed=4" in caplog.text


async def test_invalidate_all_clears_the_backend(backend):
    await fill(backend)
    app = AdminApp(AdminConfig(token=TOKEN), cache=backend)
    async with client(app) as c:
        r = await c.post("/_perf/invalidate", json={"all": True}, headers=AUTH)
        assert r.json() == {"removed": 5, "by_kind": {"all": 5}}
        target = quote(BASE + "/a", safe="")
        assert (await c.get(f"/_perf/cache/{target}", headers=AUTH)).status_code == 404


async def test_health_reports_backend_and_latency(backend):
    app = AdminApp(AdminConfig(token=TOKEN), cache=backend)
    async with client(app) as c:
        r = await c.get("/_perf/health", headers=AUTH)
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == "ok"
    assert doc["cache"] == type(backend).__name__
    assert doc["latency_ms"] >= 0


async def test_health_follows_a_real_redis_going_down_and_up(private_redis):
    backend = RedisBackend(private_redis.url, breaker_retry_after=0.05)
    app = AdminApp(AdminConfig(token=TOKEN), metrics=Metrics(), cache=backend)
    try:
        async with client(app) as c:
            assert (await c.get("/_perf/health", headers=AUTH)).status_code == 200
            private_redis.stop()
            r = await c.get("/_perf/health", headers=AUTH)
            assert r.status_code == 503
            doc = r.json()
            assert doc["status"] == "degraded"
            assert doc["cache"] == "RedisBackend"
            assert doc["reason"]
            assert r.headers["retry-after"] == "5"
            # admin operations on a down backend are a 503 with a reason, never a 500
            r = await c.post("/_perf/invalidate", json={"tags": ["x"]}, headers=AUTH)
            assert r.status_code == 503
            assert "cache backend failed" in r.json()["error"]
            private_redis.start()
            r = await c.get("/_perf/health", headers=AUTH)
            assert r.status_code == 200
            assert r.json()["status"] == "ok"
    finally:
        await backend.close()


async def test_slow_redis_is_degraded(private_redis):
    """CLIENT PAUSE makes the real server answer the ping ~1.2 s late: above the limit (which
    leaves a loaded machine's ordinary ping far below it)."""
    backend = RedisBackend(private_redis.url, socket_timeout=2.0)
    config = AdminConfig(token=TOKEN, health_max_latency_ms=400, health_timeout=5)
    app = AdminApp(config, cache=backend)
    try:
        async with client(app) as c:
            assert (await c.get("/_perf/health", headers=AUTH)).status_code == 200
            other = Redis.from_url(private_redis.url)
            await other.execute_command("CLIENT", "PAUSE", "1200", "ALL")
            await other.aclose()
            r = await c.get("/_perf/health", headers=AUTH)
        assert r.status_code == 503
        assert "above 400" in r.json()["reason"]
        assert r.json()["latency_ms"] >= 400
    finally:
        await backend.close()


async def test_long_invalidation_lists_are_logged_briefly(caplog):
    caplog.set_level(logging.INFO, logger="perf_middleware.admin")
    app = AdminApp(AdminConfig(token=TOKEN), cache=MemoryBackend())
    tags = [f"tag-{i}" for i in range(500)]
    async with client(app) as c:
        r = await c.post("/_perf/invalidate", json={"tags": tags}, headers=AUTH)
    assert r.json() == {"removed": 0, "by_kind": {"tags": 0}}
    assert "'tag-19']+480 more" in caplog.text
    assert "tag-20'" not in caplog.text


def test_invalidation_patterns_are_matched_in_the_form_keys_hold():
    from perf_middleware.admin.io import parse_invalidate

    spec = parse_invalidate(b'{"patterns": ["/caf\\u00e9/*", "/a%20b/*", "https://h/*"]}')
    assert spec.patterns == ("/caf%C3%A9/*", "/a%20b/*", "https://h/*")

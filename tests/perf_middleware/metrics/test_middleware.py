"""Metrics recorded by PerformanceMiddleware for scripted traffic (exact counts): requests,
status classes, 304s, cache hit/miss/stale/store/eviction/invalidation/coalesced/background
revalidation, compression bytes per encoding, and the same figures read back through the
mounted admin API (Prometheus text parsed with prometheus-client's parser)."""

from __future__ import annotations

import asyncio
import gc
import json
from urllib.parse import quote

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from perf_middleware.admin.config import AdminConfig
from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.config import CacheConfig
from perf_middleware.metrics.counters import Metrics
from perf_middleware.middleware import PerformanceMiddleware

TOKEN = "metrics-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAGE = ("<html><body>" + "<p>hello performance world</p>" * 200 + "</body></html>").encode()
DATA = {"items": [{"id": i, "name": f"item number {i}"} for i in range(100)]}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make_app(calls: dict[str, int]) -> Starlette:
    async def page(request: Request) -> Response:
        calls["page"] = calls.get("page", 0) + 1
        return Response(
            PAGE,
            media_type="text/html",
            headers={"Cache-Control": "public, max-age=60", "Cache-Tag": "page"},
        )

    async def swr(request: Request) -> Response:
        calls["swr"] = calls.get("swr", 0) + 1
        return Response(
            PAGE,
            media_type="text/html",
            headers={"Cache-Control": "public, max-age=10, stale-while-revalidate=100"},
        )

    async def slow(request: Request) -> Response:
        calls["slow"] = calls.get("slow", 0) + 1
        await asyncio.sleep(0.2)
        return PlainTextResponse("slow", headers={"Cache-Control": "public, max-age=60"})

    async def data(request: Request) -> Response:
        return JSONResponse(DATA, headers={"Cache-Control": "no-store"})

    async def boom(request: Request) -> Response:
        raise RuntimeError("boom")

    async def stream(request: Request) -> Response:
        async def chunks():
            for _ in range(3):
                yield b"data: " + b"x" * 500 + b"\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/page", page),
            Route("/swr", swr),
            Route("/slow", slow),
            Route("/data", data, methods=["GET", "POST"]),
            Route("/boom", boom),
            Route("/stream", stream),
        ]
    )


def client(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def prom(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


@pytest.fixture
def setup():
    calls: dict[str, int] = {}
    clock = Clock()
    metrics = Metrics()
    backend = MemoryBackend(clock=clock)
    mw = PerformanceMiddleware(
        make_app(calls),
        cache=backend,
        cache_config=CacheConfig(clock=clock),
        metrics=metrics,
        admin=AdminConfig(token=TOKEN),
    )
    return mw, metrics, calls, clock


async def test_scripted_traffic_exact_counts(setup):
    mw, metrics, calls, _ = setup
    br = {"Accept-Encoding": "br"}
    async with client(mw) as c:
        first = await c.get("/page", headers=br)  # miss, compressed br, stored
        assert first.headers["content-encoding"] == "br"
        wire = first.num_bytes_downloaded
        etag = first.headers["etag"]
        assert (await c.get("/page", headers=br)).status_code == 200  # hit
        r = await c.get("/page", headers={**br, "If-None-Match": etag})  # hit, 304
        assert r.status_code == 304
        r = await c.get("/data", headers={"Accept-Encoding": "gzip"})  # miss, not stored
        assert r.headers["content-encoding"] == "gzip"
        gz_in, gz_out = len(json.dumps(DATA, separators=(",", ":"))), r.num_bytes_downloaded
        assert (await c.post("/data")).status_code == 200  # unsafe method: no lookup
        assert (await c.get("/boom")).status_code == 500
        assert (await c.get("/nope")).status_code == 404
        # admin requests are not application traffic
        assert (await c.get("/_perf/health", headers=AUTH)).status_code == 200
    assert calls == {"page": 1}
    doc = metrics.to_json()
    assert doc["requests"] == {
        "total": 7,
        "in_flight": 0,
        "not_modified": 1,
        "by_status_class": {"1xx": 0, "2xx": 4, "3xx": 1, "4xx": 1, "5xx": 1},
    }
    assert doc["response_time_seconds"]["count"] == 7
    mem = doc["cache"]["memory"]
    # misses: /page, /data, /boom, /nope (POST is not looked up)
    assert (mem["hit"], mem["miss"], mem["store"], mem["stale"]) == (2, 4, 1, 0)
    assert mem["bypass"] == 1  # the POST
    assert mem["hit_ratio"] == pytest.approx(2 / 6)
    assert doc["compression"]["br"]["responses"] == 1
    assert doc["compression"]["br"]["bytes_in"] == len(PAGE)
    assert doc["compression"]["br"]["bytes_out"] == wire
    assert doc["compression"]["gzip"]["responses"] == 1
    assert doc["compression"]["gzip"]["bytes_in"] == gz_in
    assert doc["compression"]["gzip"]["bytes_out"] == gz_out


async def test_prometheus_via_admin_matches(setup):
    mw, _, _, _ = setup
    async with client(mw) as c:
        for _ in range(3):
            await c.get("/page", headers={"Accept-Encoding": "zstd"})
        assert (await c.get("/_perf/metrics")).status_code == 401
        text = (await c.get("/_perf/metrics", headers=AUTH)).text
    got = prom(text)
    mem = (("backend", "memory"),)
    assert got[("perf_cache_entries", mem)] == 1
    assert got[("perf_cache_size_bytes", mem)] == mw.cache.stats.bytes > len(PAGE) // 10
    assert got[("perf_requests_total", ())] == 3
    assert got[("perf_cache_hit_total", mem)] == 2
    assert got[("perf_cache_miss_total", mem)] == 1
    assert got[("perf_cache_store_total", mem)] == 1
    assert got[("perf_compressed_responses_total", (("encoding", "zstd"),))] == 1
    assert got[("perf_response_time_seconds_count", ())] == 3


async def test_coalesced_requests_are_counted(setup):
    mw, metrics, calls, _ = setup
    async with client(mw) as c:
        results = await asyncio.gather(*(c.get("/slow") for _ in range(5)))
    assert [r.status_code for r in results] == [200] * 5
    assert calls["slow"] == 1
    mem = metrics.to_json()["cache"]["memory"]
    assert (mem["miss"], mem["coalesced"], mem["store"]) == (5, 4, 1)


async def test_stale_and_background_revalidation(setup):
    mw, metrics, calls, clock = setup
    async with client(mw) as c:
        await c.get("/swr")
        clock.now += 30  # stale, inside stale-while-revalidate
        r = await c.get("/swr")
        assert r.status_code == 200
        await mw.cache_stage.drain()
    assert calls["swr"] == 2
    mem = metrics.to_json()["cache"]["memory"]
    assert (mem["miss"], mem["stale"], mem["revalidation"], mem["revalidation_error"]) == (
        1,
        1,
        1,
        0,
    )
    # the refresh was answered 304 (the pipeline's ETag matched): entry updated, not re-stored
    assert mem["store"] == 1
    # the background refresh is not a client request
    assert metrics.requests == 2


async def test_invalidation_and_eviction_from_backend_events():
    metrics = Metrics()
    calls: dict[str, int] = {}
    backend = MemoryBackend(max_bytes=len(PAGE) * 3, max_entry_bytes=len(PAGE) * 3)
    mw = PerformanceMiddleware(
        make_app(calls), cache=backend, metrics=metrics, admin=AdminConfig(token=TOKEN)
    )
    async with client(mw) as c:
        await c.get("/page")
        target = quote("http://testserver/page", safe="")
        r = await c.get(f"/_perf/cache/{target}", headers=AUTH)
        assert r.status_code == 200
        assert r.json()["entries"][0]["tags"] == ["page"]
        r = await c.delete(f"/_perf/cache/{target}", headers=AUTH)
        assert r.json()["removed"] == 1
        await c.get("/page")
        r = await c.post("/_perf/invalidate", json={"tags": ["page"]}, headers=AUTH)
        assert r.json()["removed"] == 1
        for i in range(4):
            await c.get(f"/page?v={i}")
    mem = metrics.to_json()["cache"]["memory"]
    assert mem["invalidation"] == 2
    assert mem["eviction"] >= 1
    assert mem["eviction"] == backend.stats.evictions


async def test_streams_count_compression_once_per_response(setup):
    mw, metrics, _, _ = setup
    async with client(mw) as c:
        r = await c.get("/stream", headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert r.text.count("data: ") == 3
    comp = metrics.to_json()["compression"]["gzip"]
    assert comp["responses"] == 1
    assert comp["bytes_in"] == 3 * 508
    assert comp["bytes_out"] == r.num_bytes_downloaded


async def test_metrics_none_switches_recording_off():
    mw = PerformanceMiddleware(make_app({}), metrics=None)
    async with client(mw) as c:
        assert (await c.get("/page")).status_code == 200
    assert mw.metrics is None


def test_admin_without_token_is_not_mounted():
    mw = PerformanceMiddleware(make_app({}), admin=AdminConfig())
    assert mw.admin is None


def test_bad_options_are_refused_with_hint():
    with pytest.raises(TypeError, match="HINT"):
        PerformanceMiddleware(make_app({}), metrics=object())
    with pytest.raises(TypeError, match="HINT"):
        PerformanceMiddleware(make_app({}), admin={"token": TOKEN})


async def test_bypass_counts_methods_and_no_store_requests(setup):
    mw, metrics, calls, clock = setup
    mw = PerformanceMiddleware(
        make_app(calls),
        cache=MemoryBackend(clock=clock),
        cache_config=CacheConfig(clock=clock, honor_request_no_cache=True),
        metrics=metrics,
    )
    async with client(mw) as c:
        await c.post("/data")
        await c.options("/page")
        await c.get("/page", headers={"Cache-Control": "no-store"})
        await c.get("/page")
    mem = metrics.to_json()["cache"]["memory"]
    assert (mem["bypass"], mem["miss"], mem["store"]) == (3, 1, 1)


async def test_a_no_store_request_is_a_lookup_by_default(setup):
    """The cache shields the app: a no-store request is looked up (a miss here) and its
    response not stored; it is no bypass."""
    mw, metrics, _, _ = setup
    async with client(mw) as c:
        await c.get("/page", headers={"Cache-Control": "no-store"})
        await c.get("/page")
        await c.get("/page", headers={"Cache-Control": "no-store"})
    mem = metrics.to_json()["cache"]["memory"]
    assert (mem["bypass"], mem["miss"], mem["store"], mem["hit"]) == (0, 2, 1, 1)


async def test_incompressible_body_sent_as_identity_is_not_counted():
    import os

    noise = os.urandom(4096)

    async def app(scope, receive, send):
        headers = [(b"content-type", b"text/plain"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": noise})

    metrics = Metrics()
    mw = PerformanceMiddleware(app, metrics=metrics)
    async with client(mw) as c:
        r = await c.get("/", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in r.headers
    assert r.content == noise
    assert metrics.to_json()["compression"] == {}
    assert metrics.requests == 1


async def test_a_finished_request_leaves_no_reference_cycle():
    """The per-request observer sits in the scope while the request runs; a server's send
    usually holds that scope, so the middleware must drop it at the end or every request
    becomes cyclic garbage (collected only by the GC's periodic passes)."""

    class Connection:  # like a server's request object: its send method holds the scope
        def __init__(self) -> None:
            self.scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
            self.sent: list[dict] = []

        async def receive(self) -> dict:
            return {"type": "http.request", "body": b""}

        async def send(self, message: dict) -> None:
            self.sent.append(message)

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * 100})

    middleware = PerformanceMiddleware(app, metrics=Metrics())
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            connection = Connection()
            await middleware(connection.scope, connection.receive, connection.send)
            assert connection.sent[-1]["body"] == b"x" * 100
        del connection
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0
    assert middleware.metrics is not None
    assert middleware.metrics.requests == 20

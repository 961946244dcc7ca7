"""Server-Timing added by PerformanceMiddleware(server_timing=True): cache outcome and lookup
time, app time (at least what the app spent), compression time; absent when switched off."""

from __future__ import annotations

import asyncio
import re

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from perf_middleware import CacheConfig
from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.middleware import PerformanceMiddleware

PAGE = b"<p>" + b"server timing " * 2000 + b"</p>"


async def page(request: Request) -> Response:
    await asyncio.sleep(0.03)
    return Response(PAGE, media_type="text/html", headers={"Cache-Control": "public, max-age=60"})


async def private(request: Request) -> Response:
    return Response(b"tiny", media_type="text/plain", headers={"Cache-Control": "no-store"})


async def stream(request: Request) -> Response:
    async def chunks():
        for _ in range(2):
            yield b"data: " + b"y" * 300 + b"\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


APP = Starlette(routes=[Route("/page", page), Route("/private", private), Route("/stream", stream)])


def parse(value: str) -> dict[str, dict[str, str]]:
    out = {}
    for metric in value.split(","):
        name, *params = [p.strip() for p in metric.split(";")]
        out[name] = dict(p.split("=", 1) for p in params)
    return out


async def get(mw, path, **headers) -> httpx.Response:
    transport = httpx.ASGITransport(app=mw)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return await c.get(path, headers=headers)


async def test_miss_then_hit_with_cache():
    mw = PerformanceMiddleware(APP, cache=MemoryBackend(), server_timing=True)
    miss = parse((await get(mw, "/page", **{"accept-encoding": "br"})).headers["server-timing"])
    assert miss["cache"]["desc"] == "miss"
    assert float(miss["cache"]["dur"]) >= 0
    assert float(miss["app"]["dur"]) >= 30  # the app slept 30 ms
    assert float(miss["compress"]["dur"]) > 0
    hit = parse((await get(mw, "/page", **{"accept-encoding": "br"})).headers["server-timing"])
    assert hit["cache"]["desc"] == "hit"
    assert float(hit["cache"]["dur"]) < 30
    assert set(hit) == {"cache"}  # no app call, no compression on a hit


async def test_without_cache_only_app_and_compress():
    mw = PerformanceMiddleware(APP, server_timing=True)
    r = await get(mw, "/page", **{"accept-encoding": "gzip"})
    timing = parse(r.headers["server-timing"])
    assert set(timing) == {"app", "compress"}
    r = await get(mw, "/private", **{"accept-encoding": "gzip"})
    assert set(parse(r.headers["server-timing"])) == {"app"}  # too small to compress


async def test_stream_reports_app_time_without_compress():
    mw = PerformanceMiddleware(APP, server_timing=True)
    r = await get(mw, "/stream", **{"accept-encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert set(parse(r.headers["server-timing"])) == {"app"}


async def test_bypass_is_reported():
    mw = PerformanceMiddleware(APP, cache=MemoryBackend(), server_timing=True)
    transport = httpx.ASGITransport(app=mw)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.post("/page")
    assert r.status_code == 405
    assert "server-timing" in r.headers


async def test_header_syntax_and_off_by_default():
    on = PerformanceMiddleware(APP, cache=MemoryBackend(), server_timing=True)
    value = (await get(on, "/page")).headers["server-timing"]
    token = r"[a-z]+(;desc=[a-z-]+)?(;dur=\d+(\.\d+)?)?"
    assert re.fullmatch(rf"{token}(, {token})*", value), value
    off = PerformanceMiddleware(APP, cache=MemoryBackend())
    assert "server-timing" not in (await get(off, "/page")).headers


async def test_server_timing_works_with_metrics_off():
    mw = PerformanceMiddleware(APP, metrics=None, server_timing=True)
    r = await get(mw, "/page", **{"accept-encoding": "zstd"})
    timing = parse(r.headers["server-timing"])
    assert set(timing) == {"app", "compress"}
    assert float(timing["app"]["dur"]) >= 30
    assert mw.metrics is None


async def upstream_hit(request: Request) -> Response:
    return Response(b"from a cache in front of the app", headers={"Cache-Status": "upstream; hit"})


async def test_an_upstream_cache_status_is_not_the_middlewares_outcome():
    """Without a cache stage the middleware did no caching: the app's own Cache-Status (from
    a cache behind it) must not become ``cache;desc=hit`` in Server-Timing."""
    app = Starlette(routes=[Route("/up", upstream_hit)])
    mw = PerformanceMiddleware(app, server_timing=True)
    response = await get(mw, "/up")
    assert response.headers["cache-status"] == "upstream; hit"
    assert "cache" not in parse(response.headers["server-timing"])


async def test_outcomes_of_each_cache_path():
    """The stage reports what it did to the observer: bypass, miss, hit, revalidated."""
    config = CacheConfig(honor_request_no_cache=True)
    mw = PerformanceMiddleware(APP, cache=MemoryBackend(), cache_config=config, server_timing=True)
    timing = await get(mw, "/private")
    assert parse(timing.headers["server-timing"])["cache"]["desc"] == "miss"
    assert parse((await get(mw, "/page")).headers["server-timing"])["cache"]["desc"] == "miss"
    assert parse((await get(mw, "/page")).headers["server-timing"])["cache"]["desc"] == "hit"
    refreshed = await get(mw, "/page", **{"cache-control": "no-cache"})
    assert parse(refreshed.headers["server-timing"])["cache"]["desc"] == "revalidated"
    transport = httpx.ASGITransport(app=mw)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        posted = await c.post("/page")
    assert parse(posted.headers["server-timing"])["cache"]["desc"] == "bypass"

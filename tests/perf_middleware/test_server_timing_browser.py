"""Server-Timing as a real browser sees it: Chromium's Navigation Timing exposes the
middleware's entries (``serverTiming``) for a page served through uvicorn."""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.middleware import PerformanceMiddleware
from tests.support.servers import UvicornServer

pytestmark = pytest.mark.browser

PAGE = "<!doctype html><title>t</title>" + "<p>timing in the browser</p>" * 300


async def page(request):
    await asyncio.sleep(0.02)
    return HTMLResponse(PAGE, headers={"Cache-Control": "public, max-age=60"})


def test_chromium_reads_server_timing_entries(chromium):
    app = PerformanceMiddleware(
        Starlette(routes=[Route("/", page)]), cache=MemoryBackend(), server_timing=True
    )
    script = (
        "performance.getEntriesByType('navigation')[0].serverTiming"
        ".map(e => ({name: e.name, desc: e.description, dur: e.duration}))"
    )
    visits = []
    with UvicornServer(app) as server:
        for _ in range(2):  # a fresh context each time: the browser's own cache is empty
            context = chromium.new_context()
            try:
                tab = context.new_page()
                tab.goto(server.url + "/")
                visits.append({e["name"]: e for e in tab.evaluate(script)})
            finally:
                context.close()
    first, second = visits
    assert first["cache"]["desc"] == "miss"
    assert first["app"]["dur"] >= 20  # the handler slept 20 ms
    assert first["compress"]["dur"] > 0
    assert second["cache"]["desc"] == "hit"
    assert "app" not in second

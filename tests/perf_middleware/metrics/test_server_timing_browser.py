"""Server-Timing as a real browser sees it: Chromium's Navigation Timing exposes the
middleware's entries (``serverTiming``) for a page served through uvicorn."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.middleware import PerformanceMiddleware
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.servers import UvicornServer

pytestmark = pytest.mark.browser

PAGE = "<!doctype html><title>t</title>" + "<p>timing in the browser</p>" * 300


async def page(request):
    await asyncio.sleep(0.02)
    return HTMLResponse(PAGE, headers={"Cache-Control": "public, max-age=60"})


def visit_twice(url: str) -> list[dict[str, dict]]:
    """Drive Chromium from a worker thread with its own Playwright: the sync API keeps an
    event loop running in the thread that starts it, which must not be pytest's."""
    from playwright.sync_api import sync_playwright

    script = (
        "performance.getEntriesByType('navigation')[0].serverTiming"
        ".map(e => ({name: e.name, desc: e.description, dur: e.duration}))"
    )
    visits = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(2):  # a fresh context each time: the browser's own cache is empty
                context = browser.new_context()
                try:
                    tab = context.new_page()
                    tab.goto(url)
                    visits.append({e["name"]: e for e in tab.evaluate(script)})
                finally:
                    context.close()
        finally:
            browser.close()
    return visits


def test_chromium_reads_server_timing_entries():
    app = PerformanceMiddleware(
        Starlette(routes=[Route("/", page)]), cache=MemoryBackend(), server_timing=True
    )
    with UvicornServer(app) as server, ThreadPoolExecutor(1) as pool:
        visits = pool.submit(visit_twice, server.url + "/").result(timeout=120)
    first, second = visits
    assert first["cache"]["desc"] == "miss"
    # the handler slept 20 ms; uvloop schedules timers from its per-iteration cached clock,
    # so by perf_counter a sleep can end a fraction of a millisecond early (seen: 19.83)
    assert first["app"]["dur"] >= 19
    assert first["compress"]["dur"] > 0
    assert second["cache"]["desc"] == "hit"
    assert "app" not in second

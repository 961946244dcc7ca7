"""Real-user Web Vitals and the dashboard, end to end: the example app built by the real
pipeline, under real uvicorn, visited by real Chromium."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from examples.starlette_app.app import create_app
from examples.starlette_app.store import DeckStore

from perf_middleware import AdminConfig, MemoryBackend
from tests.examples.test_example_app import example_dist  # noqa: F401  (fixture)
from tests.support.servers import UvicornServer

T = TypeVar("T")
TOKEN = "dashboard-test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
DECK = "/decks/{deck_id}/{number}"
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def site(example_dist: Path) -> Iterator[UvicornServer]:  # noqa: F811
    admin = AdminConfig(token=TOKEN, web_vitals=True, history_interval=0.2)
    app = create_app(
        dist=example_dist,
        cache=MemoryBackend(max_bytes=8 * 2**20),
        store=DeckStore(delay=0.01),
        admin=admin,
    )
    with UvicornServer(app) as server:
        yield server


def _painted(page: Any) -> None:
    """Wait until the page had its first contentful and largest contentful paint."""
    page.wait_for_function(
        "() => performance.getEntriesByName('first-contentful-paint').length > 0"
        " && new Promise((ok) => new PerformanceObserver(() => ok(true))"
        ".observe({type: 'largest-contentful-paint', buffered: true}))"
    )


def _visit(page: Any, url: str) -> None:
    page.goto(url)
    _painted(page)


def _metrics_json(server: UvicornServer) -> dict[str, Any]:
    response = httpx.get(server.url + "/_perf/metrics.json", headers=AUTH)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def _wait_for(read: Callable[[], T], done: Callable[[T], bool], attempts: int = 200) -> T:
    """Poll ``read`` until ``done`` holds (bounded); the last value either way."""
    value = read()
    for _ in range(attempts):
        if done(value):
            break
        time.sleep(0.05)
        value = read()
    return value


def _count(routes: dict[str, Any], route: str, metric: str) -> int:
    """Values of ``metric`` for ``route`` over every served-by."""
    return sum(m.get(metric, {}).get("count", 0) for m in routes.get(route, {}).values())


def _vitals(server: UvicornServer) -> dict[str, Any]:
    routes: dict[str, Any] = _metrics_json(server)["web_vitals"]["routes"]
    return routes


@pytest.mark.browser
def test_page_views_report_web_vitals_per_route(site: UvicornServer, chromium: Any) -> None:
    context = chromium.new_context(service_workers="block")
    try:
        page = context.new_page()
        _visit(page, site.url + "/")
        page.click("a[href='/decks/1/1']")
        page.wait_for_url("**/decks/1/1")
        _painted(page)
        # an interaction with a slow handler (120 ms of main-thread work), so INP is real
        page.evaluate(
            "document.body.addEventListener('click', () => {"
            " const end = performance.now() + 120; while (performance.now() < end) {} })"
        )
        page.click("article.slide h2")
        page.wait_for_function(  # the browser has timed the interaction (after a paint)
            "() => new Promise((ok) => new PerformanceObserver(() => ok(true))"
            ".observe({type: 'event', buffered: true, durationThreshold: 16}))"
        )
        # web-vitals takes new entries in an idle callback
        page.evaluate("new Promise((ok) => requestIdleCallback(() => ok(true)))")
        _visit(page, site.url + "/decks/2/1")
        _visit(page, site.url + "/")  # leaving each page sends its beacon
        page.goto("about:blank")
    finally:
        context.close()
    # beacons leave the browser asynchronously: wait until both pages of each route arrived
    routes = _wait_for(
        lambda: _vitals(site),
        lambda r: _count(r, DECK, "TTFB") == 2 and _count(r, "/", "TTFB") == 2,
    )
    assert set(routes) == {"/", DECK}
    # the second view of / revalidated its copy in the browser cache (max-age=0: a 304)
    assert set(routes["/"]) <= {"network", "http-cache"}
    assert _count(routes, "/", "FCP") == 2
    assert _count(routes, "/", "CLS") == 2
    deck = routes[DECK]["network"]
    assert deck["TTFB"]["count"] == 2
    assert deck["FCP"]["count"] == 2
    assert deck["LCP"]["count"] == 2
    assert deck["CLS"]["count"] == 2
    assert deck["INP"]["count"] == 1
    assert deck["INP"]["sum"] >= 0.12
    assert 0 < deck["TTFB"]["p75"] < 10
    assert deck["FCP"]["rating"] in ("good", "needs-improvement")
    text = httpx.get(site.url + "/_perf/metrics", headers=AUTH).text
    assert re.search(
        r'perf_web_vitals_fcp_seconds_count\{route="/decks/\{deck_id\}/\{number\}",'
        r'served_by="network"\} 2\.0',
        text,
    )
    assert 'perf_web_vitals_ttfb_seconds_count{route="/",served_by="network"}' in text
    assert json.dumps(routes)  # JSON-able as served

"""Real-user Web Vitals and the dashboard, end to end: the example app built by the real
pipeline, under real uvicorn, visited by real Chromium."""

from __future__ import annotations

import json
import os
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
from tests.support.servers import UvicornServer

T = TypeVar("T")
TOKEN = "dashboard-test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
DECK = "/decks/{deck_id}/{number}"
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def site(example_dist: Path, tmp_path: Path) -> Iterator[UvicornServer]:
    admin = AdminConfig(token=TOKEN, web_vitals=True, history_interval=0.2)
    app = create_app(
        dist=example_dist,
        cache=MemoryBackend(max_bytes=8 * 2**20),
        store=DeckStore(tmp_path / "decks.sqlite3", delay=0.01),
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


def _wait_for(read: Callable[[], T], done: Callable[[T], bool], attempts: int = 600) -> T:
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


@pytest.mark.browser
def test_dashboard_draws_its_charts_and_refreshes(
    site: UvicornServer, chromium: Any, tmp_path: Path
) -> None:
    context = chromium.new_context(service_workers="block", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        for path in ("/", "/decks/1/1", "/decks/1/2", "/decks/2/1", "/", "/decks/1/1"):
            _visit(page, site.url + path)
        page.goto("about:blank")
        _wait_for(lambda: _vitals(site), lambda r: _count(r, DECK, "LCP") >= 3)
        for _ in range(20):  # traffic across several history snapshots
            httpx.get(site.url + "/api/presentations")
            httpx.get(site.url + "/decks/3/1", headers={"accept-encoding": "br"})
        assert httpx.get(site.url + "/_perf/").status_code == 401  # token-protected

        dashboard = context.new_page()  # an operator signs in with the token in the form
        form = dashboard.goto(site.url + "/_perf/")
        assert form is not None
        assert form.status == 401
        dashboard.fill("input[name=token]", TOKEN)
        with dashboard.expect_navigation() as navigation:
            dashboard.click("button[type=submit]")
        response = navigation.value
        assert response is not None
        assert response.status == 200
        assert response.url == site.url + "/_perf/"
        assert "script-src 'self'" in response.headers["content-security-policy"]
        # drawn once from the embedded data, then again from /_perf/dashboard.json
        dashboard.wait_for_function(
            "() => Number(document.body.dataset.renders) >= 2", timeout=20000
        )
        for panel in ("hit-ratio", "latency"):  # uPlot time series: a canvas with a size
            size = dashboard.eval_on_selector(
                f"[data-panel='{panel}'] canvas", "(c) => [c.width, c.height]"
            )
            assert size[0] > 200
            assert size[1] > 100
        bars = {
            panel: dashboard.locator(f"[data-panel='{panel}'] .bar").count()
            for panel in ("outcomes", "compression", "vitals", "largest", "build")
        }
        assert all(count > 0 for count in bars.values()), bars
        vitals_text = dashboard.inner_text("[data-panel='vitals']")
        assert DECK in vitals_text
        assert "LCP" in vitals_text
        # the page's assets came fingerprinted and precompressed from StaticAssets
        assets = [u for u in _asset_urls(dashboard) if "/_perf/assets/" in u]
        assert len(assets) == 4
        for url in assets:
            head = httpx.get(url, headers={"accept-encoding": "br"})
            assert head.headers["content-encoding"] == "br"
            assert "immutable" in head.headers["cache-control"]
        shot = dashboard.screenshot(full_page=True)
        assert shot.startswith(b"\x89PNG")
        (tmp_path / "dashboard.png").write_bytes(shot)
        if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
            (DOCS / "dashboard.png").write_bytes(shot)
    finally:
        context.close()


def _asset_urls(page: Any) -> list[str]:
    urls: list[str] = page.evaluate(
        "[...document.querySelectorAll('link[rel=stylesheet], script[src]')]"
        ".map((e) => e.href || e.src)"
    )
    return urls


@pytest.mark.browser
def test_report_is_one_self_contained_file(
    site: UvicornServer, chromium: Any, tmp_path: Path
) -> None:
    for path in ("/", "/decks/1/1", "/api/presentations"):
        httpx.get(site.url + path)
    response = httpx.get(site.url + "/_perf/report", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert "/_perf/assets/" not in response.text  # everything inlined
    report = tmp_path / "report.html"
    report.write_bytes(response.content)
    context = chromium.new_context(offline=True)  # a file opened from a ticket, no server
    try:
        page = context.new_page()
        page.goto(report.as_uri())
        page.wait_for_function("() => Number(document.body.dataset.renders) >= 1")
        assert page.locator("[data-panel='latency'] canvas").count() == 1
        assert page.locator("[data-panel='build'] .bar").count() > 0
    finally:
        context.close()


@pytest.mark.browser
def test_navigations_through_the_service_worker_are_labelled_so(
    site: UvicornServer, chromium: Any
) -> None:
    context = chromium.new_context(service_workers="allow")
    try:
        page = context.new_page()
        _visit(page, site.url + "/")
        assert page.evaluate("navigator.serviceWorker.ready.then((r) => !!r.active)")
        _visit(page, site.url + "/decks/2/1")  # a navigation the worker handles
        assert page.evaluate("!!navigator.serviceWorker.controller")
        # the page's own pagehide handler sends the beacon while the page is still alive: a
        # beacon sent while the document unloads crosses the worker's process as that is torn
        # down, and a loaded machine lost it there (this test is about the label, not unload)
        page.evaluate("dispatchEvent(new Event('pagehide'))")
        routes = _wait_for(lambda: _vitals(site), lambda r: "service-worker" in r.get(DECK, {}))
    finally:
        context.close()
    assert routes[DECK]["service-worker"]["TTFB"]["count"] == 1
    assert "service-worker" not in routes.get("/", {})  # the first view had no worker yet

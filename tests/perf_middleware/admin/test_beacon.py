"""``POST /_perf/vitals``: the public beacon endpoint, through the whole middleware (the route
a page rendered becomes a known label) and under a flood of hostile beacons on real uvicorn."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import httpx
import pytest

from perf_middleware import AdminConfig, Metrics, PerformanceMiddleware, WebVitals
from perf_middleware.admin.beacon import MAX_BEACON_BYTES
from perf_middleware.metrics.vitals import DROP_REASONS
from perf_middleware.types import Receive, Scope, Send
from tests.support.servers import UvicornServer

TOKEN = "beacon-test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
ROUTE = "/items/{item_id}"
HELPER = WebVitals()


async def site(scope: Scope, receive: Receive, send: Send) -> None:
    """A page per item whose template names its route, as ``{{ web_vitals() }}`` does."""
    tag = HELPER.script(ROUTE, scope=scope) if scope["path"].startswith("/items/") else ""
    body = f"<!doctype html><title>item</title><h1>item</h1>{tag}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def make_app(**admin: Any) -> PerformanceMiddleware:
    options: dict[str, Any] = {"token": TOKEN, "web_vitals": True, **admin}
    return PerformanceMiddleware(site, metrics=Metrics(), admin=AdminConfig(**options))


def client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5555))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def beacon(route: str = ROUTE, **metrics: Any) -> str:
    values = metrics or {"LCP": 1200.5, "FCP": 800, "TTFB": 120, "CLS": 0.02, "INP": 80}
    return json.dumps({"route": route, "served_by": "network", "metrics": values})


async def test_a_page_rendered_route_is_recorded_per_route_and_served_by() -> None:
    app = make_app()
    async with client(app) as c:
        before = await c.post("/_perf/vitals", content=beacon())
        assert before.status_code == 422  # no page of that route rendered yet
        assert before.json()["reason"] == "unknown_route"
        page = await c.get("/items/7")
        assert 'data-route="/items/{item_id}"' in page.text
        assert (await c.post("/_perf/vitals", content=beacon())).status_code == 204
        sw = json.dumps({"route": ROUTE, "served_by": "service-worker", "metrics": {"LCP": 90}})
        assert (await c.post("/_perf/vitals", content=sw)).status_code == 204
        data = (await c.get("/_perf/metrics.json", headers=AUTH)).json()["web_vitals"]
        text = (await c.get("/_perf/metrics", headers=AUTH)).text
    lcp = data["routes"][ROUTE]["network"]["LCP"]
    assert lcp["count"] == 1
    assert lcp["unit"] == "seconds"
    assert lcp["sum"] == pytest.approx(1.2005)
    assert lcp["rating"] == "good"  # p75 inside the 1.0-1.8 s bucket
    assert data["routes"][ROUTE]["service-worker"]["LCP"]["count"] == 1
    assert data["routes"][ROUTE]["network"]["CLS"]["unit"] == "score"
    assert data["dropped"]["unknown_route"] == 1
    labels = 'route="/items/{item_id}",served_by="network"'
    assert f'perf_web_vitals_lcp_seconds_bucket{{le="1.8",{labels}}} 1.0' in text
    assert 'perf_web_vitals_cls_count{route="/items/{item_id}",served_by="network"} 1.0' in text
    assert 'perf_web_vitals_dropped_total{reason="unknown_route"} 1.0' in text


async def test_routes_can_be_declared_in_the_config() -> None:
    app = make_app(web_vitals_routes=("/declared",))
    async with client(app) as c:
        response = await c.post("/_perf/vitals", content=beacon("/declared"))
    assert response.status_code == 204


@pytest.mark.parametrize(
    ("kwargs", "status", "reason"),
    [
        ({"content": "{not json"}, 400, "malformed"),
        ({"content": "[1, 2]"}, 400, "malformed"),
        ({"content": '{"route": 5, "metrics": {}}'}, 400, "malformed"),
        ({"content": '{"route": "/x", "served_by": "cdn", "metrics": {}}'}, 400, "malformed"),
        ({"content": '{"route": "/items/{item_id}", "metrics": []}'}, 400, "malformed"),
        ({"content": '{"route": "/items/{item_id}", "metrics": {"FID": 3}}'}, 400, "malformed"),
        ({"content": "[" * 100_000}, 413, "too_large"),
        ({"content": "x" * (MAX_BEACON_BYTES + 1)}, 413, "too_large"),
        ({"content": "{}", "headers": {"content-length": "abc"}}, 413, "too_large"),
        ({"content": "{}", "headers": {"content-type": "application/xml"}}, 415, "malformed"),
        ({"content": "{}", "headers": {"sec-fetch-site": "cross-site"}}, 403, "cross_site"),
        ({"content": beacon(LCP=-5, CLS="big")}, 422, "out_of_range"),
        ({"content": beacon(LCP=float("inf"))}, 400, "malformed"),  # not JSON: Infinity
        ({"content": beacon(LCP=10**9, INP=True)}, 422, "out_of_range"),
        ({"content": beacon("/items/42")}, 422, "unknown_route"),
    ],
)
async def test_hostile_beacons_are_refused_with_a_reason(
    kwargs: dict[str, Any], status: int, reason: str
) -> None:
    app = make_app()
    async with client(app) as c:
        await c.get("/items/1")
        response = await c.post("/_perf/vitals", **kwargs)
        data = (await c.get("/_perf/metrics.json", headers=AUTH)).json()["web_vitals"]
    assert response.status_code == status
    assert response.json()["reason"] == reason
    assert data["dropped"][reason] >= 1
    assert data["routes"] == {}


async def test_partly_valid_beacons_keep_the_valid_values() -> None:
    app = make_app()
    async with client(app) as c:
        await c.get("/items/1")
        body = beacon(LCP=900, CLS=-1, TTFB="fast", extra=5)
        assert (await c.post("/_perf/vitals", content=body)).status_code == 204
        data = (await c.get("/_perf/metrics.json", headers=AUTH)).json()["web_vitals"]
    assert set(data["routes"][ROUTE]["network"]) == {"LCP"}
    assert data["dropped"]["out_of_range"] == 2


async def test_only_post_and_only_within_the_rate() -> None:
    app = make_app(web_vitals_burst=3, web_vitals_rate=0.001)
    async with client(app) as c:
        await c.get("/items/1")
        assert (await c.get("/_perf/vitals")).status_code == 405
        codes = [(await c.post("/_perf/vitals", content=beacon())).status_code for _ in range(5)]
        limited = await c.post("/_perf/vitals", content=beacon())
        data = (await c.get("/_perf/metrics.json", headers=AUTH)).json()["web_vitals"]
    assert codes == [204, 204, 204, 429, 429]
    assert limited.headers["retry-after"] == "10"
    assert data["dropped"]["rate_limited"] == 3


async def test_the_beacon_script_is_public_and_fingerprinted() -> None:
    app = make_app()
    async with client(app) as c:
        script = await c.get(HELPER.src, headers={"accept-encoding": "br"})
        dashboard = await c.get("/_perf/")
    assert script.status_code == 200
    assert script.headers["content-encoding"] == "br"
    assert "immutable" in script.headers["cache-control"]
    assert dashboard.status_code == 401


def _rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/status", encoding="ascii") as fh:
        return int(re.search(r"VmRSS:\s+(\d+)", fh.read()).group(1))  # type: ignore[union-attr]


def _series(text: str) -> set[str]:
    return {line.split(" ", 1)[0] for line in text.splitlines() if not line.startswith("#")}


def _flood() -> list[tuple[str, dict[str, Any]]]:
    """Every kind of hostile beacon, many times over."""
    big = "A" * (MAX_BEACON_BYTES * 64)
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("huge declared", {"content": big}),
        ("huge streamed", {"content": [big.encode()] * 4}),  # chunked: no length
        ("deep nesting", {"content": "[" * 4000}),
        ("wrong types", {"content": '{"route": ["/"], "served_by": 1, "metrics": "LCP"}'}),
        ("bad numbers", {"content": beacon(LCP="NaN", CLS=[1], INP={"v": 1}, TTFB=1e308)}),
        ("negative", {"content": beacon(LCP=-1, FCP=-0.5)}),
        ("binary", {"content": bytes(range(256)) * 8}),
        ("utf-16", {"content": beacon().encode("utf-16")}),
        ("no body", {"content": b""}),
        ("xml", {"content": "<a/>", "headers": {"content-type": "text/xml"}}),
    ]
    for n in range(300):  # invented routes: each would be a new label if accepted
        kinds.append((f"route {n}", {"content": beacon(f"/items/{n}/{'x' * (n % 7)}")}))
        kinds.append((f"url {n}", {"content": beacon(f"/items/{n}?utm={n}")}))
    return kinds * 4


def test_a_flood_of_hostile_beacons_leaves_no_5xx_bounded_memory_and_the_same_series() -> None:
    app = make_app(web_vitals_rate=10_000.0, web_vitals_burst=100_000)
    with UvicornServer(app) as server, httpx.Client(base_url=server.url) as c:
        c.get("/items/1")
        assert c.post("/_perf/vitals", content=beacon()).status_code == 204
        series_before = _series(c.get("/_perf/metrics", headers=AUTH).text)
        for _kind, kwargs in _flood()[:200]:  # warm-up: allocator pools, code paths
            c.post("/_perf/vitals", **kwargs)
        rss_before = _rss_kib()
        statuses: dict[int, int] = {}
        for kind, kwargs in _flood():
            status = c.post("/_perf/vitals", **kwargs).status_code
            statuses[status] = statuses.get(status, 0) + 1
            assert status < 500, kind
        rss_after = _rss_kib()
        series_after = _series(c.get("/_perf/metrics", headers=AUTH).text)
        data = c.get("/_perf/metrics.json", headers=AUTH).json()["web_vitals"]
    assert set(statuses) <= {400, 413, 415, 422}
    assert sum(statuses.values()) == len(_flood())
    assert series_after == series_before  # no new route, served-by or reason label
    assert list(data["routes"]) == [ROUTE]
    assert data["routes"][ROUTE]["network"]["LCP"]["count"] == 1
    assert set(data["dropped"]) == set(DROP_REASONS)
    # ~5000 requests with up to 256 KiB bodies: memory stays where it was (allocator noise)
    assert rss_after - rss_before < 16 * 1024, (rss_before, rss_after)

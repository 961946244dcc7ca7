"""The dashboard's data and pages (``/_perf/``, ``/dashboard.json``, ``/report``), the
shipped asset build, and the in-process history, without a browser (the browser side is in
``tests/examples/test_web_vitals_browser.py``)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx

from asset_pipeline.cli import main as asset_pipeline
from asset_pipeline.manifest import MANIFEST_NAME, load_manifest
from perf_middleware import AdminConfig, MemoryBackend, Metrics, PerformanceMiddleware
from perf_middleware.admin.dashboard import build_summary, largest_entries
from perf_middleware.admin.web import WEB_DIST, WEB_SRC, web_manifest
from perf_middleware.metrics.history import History, latency_percentiles, snapshot
from tests.perf_middleware.asgi_driver import make_app

TOKEN = "dashboard-unit-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def client(app: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def test_the_shipped_build_is_the_build_of_the_shipped_sources(tmp_path: Path) -> None:
    """``make admin-assets`` was run after the last change to ``admin/web/src``."""
    out = tmp_path / "dist"
    config = str(WEB_SRC.parent / "assets.toml")
    args = ["build", str(WEB_SRC), "--out", str(out), "--config", config, "--no-cache", "--quiet"]
    assert asset_pipeline(args) == 0
    fresh = load_manifest(out / MANIFEST_NAME)
    shipped = web_manifest()
    assert {n: e.hash for n, e in fresh.files.items()} == {
        n: e.hash for n, e in shipped.files.items()
    }
    on_disk = {p.relative_to(WEB_DIST).as_posix() for p in WEB_DIST.rglob("*") if p.is_file()}
    assert on_disk == shipped.output_paths() | {MANIFEST_NAME}  # nothing stale, nothing missing
    licences = {n for n in shipped.files if n.endswith("LICENSE.txt")}
    assert licences == {"vendor/uPlot.LICENSE.txt", "vendor/web-vitals.LICENSE.txt"}


async def test_dashboard_json_has_every_panel_s_data(tmp_path: Path) -> None:
    cache = MemoryBackend(max_bytes=2**20)
    body = b"<p>" + b"x" * 5000 + b"</p>"
    app = PerformanceMiddleware(
        make_app(body, headers=[(b"cache-control", b"public, max-age=60")]),
        cache=cache,
        metrics=Metrics(),
        admin=AdminConfig(token=TOKEN, history_interval=0.01),
    )
    async with client(app) as c:
        for n in range(3):
            await c.get(f"/page/{n % 2}", headers={"accept-encoding": "gzip"})
            await asyncio.sleep(0.02)
        response = await c.get("/_perf/dashboard.json", headers=AUTH)
    data = response.json()
    assert response.status_code == 200
    assert data["metrics"]["cache"]["memory"]["hit"] == 1
    assert data["latency_bounds"] == list(Metrics().config.latency_buckets)
    assert len(data["history"]) >= 2
    assert data["history"][-1]["cache"]["miss"] == 2
    assert sorted(e["url"].rsplit("/", 1)[-1] for e in data["largest"]) == ["0", "1"]
    assert data["largest"][0]["size"] > 5000
    assert data["build"] is None  # no StaticAssets
    assert "web_vitals" not in data["metrics"]  # the beacon is opt-in


async def test_the_page_references_fingerprinted_assets_with_sri() -> None:
    app = PerformanceMiddleware(make_app(b"ok"), admin=AdminConfig(token=TOKEN))
    async with client(app) as c:
        page = await c.get("/_perf/", headers=AUTH)
        slash_less = await c.get("/_perf", headers=AUTH)
        asset_urls = re.findall(r'(?:href|src)="(/_perf/assets/[^"]+)"', page.text)
        assets = [await c.get(u, headers={"accept-encoding": "br"}) for u in asset_urls]
    assert page.status_code == slash_less.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert len(asset_urls) == 4
    assert page.text.count('integrity="sha384-') == 4
    assert all(a.status_code == 200 for a in assets)
    assert all(a.headers["content-encoding"] == "br" for a in assets)
    embedded = re.search(r'id="perf-data">(.*?)</script>', page.text)
    assert embedded is not None
    assert json.loads(embedded.group(1))["metrics"]["requests"]["total"] == 0


async def test_report_inlines_everything_and_escapes_the_data() -> None:
    hostile = b"</script><script>alert(1)</script>"
    cache = MemoryBackend(max_bytes=2**20)
    app = PerformanceMiddleware(
        make_app(b"x" * 100, headers=[(b"cache-control", b"public, max-age=60")]),
        cache=cache,
        admin=AdminConfig(token=TOKEN),
    )
    async with client(app) as c:
        await c.get("/" + hostile.decode())
        report = await c.get("/_perf/report", headers=AUTH)
    assert report.status_code == 200
    assert re.fullmatch(
        r'attachment; filename="perf-report-\d{8}-\d{6}\.html"',
        report.headers["content-disposition"],
    )
    assert "/_perf/assets/" not in report.text
    assert "<script>alert(1)" not in report.text  # the URL in the data cannot close the tag
    assert report.text.count("<script") == 3  # data, uPlot, dashboard.js
    assert "default-src 'none'" in report.headers["content-security-policy"]


def test_build_summary_counts_files_bytes_and_formats() -> None:
    summary = build_summary(web_manifest())
    assert summary["files"] == len(web_manifest().files)
    assert summary["bytes"] == sum(e.size for e in web_manifest().files.values())
    assert summary["smallest_bytes"] < summary["bytes"]
    assert summary["by_type"]["text/javascript"]["files"] == 4  # vitals, dashboard, 2 vendored
    assert summary["image_formats"] == {}


async def test_largest_entries_of_a_backend_that_cannot_list_them() -> None:
    assert await largest_entries(object()) is None


async def test_the_build_summary_of_the_served_static_build(tmp_path: Path) -> None:
    from perf_middleware import StaticAssets

    static = StaticAssets(WEB_DIST, prefix="/static")
    app = PerformanceMiddleware(make_app(b"ok"), static=static, admin=AdminConfig(token=TOKEN))
    async with client(app) as c:
        data = (await c.get("/_perf/dashboard.json", headers=AUTH)).json()
    assert data["build"]["files"] == len(web_manifest().files)
    copy = tmp_path / "dist"
    shutil.copytree(WEB_DIST, copy)
    served = StaticAssets(copy, prefix="/s")
    (copy / MANIFEST_NAME).unlink()  # a deploy removed the build under the running server
    broken = PerformanceMiddleware(make_app(b"ok"), static=served, admin=AdminConfig(token=TOKEN))
    async with client(broken) as c:
        assert (await c.get("/_perf/dashboard.json", headers=AUTH)).json()["build"] is None


class _FailingCache(MemoryBackend):
    async def largest_entries(self, limit: int) -> list[Any]:
        raise ConnectionError("down")


async def test_a_failing_backend_leaves_the_dashboard_up() -> None:
    app = PerformanceMiddleware(
        make_app(b"ok"), cache=_FailingCache(), admin=AdminConfig(token=TOKEN)
    )
    async with client(app) as c:
        response = await c.get("/_perf/dashboard.json", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["largest"] is None


def _state(hits: int, requests: int) -> dict[str, Any]:
    metrics = Metrics()
    metrics.cache("memory").hit = hits
    metrics.observe_compression("br", 1000, 300, 0.001)
    for _ in range(requests):
        metrics.observe_response(200, 0.003)
    return metrics.state()


def test_history_is_a_bounded_ring_of_snapshots() -> None:
    now = [100.0]
    states = iter([_state(n, n) for n in range(10)])
    history = History(lambda: next(states), interval=5.0, size=3, clock=lambda: now[0])
    for _ in range(6):
        history.maybe_sample()  # the same instant: one snapshot
        now[0] += 5.0
        history.maybe_sample()
    snapshots = history.as_list()
    assert [s["t"] for s in snapshots] == [120.0, 125.0, 130.0]
    assert [s["cache"]["hit"] for s in snapshots] == [4, 5, 6]
    assert snapshots[0]["bytes_saved"] == {"br": 700}
    assert sum(snapshots[-1]["latency_counts"]) == 6


async def test_history_timer_samples_on_the_running_loop_and_stops() -> None:
    history = History(lambda: _state(1, 1), interval=0.01, size=100)
    history.start()
    history.start()  # idempotent on one loop
    await asyncio.sleep(0.1)
    history.stop()
    taken = len(history.as_list())
    await asyncio.sleep(0.05)
    assert taken >= 3
    assert len(history.as_list()) == taken


def test_snapshot_and_percentiles() -> None:
    state = _state(2, 4)
    shot = snapshot(state, 1.5)
    assert shot["cache"] == {"hit": 2, "miss": 0, "stale": 0, "bypass": 0}
    bounds = state["response_time"]["bounds"]
    percentiles = latency_percentiles(bounds, shot["latency_counts"])
    assert 0.0025 < percentiles["p50"] <= 0.005  # every response took 3 ms
    assert latency_percentiles(bounds, [0] * (len(bounds) + 1)) == {
        "p50": None,
        "p95": None,
        "p99": None,
    }


async def test_lookups_are_counted_by_outcome_and_reason() -> None:
    app = PerformanceMiddleware(
        make_app(b"ok", headers=[(b"cache-control", b"public, max-age=60")]),
        cache=MemoryBackend(max_bytes=2**20),
        admin=AdminConfig(token=TOKEN),
    )
    async with client(app) as c:
        await c.get("/a")  # miss, no entry
        await c.get("/a")  # fresh hit
        await c.options("/a")
        await c.options("/a")
        data = (await c.get("/_perf/metrics.json", headers=AUTH)).json()
        text = (await c.get("/_perf/metrics", headers=AUTH)).text
    assert data["cache"]["memory"]["hit"] == 1
    assert data["cache_reasons"]["memory"] == {
        "miss": {"no-entry": 1},
        "bypass": {"method": 2},
    }
    assert (
        'perf_cache_lookup_reasons_total{backend="memory",outcome="bypass",reason="method"} 2.0'
        in text
    )

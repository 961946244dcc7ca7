"""Runtime rules, storage limits and the Workbox-style extras of the generated worker, in
real Chromium: what the navigation rule stores, byte budgets with least-recently-used
eviction, the opaque-response cap, quota errors during an update, update broadcasts,
debug logging, ignored query parameters and custom worker code."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.sw_app import SOURCES, build, deploy
from tests.browser.sw_support import (
    FETCH_JSON,
    UPDATE_WAIT_MS,
    USAGE,
    VERSION,
    WAIT_MS,
    controlled_page,
    noise,
    override_quota,
    wait_until,
)

pytestmark = pytest.mark.browser

KEYS = """(name) => caches.open(name).then((c) => c.keys())
  .then((k) => k.map((r) => new URL(r.url).pathname + new URL(r.url).search))"""


def _keys(page: Any, rule: str) -> list[str]:
    keys: list[str] = page.evaluate(KEYS, f"asset-pipeline-runtime-{rule}")
    return keys


def _stored(rule: str, expected: list[str]) -> str:
    joined = ",".join(expected)
    return f"({KEYS})('asset-pipeline-runtime-{rule}').then((k) => k.join() === '{joined}')"


def test_the_navigation_rule_stores_html_pages_only(site, context):
    _, server, _ = site
    page = controlled_page(context, server.url)
    with page.expect_download():  # a download: the navigation never commits
        page.evaluate("location.href = '/docs/export.html'")
    assert page.evaluate("fetch('/hits').then((r) => r.json())")["/docs/export.html"] == 1
    for path in ("/docs/report.pdf", "/docs/data.json", "/docs/private/notes", "/docs/guide"):
        response = page.goto(server.url + path)
        assert response is not None
        assert response.status == 200
    page.goto(server.url + "/")
    wait_until(
        page, f"({KEYS})('asset-pipeline-runtime-pages').then((k) => k.includes('/docs/guide'))"
    )
    stored = _keys(page, "pages")
    assert "/docs/export.html" not in stored  # Content-Disposition: attachment
    assert "/docs/report.pdf" not in stored  # not HTML
    assert "/docs/data.json" not in stored
    assert "/docs/private/notes" not in stored  # excluded by the rule
    context.set_offline(True)
    try:
        page.goto(server.url + "/docs/guide")
        assert page.text_content("#title") == "guide"
    finally:
        context.set_offline(False)


def test_a_byte_budget_evicts_the_least_recently_used_entry(site, context):
    _, server, _ = site
    page = controlled_page(context, server.url)
    pad = "?pad=1000"  # ~1.06 KB each: two fit in max_bytes = 2600, three do not
    for name in ("a", "b"):
        assert page.evaluate(FETCH_JSON, f"/api/lru/{name}{pad}")["body"]["n"] == 1
    wait_until(page, _stored("lru", [f"/api/lru/a{pad}", f"/api/lru/b{pad}"]))
    again = page.evaluate(FETCH_JSON, f"/api/lru/a{pad}")  # used: moves behind b
    assert again["stamped"] is True
    wait_until(page, _stored("lru", [f"/api/lru/b{pad}", f"/api/lru/a{pad}"]))
    assert page.evaluate(FETCH_JSON, f"/api/lru/c{pad}")["body"]["n"] == 1
    # b was stored after a but used less recently, so b goes
    wait_until(page, _stored("lru", [f"/api/lru/a{pad}", f"/api/lru/c{pad}"]))


def test_opaque_responses_are_capped_per_rule(site, context):
    _, server, _ = site
    page = controlled_page(context, server.url)
    other = f"http://localhost:{server.port}"
    no_cors = "(u) => fetch(u, { mode: 'no-cors' }).then((r) => r.type)"
    before = page.evaluate(USAGE)
    for name in ("a", "b", "c"):
        assert page.evaluate(no_cors, f"{other}/api/xo/{name}") == "opaque"
    wait_until(
        page,
        f"({KEYS})('asset-pipeline-runtime-opaque-ok').then((k) => k.join() === "
        "'/api/xo/b,/api/xo/c')",
    )
    # two ~70-byte bodies, yet the quota grows by far more: Chromium pads each opaque entry
    # by a random amount (megabytes, typically), which is why the cap matters
    assert page.evaluate(USAGE) - before > 100_000


def test_a_quota_error_during_an_update_drops_the_runtime_caches_and_retries(site, context):
    dist, server, _ = site
    page = controlled_page(context, server.url)
    for name in ("a", "b", "c"):
        assert page.evaluate(FETCH_JSON, f"/api/big/{name}?pad=150000")["body"]["n"] == 1
    wait_until(page, f"({KEYS})('asset-pipeline-runtime-big').then((k) => k.length === 3)")
    usage = page.evaluate(USAGE)
    cdp = override_quota(context, page, server.url, usage + 60_000)
    try:
        extra = {"js/extra.js": b"window.extra = " + noise(200_000, 200_000)}
        new = deploy(server, dist, dict(SOURCES, **extra))
        page.reload()
        # the new files do not fit next to the runtime entries: those are dropped, and the
        # install is retried
        page.wait_for_function("window.__events.includes('update')", timeout=UPDATE_WAIT_MS)
        assert "asset-pipeline-runtime-big" not in page.evaluate("caches.keys()")
        with page.expect_navigation(timeout=WAIT_MS):
            page.evaluate("window.__update.apply()")
        wait_until(
            page,
            f"navigator.serviceWorker.controller && ({VERSION})()"
            f".then((v) => v === '{new.version}')",
        )
    finally:
        cdp.detach()


def test_an_update_that_cannot_fit_is_reported_to_the_page(site, context):
    dist, server, old = site
    page = controlled_page(context, server.url)
    usage = page.evaluate(USAGE)
    cdp = override_quota(context, page, server.url, usage + 50_000)
    try:
        deploy(
            server,
            dist,
            dict(SOURCES, **{"js/extra.js": b"window.extra = " + noise(300_000, 300_000)}),
        )
        page.reload()
        page.wait_for_function(
            "window.__events.includes('install-failed:QuotaExceededError')",
            timeout=UPDATE_WAIT_MS,
        )
        assert page.evaluate(VERSION) == old.version  # the old version keeps serving
        registration = "navigator.serviceWorker.getRegistration().then((r) => !!r.waiting)"
        assert page.evaluate(registration) is False
    finally:
        cdp.detach()


def test_a_changed_runtime_entry_is_broadcast_to_the_pages(site, context):
    _, server, _ = site
    page = controlled_page(context, server.url)
    assert page.evaluate(FETCH_JSON, "/api/swr/a")["body"]["n"] == 1
    wait_until(page, f"({KEYS})('asset-pipeline-runtime-swr').then((k) => k.length === 1)")
    assert page.evaluate("window.__events.filter((e) => e.startsWith('cache-updated'))") == []
    page.evaluate(FETCH_JSON, "/api/swr/a")  # stale answer; the refresh differs (n = 2)
    page.wait_for_function(
        f"window.__events.includes('cache-updated:{server.url}/api/swr/a')", timeout=WAIT_MS
    )


def test_debug_mode_logs_the_strategy_decisions(site, context):
    dist, server, _ = site
    build(dist, SOURCES, extra_toml="debug = true")
    logs: list[str] = []
    context.on("console", lambda m: logs.append(m.text))
    page = controlled_page(context, server.url)
    page.evaluate(FETCH_JSON, "/api/cf/one")
    page.evaluate(FETCH_JSON, "/api/cf/one")
    wanted = ("rule cf cache-first", "cf cache miss", "cf cache hit")
    for _ in range(WAIT_MS // 100):  # console messages arrive asynchronously
        if all(any(w in line for line in logs) for w in wanted):
            break
        page.wait_for_timeout(100)
    assert any("[asset-pipeline sw] rule cf cache-first" in line for line in logs), logs
    assert any("cf cache miss" in line for line in logs)
    assert any("cf cache hit" in line for line in logs)


def test_tracking_parameters_are_ignored_by_precache_lookups(site, context):
    _, server, worker = site
    css = next(e.url for e in worker.precache if e.url.endswith(".css"))
    page = controlled_page(context, server.url)
    status = "(u) => fetch(u).then((r) => r.status, () => 'failed')"
    context.set_offline(True)
    try:
        assert page.evaluate(status, css + "?utm_source=news&fbclid=1") == 200
        assert page.evaluate(status, css + "?v=2") == "failed"  # a real parameter
    finally:
        context.set_offline(False)


CUSTOM = b"""self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'PING') event.ports[0].postMessage('PONG');
});
"""


def test_custom_worker_code_runs_through_import_scripts(site, context):
    dist, server, _ = site
    build(
        dist,
        dict(SOURCES, **{"js/custom-sw.js": CUSTOM}),
        extra_toml='import_scripts = ["js/custom-sw.js"]',
    )
    page = controlled_page(context, server.url)
    ping = """() => new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = (e) => resolve(e.data);
      setTimeout(() => resolve(null), 3000);
      navigator.serviceWorker.controller.postMessage({ type: 'PING' }, [channel.port2]);
    })"""
    assert page.evaluate(ping) == "PONG"

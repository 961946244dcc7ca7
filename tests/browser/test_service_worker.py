"""The generated sw.js in real headless Chromium against a real uvicorn server.

Every wait is bounded (a few seconds), so a broken worker fails fast instead of hanging.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser.sw_app import SOURCES, build, deploy
from tests.browser.sw_support import (
    CACHED_JSON,
    CACHES,
    COLOR,
    FETCH_JSON,
    META,
    PRECACHE,
    READY,
    UPDATE_WAIT_MS,
    VERSION,
    WAIT_MS,
    active_version_is,
    cached_urls,
    controlled_page,
    wait_until,
)
from tests.support.csp import RECORD_VIOLATIONS
from tests.support.servers import UvicornServer

pytestmark = pytest.mark.browser


def test_first_visit_precaches_exactly_the_manifest_urls(site, context):
    dist, server, _ = site
    page = context.new_page()
    page.goto(server.url + "/")
    assert page.evaluate(READY) is True
    caches = page.evaluate(CACHES)
    manifest = json.loads((dist / "manifest.json").read_text())["files"]
    expected = sorted(
        f"{server.url}/static/{manifest[name]['path']}"
        for name in ("css/app.css", "js/app.js", "offline.html", "sw-register.js")
    )
    assert caches[PRECACHE] == expected
    # besides the precache and its bookkeeping, only the page that registered the worker
    # (kept for offline), stored before the activate event completes
    page.wait_for_function(
        "navigator.serviceWorker.ready.then((r) => r.active.state === 'activated')"
    )
    caches = page.evaluate(CACHES)
    pages = "asset-pipeline-runtime-pages"
    assert set(caches) == {PRECACHE, META, pages}
    assert caches[pages] == [server.url + "/"]
    headers = page.evaluate(
        "fetch('/static/sw.js').then((r) => Object.fromEntries(r.headers.entries()))"
    )
    assert headers["cache-control"] == "no-cache"  # browsers must see every new version
    assert headers["service-worker-allowed"] == "/"


def _check_offline_behaviour(page: Any, server: UvicornServer, worker: Any) -> None:
    page.reload()
    assert page.text_content("#title") == "Home"  # the page, from the runtime cache
    assert page.evaluate(COLOR) == "rgb(200, 0, 0)"  # CSS from the precache
    assert page.evaluate("document.documentElement.dataset.js") == "loaded"
    css_url = next(e.url for e in worker.precache if e.url.endswith(".css"))
    assert page.evaluate("(u) => fetch(u).then((r) => r.status)", server.url + css_url) == 200
    page.goto(server.url + "/other")  # never visited: the offline page
    assert page.text_content("#offline") == "You are offline"


def test_offline_via_network_emulation(site, context):
    _, server, worker = site
    page = controlled_page(context, server.url)
    context.set_offline(True)
    try:
        _check_offline_behaviour(page, server, worker)
    finally:
        context.set_offline(False)
    page.goto(server.url + "/other")  # back online: the real page again
    assert page.text_content("#title") == "Other"


def test_offline_via_stopped_server(site, context):
    _, server, worker = site
    page = controlled_page(context, server.url)
    server.stop()
    try:
        _check_offline_behaviour(page, server, worker)
    finally:
        server.start()  # same port
    page.goto(server.url + "/other")
    assert page.text_content("#title") == "Other"


def test_update_flow_replaces_caches_and_applies_new_css(site, context):
    dist, server, old = site
    page = controlled_page(context, server.url)
    assert page.evaluate(VERSION) == old.version
    new_sources = dict(SOURCES, **{"css/app.css": b"body { color: rgb(0, 0, 200); }\n"})
    new = deploy(server, dist, new_sources)
    assert new.version != old.version
    page.reload()
    page.wait_for_function("window.__events.includes('update')", timeout=UPDATE_WAIT_MS)
    # the new worker waits (skip_waiting is off): it added only the changed stylesheet to
    # the one precache, which holds both versions' files; the old worker serves
    old_css = server.url + next(e.url for e in old.precache if e.url.endswith(".css"))
    new_css = server.url + next(e.url for e in new.precache if e.url.endswith(".css"))
    assert {old_css, new_css} <= set(page.evaluate(CACHES)[PRECACHE])
    assert page.evaluate(VERSION) == old.version
    with page.expect_navigation(timeout=WAIT_MS):
        page.evaluate("window.__update.apply()")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=WAIT_MS)
    assert page.evaluate(VERSION) == new.version
    # the page that ran the old version reloaded: nothing uses the old stylesheet now
    wait_until(page, f"({cached_urls()}).then((u) => !u.includes('{old_css}'))")
    assert new_css in page.evaluate(CACHES)[PRECACHE]
    assert page.evaluate(COLOR) == "rgb(0, 0, 200)"
    context.set_offline(True)  # the new CSS is served by the new precache
    try:
        page.reload()
        assert page.evaluate(COLOR) == "rgb(0, 0, 200)"
    finally:
        context.set_offline(False)


def test_network_first_falls_back_to_cache_offline(site, context):
    _, server, _ = site
    page = controlled_page(context, server.url)
    first = page.evaluate(FETCH_JSON, "/api/nf/a")
    assert first["body"]["n"] == 1
    assert first["stamped"] is False  # straight from the network
    context.set_offline(True)
    try:
        offline = page.evaluate(FETCH_JSON, "/api/nf/a")
    finally:
        context.set_offline(False)
    assert offline["body"]["n"] == 1
    assert offline["stamped"] is True  # from the runtime cache
    assert page.evaluate(FETCH_JSON, "/api/nf/a")["body"]["n"] == 2  # online: network again


def test_network_first_timeout_answers_from_cache_then_updates(site, context):
    _, server, _ = site
    page = controlled_page(context, server.url)
    assert page.evaluate(FETCH_JSON, "/api/slow/a")["body"]["n"] == 1
    # the server now takes 1.5 s; the rule's 0.3 s timeout answers from the cache
    late = page.evaluate(FETCH_JSON, "/api/slow/a")
    assert late["body"]["n"] == 1
    assert late["stamped"] is True
    wait_until(
        page,
        "fetch('/hits').then((r) => r.json()).then((h) => h['/api/slow/a'] === 2)",
        timeout=WAIT_MS,
    )
    wait_until(
        page,
        f"({CACHED_JSON})(['asset-pipeline-runtime-slow', '/api/slow/a']).then((n) => n === 2)",
        timeout=WAIT_MS,
    )


def test_stale_while_revalidate_returns_cached_then_updates(site, context):
    _, server, _ = site
    page = controlled_page(context, server.url)
    assert page.evaluate(FETCH_JSON, "/api/swr/a")["body"]["n"] == 1
    wait_until(
        page,
        f"({CACHED_JSON})(['asset-pipeline-runtime-swr', '/api/swr/a']).then((n) => n === 1)",
        timeout=WAIT_MS,
    )
    second = page.evaluate(FETCH_JSON, "/api/swr/a")
    assert second["body"]["n"] == 1  # stale copy answered at once
    assert second["stamped"] is True
    wait_until(
        page,  # ...while the network refreshed the cache
        f"({CACHED_JSON})(['asset-pipeline-runtime-swr', '/api/swr/a']).then((n) => n === 2)",
        timeout=WAIT_MS,
    )
    assert page.evaluate(FETCH_JSON, "/api/swr/a")["body"]["n"] == 2


def test_cache_first_serves_cached_and_keeps_max_entries(site, context):
    _, server, _ = site
    page = controlled_page(context, server.url)
    for name in ("one", "two", "three"):
        assert page.evaluate(FETCH_JSON, f"/api/cf/{name}")["body"]["n"] == 1
    wait_until(
        page,
        """caches.open('asset-pipeline-runtime-cf').then((c) => c.keys())
             .then((k) => k.map((r) => new URL(r.url).pathname).join())
             .then((paths) => paths === '/api/cf/two,/api/cf/three')""",
        timeout=WAIT_MS,
    )
    again = page.evaluate(FETCH_JSON, "/api/cf/three")
    assert again["body"]["n"] == 1
    assert again["stamped"] is True
    hits = page.evaluate("fetch('/hits').then((r) => r.json())")
    assert hits["/api/cf/three"] == 1  # never went back to the network


def test_data_reload_takes_the_update_and_reloads_by_itself(site, context):
    dist, server, old = site
    page = context.new_page()
    page.goto(server.url + "/?reload=1")
    assert page.evaluate(READY) is True
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=WAIT_MS)
    new = deploy(
        server, dist, dict(SOURCES, **{"css/app.css": b"body { color: rgb(0, 120, 0); }\n"})
    )
    loads = int(page.evaluate("sessionStorage.loads"))
    page.reload()
    # one load for our reload, one for the snippet's after the new worker took over
    page.wait_for_function(f"Number(sessionStorage.loads) === {loads + 2}", timeout=UPDATE_WAIT_MS)
    wait_until(
        page,
        f"navigator.serviceWorker.controller && ({VERSION})().then((v) => v === '{new.version}')",
        timeout=WAIT_MS,
    )
    old_css = server.url + next(e.url for e in old.precache if e.url.endswith(".css"))
    wait_until(page, f"({cached_urls()}).then((u) => !u.includes('{old_css}'))")
    assert page.evaluate(COLOR) == "rgb(0, 120, 0)"


INSTALL_SETTLED = """navigator.serviceWorker.getRegistration().then((r) =>
  window.__events.includes('registered') && (!r || (!r.installing && !r.waiting)))"""


def _swap_worker(dist: Path, source: str) -> None:
    """Replace sw.js under the running server (StaticAssets re-reads on a manifest change)."""
    (dist / "sw.js").write_text(source)
    manifest = dist / "manifest.json"
    stat = manifest.stat()
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_install_fails_whole_and_leaves_no_partial_cache_when_a_file_is_wrong(site, context):
    """A precache response that does not match the manifest's SRI (a stale or corrupt
    upload) makes the install fail as a whole; nothing half-filled is left behind, and
    the next visit with a correct worker installs normally."""
    dist, server, worker = site
    css = next(e for e in worker.precache if e.url.endswith(".css"))
    other = base64.b64encode(hashlib.sha384(b"other bytes").digest()).decode()
    _swap_worker(dist, worker.source.replace(css.integrity, "sha384-" + other))
    page = context.new_page()
    page.goto(server.url + "/")
    wait_until(page, INSTALL_SETTLED, timeout=WAIT_MS)
    active = "navigator.serviceWorker.getRegistration().then((r) => !!r?.active)"
    assert page.evaluate(active) is False
    assert page.evaluate(CACHES) == {}
    _swap_worker(dist, worker.source)
    page.reload()
    assert page.evaluate(READY) is True
    assert server.url + css.url in page.evaluate(CACHES)[PRECACHE]


def test_navigation_preload_fetches_the_page_alongside_the_worker(site, context):
    dist, server, _ = site
    build(dist, SOURCES, extra_toml="navigation_preload = true")
    page = controlled_page(context, server.url)
    page.reload()
    assert page.text_content("#title") == "Home"
    hits = page.evaluate("fetch('/hits').then((r) => r.json())")
    assert hits.get("preload:/", 0) >= 1  # the page request came from the preload
    enabled = "navigator.serviceWorker.ready.then((r) => r.navigationPreload.getState())"
    assert page.evaluate(enabled)["enabled"] is True


def test_skip_waiting_and_clients_claim_take_over_without_a_reload(site, context):
    dist, server, _ = site
    _, old = build(dist, SOURCES, extra_toml="skip_waiting = true\nclients_claim = true")
    page = context.new_page()
    page.goto(server.url + "/")
    # clients.claim(): the very first page is controlled without reloading
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=WAIT_MS)
    assert page.evaluate(VERSION) == old.version
    new_css = {"css/app.css": b"body { color: rgb(0, 0, 90); }\n"}
    new = deploy(server, dist, dict(SOURCES, **new_css), extra_toml="skip_waiting = true")
    page.reload()
    # skipWaiting(): the new version activates by itself, no apply() needed. Wait on the
    # caches its activation rewrites, not by messaging the old worker (see _retired_caches).
    wait_until(page, active_version_is(new.version), timeout=UPDATE_WAIT_MS)
    wait_until(
        page,
        f"navigator.serviceWorker.controller && ({VERSION})().then((v) => v === '{new.version}')",
        timeout=WAIT_MS,
    )


def test_opaque_cross_origin_responses_are_cached_only_when_the_rule_says_so(site, context):
    _, server, _ = site
    page = controlled_page(context, server.url)
    other = f"http://localhost:{server.port}"
    no_cors = "(u) => fetch(u, { mode: 'no-cors' }).then((r) => r.type)"
    for _ in range(2):
        assert page.evaluate(no_cors, other + "/api/xo/a") == "opaque"
        assert page.evaluate(no_cors, other + "/api/xn/a") == "opaque"
    hits = page.evaluate("fetch('/hits').then((r) => r.json())")
    assert hits["/api/xo/a"] == 1  # cache_opaque = true: the second answer came from the cache
    assert hits["/api/xn/a"] == 2  # default: an opaque response is never stored
    keys = "(n) => caches.open(n).then((c) => c.keys()).then((k) => k.length)"
    assert page.evaluate(keys, "asset-pipeline-runtime-opaque-ok") == 1
    assert page.evaluate(keys, "asset-pipeline-runtime-opaque-no") == 0


def test_max_age_expires_runtime_entries(site, context):
    _, server, _ = site
    page = controlled_page(context, server.url)
    assert page.evaluate(FETCH_JSON, "/api/age/a")["body"]["n"] == 1
    wait_until(
        page,
        f"({CACHED_JSON})(['asset-pipeline-runtime-age', '/api/age/a']).then((n) => n === 1)",
        timeout=WAIT_MS,
    )
    assert page.evaluate(FETCH_JSON, "/api/age/a")["body"]["n"] == 1  # fresh: from the cache
    page.wait_for_timeout(1200)  # let the entry pass max_age_seconds = 1
    assert page.evaluate(FETCH_JSON, "/api/age/a")["body"]["n"] == 2  # expired: network


def _retired_caches() -> str:
    """True once the retiring worker has activated (it deletes every cache of ours).

    Waiting for a skip-waiting worker must not message the worker it replaces: each
    GET_VERSION is an event the old worker has to finish, and Chromium activates the new
    worker only once the old one has no event in flight, so polling the old worker every
    100 ms can keep the new one ``installed`` for as long as the test waits."""
    return "caches.keys().then((k) => k.length === 0)"


def test_retiring_worker_drops_the_caches_and_lets_requests_through(site, context):
    dist, server, _ = site
    page = controlled_page(context, server.url)
    assert page.evaluate(CACHES) != {}
    retired = deploy(server, dist, SOURCES, extra_toml="retire = true")
    page.reload()  # the retiring worker installs and takes over by itself
    wait_until(page, _retired_caches(), timeout=UPDATE_WAIT_MS)
    wait_until(
        page,
        f"navigator.serviceWorker.controller && ({VERSION})()"
        f".then((v) => v === '{retired.version}')",
        timeout=WAIT_MS,
    )
    page.goto(server.url + "/other")  # straight from the network, nothing stored again
    assert page.text_content("#title") == "Other"
    assert page.evaluate(CACHES) == {}
    context.set_offline(True)
    try:  # no offline page any more: the worker no longer answers
        with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
            page.goto(server.url + "/never")
    finally:
        context.set_offline(False)


def test_the_inline_snippet_registers_under_a_nonce_policy(site, context):
    _, server, _ = site
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    response = page.goto(server.url + "/csp-inline")
    assert response is not None
    assert "script-src 'nonce-" in response.headers["content-security-policy"]
    wait_until(page, "navigator.serviceWorker.getRegistration().then((r) => !!r && !!r.active)")
    assert page.evaluate("window.__violations") == []

"""The service worker across deploys, tabs, storage pressure and media, in real Chromium.

Eviction of the HTTP cache is stood in for by CDP's ``Network.clearBrowserCache`` (what a
browser under storage pressure does first), a small quota by
``Storage.overrideQuotaForOrigin``.
"""

from __future__ import annotations

import io
import wave
from typing import Any

import pytest

from tests.browser.sw_app import SOURCES, build, deploy
from tests.browser.sw_support import (
    CACHES,
    COLOR,
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

BLUE = {"css/app.css": b"body { color: rgb(0, 0, 200); }\n"}


def _clear_http_cache(context: Any, page: Any) -> None:
    cdp = context.new_cdp_session(page)
    try:
        cdp.send("Network.clearBrowserCache")
    finally:
        cdp.detach()


def _wait_for_update(page: Any) -> None:
    page.reload()
    page.wait_for_function("window.__events.includes('update')", timeout=UPDATE_WAIT_MS)


def _css_url(worker: Any) -> str:
    return next(e.url for e in worker.precache if e.url.endswith(".css"))


STATUS = "(u) => fetch(u).then((r) => r.status, () => 'failed')"


def test_applying_an_update_in_one_tab_keeps_the_old_assets_for_the_other_tab(site, context):
    dist, server, old = site
    tab_a = controlled_page(context, server.url)
    tab_b = context.new_page()
    tab_b.goto(server.url + "/other")
    tab_b.wait_for_function("navigator.serviceWorker.controller !== null", timeout=WAIT_MS)
    new = deploy(server, dist, dict(SOURCES, **BLUE))
    _wait_for_update(tab_a)
    with tab_a.expect_navigation(timeout=WAIT_MS):
        tab_a.evaluate("window.__update.apply()")
    wait_until(
        tab_a,
        f"navigator.serviceWorker.controller && ({VERSION})().then((v) => v === '{new.version}')",
    )
    assert tab_a.evaluate(COLOR) == "rgb(0, 0, 200)"
    _clear_http_cache(context, tab_b)
    # tab B still runs the old HTML: its stylesheet is gone from the server, not from the worker
    old_css = server.url + _css_url(old)
    assert tab_b.evaluate(STATUS, old_css) == 200
    assert tab_b.evaluate("(u) => fetch(u).then((r) => r.text())", old_css).startswith("body")
    assert tab_b.text_content("#title") == "Other"
    # once no page runs the old version, its assets are dropped
    tab_b.close()
    tab_a.reload()
    wait_until(
        tab_a,
        f"({CACHES})().then((c) => !Object.values(c).flat().includes('{old_css}'))",
        timeout=UPDATE_WAIT_MS,
    )
    assert tab_a.evaluate(STATUS, old_css) == 404


def test_offline_right_after_a_deploy_serves_the_new_page_with_its_new_css(site, context):
    dist, server, _ = site
    page = controlled_page(context, server.url)
    new = deploy(server, dist, dict(SOURCES, **BLUE))
    _wait_for_update(page)  # the new HTML is stored; the new worker waits
    assert page.evaluate(COLOR) == "rgb(0, 0, 200)"
    assert page.evaluate(VERSION) != new.version  # still the old worker
    _clear_http_cache(context, page)
    context.set_offline(True)
    try:
        page.reload()
        assert page.text_content("#title") == "Home"
        assert page.evaluate(COLOR) == "rgb(0, 0, 200)"  # new HTML, new CSS
    finally:
        context.set_offline(False)


BIG = {"js/big.js": b"window.big = " + noise(300_000, 1)}


def test_an_update_near_the_quota_fetches_only_the_changed_file(site, context):
    dist, server, _ = site
    build(dist, dict(SOURCES, **BIG))
    page = controlled_page(context, server.url)
    usage = page.evaluate(USAGE)
    assert usage > 300_000
    # room for the changed stylesheet, not for a second copy of every file
    cdp = override_quota(context, page, server.url, usage + 120_000)
    try:
        new = deploy(server, dist, dict(SOURCES, **BIG, **BLUE))
        _wait_for_update(page)
        with page.expect_navigation(timeout=WAIT_MS):
            page.evaluate("window.__update.apply()")
        wait_until(
            page,
            f"navigator.serviceWorker.controller && ({VERSION})()"
            f".then((v) => v === '{new.version}')",
        )
        assert page.evaluate(COLOR) == "rgb(0, 0, 200)"
        assert page.evaluate(USAGE) < usage + 120_000
    finally:
        cdp.detach()


def _wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(bytes((128 + (i % 32) - 16) for i in range(int(seconds * rate))))
    return out.getvalue()


MEDIA = 'precache = ["*.css", "*.js", "media/*.wav"]'


def test_precached_media_answers_range_requests_and_plays_offline(site, context):
    dist, server, _ = site
    _, worker = build(dist, dict(SOURCES, **{"media/tone.wav": _wav()}), extra_toml=MEDIA)
    wav = next(e.url for e in worker.precache if e.url.endswith(".wav"))
    page = controlled_page(context, server.url)
    _clear_http_cache(context, page)
    context.set_offline(True)
    try:
        ranged = page.evaluate(
            """async (u) => {
              const r = await fetch(u, { headers: { range: 'bytes=4-11' } });
              const body = new Uint8Array(await r.arrayBuffer());
              return { status: r.status, range: r.headers.get('content-range'),
                       text: String.fromCharCode(...body) };
            }""",
            wav,
        )
        assert ranged["status"] == 206
        assert ranged["range"] == f"bytes 4-11/{len(_wav())}"
        assert ranged["text"] == _wav()[4:12].decode("latin-1")
        played = page.evaluate(
            """(u) => new Promise((resolve) => {
              const audio = new Audio();
              audio.muted = true;
              audio.onloadedmetadata = () => resolve(audio.duration);
              audio.onerror = () => resolve('error ' + (audio.error && audio.error.code));
              audio.src = u;
            })""",
            wav,
        )
        assert played == pytest.approx(1.0, abs=0.01)
    finally:
        context.set_offline(False)

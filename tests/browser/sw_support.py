"""Constants and helpers shared by the service-worker browser tests."""

from __future__ import annotations

import random
import time
from typing import Any

from playwright.sync_api import Error as PlaywrightError

WAIT_MS = 8000
#: Chromium looks for a new sw.js a few seconds after a navigation, later on a busy machine.
UPDATE_WAIT_MS = 20000

READY = "navigator.serviceWorker.ready.then(() => true)"
CACHES = """async () => {
  const out = {};
  for (const name of await caches.keys()) {
    out[name] = (await (await caches.open(name)).keys()).map((r) => r.url).sort();
  }
  return out;
}"""
FETCH_JSON = """async (url) => {
  const r = await fetch(url);
  return { status: r.status, body: await r.json(), stamped: r.headers.has('x-sw-cached-at') };
}"""
CACHED_JSON = """async ([cache, url]) => {
  const r = await (await caches.open(cache)).match(url);
  return r ? (await r.json()).n : null;
}"""
COLOR = "getComputedStyle(document.body).color"
USAGE = "navigator.storage.estimate().then((e) => e.usage)"
#: The controlling worker's version; null if it does not answer within a second (a worker
#: replaced while the message is on its way never answers, and an unsettled promise would
#: keep ``page.evaluate`` waiting without a timeout).
VERSION = """() => new Promise((resolve) => {
  const channel = new MessageChannel();
  channel.port1.onmessage = (e) => resolve(e.data.version);
  setTimeout(() => resolve(null), 1000);
  navigator.serviceWorker.controller.postMessage({ type: 'GET_VERSION' }, [channel.port2]);
})"""


def wait_until(page: Any, expression: str, *, timeout: int = WAIT_MS) -> None:
    """Poll ``expression`` (awaited, unlike ``page.wait_for_function``, which takes a
    returned promise as truthy) until it is truthy; retried across navigations."""
    deadline = time.monotonic() + timeout / 1000
    problem: Exception | None = None
    while True:
        try:
            if page.evaluate(expression):
                return
        except PlaywrightError as exc:  # the page navigated while evaluating
            problem = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} ms: {expression} ({problem})")
        page.wait_for_timeout(100)


def controlled_page(context: Any, url: str) -> Any:
    """First visit installs the worker; a reload puts the page under its control (and
    lets the network-first rule store the page)."""
    page = context.new_page()
    page.goto(url + "/")
    assert page.evaluate(READY) is True
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=WAIT_MS)
    return page


PRECACHE = "asset-pipeline-precache"
META = "asset-pipeline-meta"


def active_version_is(version: str) -> str:
    """True once the worker bookkeeping records ``version`` as the active one (read from
    the cache, so waiting on it sends no event to any worker)."""
    return (
        f"caches.open('{META}').then((c) => c.match('/__asset-pipeline-sw__/state'))"
        f".then((r) => r ? r.json() : null).then((m) => !!m && m.active === '{version}')"
    )


def cached_urls() -> str:
    """Every URL held by any of the worker's caches."""
    return f"({CACHES})().then((c) => Object.values(c).flat())"


def override_quota(context: Any, page: Any, origin: str, size: int) -> Any:
    """Give ``origin`` a storage quota of ``size`` bytes (what a small disk would); the
    returned CDP session keeps the override until it is detached."""
    cdp = context.new_cdp_session(page)
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin, "quotaSize": size})
    return cdp


def noise(size: int, seed: int) -> bytes:
    """Incompressible text in a string literal (a minifier keeps strings)."""
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return ("'" + "".join(rng.choice(alphabet) for _ in range(size)) + "';\n").encode()

"""The example in headless Chromium, the way a new visitor meets it: fresh profiles, the
network counted, offline after the first page, an edit read back through the worker."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from examples.starlette_app.app import create_app
from examples.starlette_app.store import DeckStore

from asset_pipeline.manifest import load_manifest
from perf_middleware import MemoryBackend
from tests.support.browser import browser_context
from tests.support.servers import UvicornServer

pytestmark = pytest.mark.browser
WAIT_MS = 10_000


@pytest.fixture
def server(example_dist: Path, tmp_path: Path) -> Iterator[UvicornServer]:
    store = DeckStore(tmp_path / "decks.sqlite3", delay=0.01)
    app = create_app(dist=example_dist, cache=MemoryBackend(max_bytes=8 * 2**20), store=store)
    with UvicornServer(app) as running:
        yield running


@pytest.fixture
def fresh(chromium: Any) -> Iterator[Any]:
    """A new profile with the service worker blocked: every fetch is the page's own."""
    yield from browser_context(chromium, WAIT_MS, service_workers="block")


def visit(context: Any, url: str) -> tuple[Any, Counter[str], list[str], list[Any]]:
    page = context.new_page()
    fetched: Counter[str] = Counter()
    console: list[str] = []
    failed: list[Any] = []
    page.on("request", lambda request: fetched.update([request.url]))
    page.on("console", lambda message: console.append(message.text))
    page.on(
        "response", lambda response: failed.append(response) if response.status >= 400 else None
    )
    page.goto(url, wait_until="load")
    page.wait_for_function("document.fonts.status === 'loaded'")
    return page, fetched, console, failed


def test_every_asset_is_fetched_once_on_a_first_visit(
    server: UvicornServer, fresh: Any, example_dist: Path
) -> None:
    """Preload hints (Link header) and tags agree on integrity and crossorigin, so
    Chromium uses each preload instead of fetching the file again; the favicon exists."""
    manifest = load_manifest(example_dist)
    for path in ("/", "/decks/1/2"):
        page, fetched, console, failed = visit(fresh, server.url + path)
        assets = {url: n for url, n in fetched.items() if "/static/" in url}
        for name in ("css/app.css", "css/slides.css", "js/app.js", "js/pager.js"):
            assert server.url + "/static/" + manifest[name].path in assets, name
        font = server.url + "/static/" + manifest["fonts/deck-serif.ttf"].path
        assert font in assets
        assert {url: n for url, n in assets.items() if n != 1} == {}
        assert not [m for m in console if "preload" in m], console
        assert failed == []  # no favicon 404
        assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith(
            '"Deck Serif"'
        )
        icon = page.evaluate("document.querySelector('link[rel=icon]').href")
        assert fetched[icon] == 1
        page.close()


def test_the_entry_module_runs(server: UvicornServer, fresh: Any) -> None:
    """base.html says ``script("js/app.js")``: the manifest knows it is a module (it
    imports pager.js), so it runs, and ArrowRight moves to the next slide."""
    page, _, console, _ = visit(fresh, server.url + "/decks/1/1")
    assert page.evaluate("document.querySelector('script[src*=\"/js/app.\"]').type") == "module"
    page.keyboard.press("ArrowRight")
    page.wait_for_url(server.url + "/decks/1/2")
    assert not [m for m in console if "import statement" in m]


def test_not_found_is_a_page_in_the_site_style(server: UvicornServer, fresh: Any) -> None:
    page = fresh.new_page()
    response = page.goto(server.url + "/no/such/page")
    assert response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    assert page.inner_text("h1") == "Not found"
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Deck Serif"')
    response = page.goto(server.url + "/decks/1/99")
    assert response.status == 404
    assert page.inner_text(".not-found p") == "No such slide."


@pytest.fixture
def with_worker(chromium: Any) -> Iterator[Any]:
    yield from browser_context(chromium, WAIT_MS, service_workers="allow")


def test_the_first_page_opened_is_available_offline(
    server: UvicornServer, with_worker: Any
) -> None:
    """Fresh profile, a deck opened first (it registers the worker), offline, reload:
    the deck, not the offline page."""
    page = with_worker.new_page()
    page.goto(server.url + "/decks/2/1")
    # evaluate() awaits the promise: the worker is installed and active after this
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => !!r.active)")
    with_worker.set_offline(True)
    page.reload()
    assert page.inner_text("article.slide h2") == "Precache"


def test_an_edit_is_read_back_at_once_through_the_worker(
    server: UvicornServer, with_worker: Any
) -> None:
    """The API is stale-while-revalidate in the worker; the page that saved drops what it
    changed, so its own next read has the new title."""
    page = with_worker.new_page()
    page.goto(server.url + "/decks/1/1")
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => !!r.active)")
    page.goto(server.url + "/decks/1/2")  # a page the worker controls
    assert page.evaluate("!!navigator.serviceWorker.controller")
    read = "fetch('/api/presentations').then((r) => r.json()).then((d) => d[0].title)"
    assert page.evaluate(read) == "Making web apps fast without rewriting them"
    assert page.evaluate(read) == "Making web apps fast without rewriting them"  # cached now
    page.goto(server.url + "/decks/1/edit")
    page.fill("#title", "Fast apps, edited")
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/decks/1/1")
    assert page.evaluate(read) == "Fast apps, edited"

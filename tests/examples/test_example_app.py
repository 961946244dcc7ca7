"""The example app end to end: a real asset build, real uvicorn, real Chromium."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.starlette_app.app import DeferredApp, app, create_app
from examples.starlette_app.store import DeckStore

from asset_pipeline.manifest import load_manifest
from perf_middleware import MemoryBackend
from tests.support.csp import RECORD_VIOLATIONS, STRICT, WithCSP
from tests.support.servers import UvicornServer


@pytest.fixture
def served(example_dist: Path, tmp_path: Path) -> Iterator[tuple[UvicornServer, DeckStore]]:
    store = DeckStore(tmp_path / "decks.sqlite3", delay=0.02)
    app = create_app(dist=example_dist, cache=MemoryBackend(max_bytes=8 * 2**20), store=store)
    with UvicornServer(app) as server:
        yield server, store


def test_missing_build_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no manifest\.json.*HINT: run `make demo`"):
        create_app(dist=tmp_path)


async def test_the_module_level_app_reports_a_missing_build_at_startup(tmp_path: Path) -> None:
    """``app`` is importable without a build; the server's startup fails with the hint."""
    deferred = DeferredApp(functools.partial(create_app, dist=tmp_path))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await deferred({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "HINT: run `make demo`" in sent[0]["message"]
    with pytest.raises(ValueError, match="no manifest"):
        await deferred({"type": "http"}, receive, send)
    assert isinstance(app, DeferredApp)


def test_pages_are_cached_and_an_edit_invalidates_them_by_tag(
    served: tuple[UvicornServer, DeckStore],
) -> None:
    server, store = served
    with httpx.Client(base_url=server.url, headers={"accept-encoding": "br"}) as client:
        first = client.get("/decks/1/2")
        assert first.status_code == 200
        assert first.headers["content-encoding"] == "br"
        assert "stored" in first.headers["cache-status"]
        assert "<h2>Validators</h2>" in first.text
        queries = store.queries

        again = client.get("/decks/1/2")
        assert again.headers["cache-status"].split(";")[1].strip() == "hit"
        assert store.queries == queries  # answered from the cache: no query ran

        # the browser's revalidation is a 304 from the cache
        not_modified = client.get("/decks/1/2", headers={"if-none-match": again.headers["etag"]})
        assert not_modified.status_code == 304

        edited = client.post(
            "/decks/1/edit",
            data={"title": "Faster apps", "slide-2": "Edited body text."},
            follow_redirects=False,
        )
        assert edited.status_code == 303
        assert edited.headers["location"] == "/decks/1/1"

        after = client.get("/decks/1/2")
        assert "fwd=uri-miss" in after.headers["cache-status"]
        assert "Edited body text." in after.text
        api = client.get("/api/presentations/1/slides/2").json()
        assert api == {"deck": 1, "number": 2, "title": "Validators", "body": "Edited body text."}
        listing = client.get("/api/presentations").json()
        assert listing[0]["title"] == "Faster apps"


def test_edit_form_validation(served: tuple[UvicornServer, DeckStore]) -> None:
    server, _ = served
    with httpx.Client(base_url=server.url) as client:
        assert client.post("/decks/1/edit", data={"title": "  "}).status_code == 400
        assert client.post("/decks/99/edit", data={"title": "x"}).status_code == 404
        assert client.get("/decks/1/99").status_code == 404
        assert client.get("/api/presentations/7/slides/1").status_code == 404
        huge = client.post("/decks/1/edit", content=b"title=" + b"a" * 70_000)
        assert huge.status_code == 413


def test_pages_use_the_build(served: tuple[UvicornServer, DeckStore], example_dist: Path) -> None:
    server, _ = served
    manifest = load_manifest(example_dist)
    css = manifest["css/app.css"]
    with httpx.Client(base_url=server.url) as client:
        page = client.get("/")
        assert f'href="/static/{css.path}"' in page.text
        assert f'integrity="{css.integrity}"' in page.text
        modern = {a.content_type for a in manifest["img/hero.jpg"].alternates} & {
            "image/avif",
            "image/webp",
        }
        assert modern, "the build made no modern alternate of the hero photo"
        for content_type in modern:
            assert re.search(rf'<source type="{content_type}" srcset="[^"]*480w', page.text)
        links = page.headers["link"]
        assert f"</static/{css.path}>; rel=preload; as=style" in links
        font = manifest["fonts/deck-serif.ttf"]
        assert font.path.endswith(".woff2")
        assert f"</static/{font.path}>; rel=preload; as=font" in links

        asset = client.get(f"/static/{css.path}", headers={"accept-encoding": "br"})
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-encoding"] == "br"
        worker = client.get("/static/sw.js")
        assert worker.headers["cache-control"] == "no-cache"
        assert worker.headers["service-worker-allowed"] == "/"


@pytest.mark.browser
def test_the_deck_stays_readable_offline(served: tuple[UvicornServer, DeckStore], chromium) -> None:  # type: ignore[no-untyped-def]
    server, _ = served
    context = chromium.new_context(service_workers="allow")
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        # evaluate() awaits the promise: the worker is installed and active after this
        assert page.evaluate("navigator.serviceWorker.ready.then((r) => !!r.active)")
        # a controlled navigation: the worker's network-first rule keeps this page
        page.goto(server.url + "/decks/2/1")
        assert page.evaluate("!!navigator.serviceWorker.controller")
        assert page.inner_text("article.slide h2") == "Precache"

        context.set_offline(True)
        page.goto(server.url + "/decks/2/1")
        assert page.inner_text("article.slide h2") == "Precache"
        # the precached stylesheet still applies offline
        assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith(
            '"Deck Serif"'
        )
        # a page never visited falls back to the offline page from the precache
        page.goto(server.url + "/decks/3/2")
        assert page.inner_text("h1") == "You are offline"
    finally:
        context.close()


#: True once a worker is active; false after 8 s (``ready`` alone never settles when
#: registration was blocked).
READY_WITHIN_8S = """Promise.race([
  navigator.serviceWorker.ready.then((r) => !!r.active),
  new Promise((resolve) => setTimeout(resolve, 8000, false)),
])"""


@pytest.mark.browser
def test_the_example_registers_its_worker_under_a_strict_csp(example_dist: Path, chromium) -> None:  # type: ignore[no-untyped-def]
    """``default-src 'self'; script-src 'self'; require-trusted-types-for 'script'``: the
    worker registers, controls the page and serves it offline, with no violation."""
    app = create_app(dist=example_dist, cache=MemoryBackend(max_bytes=8 * 2**20))
    context = chromium.new_context(service_workers="allow")
    context.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    try:
        with UvicornServer(WithCSP(app, STRICT)) as server:
            page = context.new_page()
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            response = page.goto(server.url + "/decks/2/1")
            assert response is not None
            assert response.headers["content-security-policy"] == STRICT
            assert page.evaluate(READY_WITHIN_8S)
            page.reload()
            page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=8000)
            assert page.inner_text("article.slide h2") == "Precache"
            context.set_offline(True)
            page.reload()
            assert page.inner_text("article.slide h2") == "Precache"
            assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith(
                '"Deck Serif"'
            )
            page.goto(server.url + "/decks/3/2")  # never visited: the offline page
            assert page.inner_text("h1") == "You are offline"
            assert page.evaluate("window.__violations") == []
            context.set_offline(False)
        assert [m for m in console if "Content Security Policy" in m or "Trusted" in m] == []
    finally:
        context.close()


def test_admin_api_is_mounted_only_with_a_token(
    example_dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PERF_ADMIN_TOKEN", raising=False)
    public = create_app(dist=example_dist, cache=MemoryBackend(max_bytes=2**20))
    with UvicornServer(public) as server, httpx.Client(base_url=server.url) as client:
        # without a token only the Web Vitals beacon (and its script) is mounted
        assert client.get("/_perf/metrics").status_code == 404
        assert client.get("/_perf/").status_code == 404
        assert client.get("/_perf/vitals").status_code == 405
    token = "example-admin-token-0123456789"
    monkeypatch.setenv("PERF_ADMIN_TOKEN", token)
    app = create_app(dist=example_dist, cache=MemoryBackend(max_bytes=2**20))
    with UvicornServer(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/api/presentations").status_code == 200
        assert client.get("/_perf/metrics").status_code == 401
        metrics = client.get("/_perf/metrics.json", headers={"authorization": f"Bearer {token}"})
        assert metrics.status_code == 200
        assert metrics.json()["requests"]["total"] == 1

"""The example: a small slide-deck site behind ``PerformanceMiddleware``.

``make demo`` builds ``static/`` with ``asset-pipeline build`` (config in ``assets.toml``)
into ``dist/`` and serves this app on http://127.0.0.1:8000 with embedded defaults: an
in-memory response cache, local files. What it shows:

* ``/`` and ``/decks/{id}/{n}``: Jinja pages using ``picture()``, ``stylesheet()``,
  ``script()`` and ``asset_url()``; ``Link: rel=preload`` hints; a blake3 ETag, 304s,
  zstd/br/gzip; kept in the shared response cache (``s-maxage``) and dropped by tag when a
  deck is edited (``POST /decks/{id}/edit``).
* ``/api/presentations`` and ``/api/presentations/{id}/slides/{n}``: JSON over a slow query
  (``DECK_QUERY_DELAY``, 50 ms) cached twice: whole responses, and the query through
  ``@cached`` on the same backend and tags.
* ``/static/...``: the build, precompressed and image-negotiated by ``StaticAssets``;
  ``/static/sw.js`` keeps the decks readable offline. Unknown pages get an HTML 404 in
  the site's style. After a rebuild that changed a bundle, a returning browser gets it
  as a ``dcz`` delta against the version it holds (RFC 9842).
* Decks live in an SQLite file (``DECK_DB``, created and seeded on first start) that
  every worker process shares: ``uvicorn --workers 2`` with ``REDIS_URL`` keeps one
  shared store and one shared cache.
* ``app`` is a plain module-level ASGI app, so every server loads it (``uvicorn``,
  ``hypercorn``); it builds the site when the server starts it. Under
  hypercorn over HTTP/2 a page that misses the cache gets a ``103 Early Hints`` first.
* ``/_perf/...``: the admin API when ``PERF_ADMIN_TOKEN`` is set
  (``curl -H "Authorization: Bearer $PERF_ADMIN_TOKEN" localhost:8000/_perf/metrics``), with
  the dashboard at ``/_perf/`` and real-user Web Vitals from every page (the beacon
  endpoint ``/_perf/vitals`` is public and on even without a token);
  ``PERF_SERVER_TIMING=1`` adds ``Server-Timing``; ``REDIS_URL=redis://...`` moves the
  cache to Redis; ``ASSETS_CDN_URL=https://cdn.example.com/static`` points asset URLs at a
  CDN that ``asset-pipeline upload dist --bucket ...`` filled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from examples.starlette_app.store import Deck, DeckStore, Slide
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from asset_pipeline.manifest import MANIFEST_NAME, ManifestError
from perf_middleware import (
    AdminConfig,
    Assets,
    CacheBackend,
    MemoryBackend,
    PerformanceMiddleware,
    PreloadHints,
    StaticAssets,
    WebVitals,
    cached,
)
from perf_middleware.types import Receive, Scope, Send

HERE = Path(__file__).resolve().parent
DIST = Path(os.environ.get("PERF_DEMO_DIST", HERE / "dist"))
DECK_DB = Path(os.environ.get("DECK_DB", HERE / "decks.sqlite3"))
STATIC_PREFIX = "/static"
#: What ``base.html`` renders on every page: hinted (103) before the app has run.
LAYOUT_ASSETS = ("css/app.css", "js/app.js")

#: Pages: browsers revalidate every time (cheap 304s); the shared cache keeps them 5 min
#: and an edit drops them at once by tag.
PAGE_CACHE_CONTROL = "public, max-age=0, s-maxage=300"
API_CACHE_CONTROL = "public, max-age=10, s-maxage=300, stale-while-revalidate=30"
FORM_MAX_BYTES = 64 * 1024


def make_backend() -> CacheBackend:
    """Redis when ``REDIS_URL`` is set (several workers share it), else memory."""
    url = os.environ.get("REDIS_URL")
    if url:
        from perf_middleware import RedisBackend

        return RedisBackend(url)
    return MemoryBackend(max_bytes=64 * 2**20)


def deck_tags(deck_id: int) -> list[str]:
    return [f"presentation:{deck_id}"]


def _tags_header(*tags: str) -> dict[str, str]:
    return {"cache-tag": ", ".join(tags)}


def create_app(
    *,
    dist: Path = DIST,
    cache: CacheBackend | None = None,
    store: DeckStore | None = None,
    admin: AdminConfig | None = None,
    server_timing: bool | None = None,
    dictionary_transport: bool = True,
) -> PerformanceMiddleware:
    """Build the whole example; tests call it with their own build, store and backend.
    ``dictionary_transport=False`` turns the RFC 9842 deltas of changed bundles off."""
    if not (dist / MANIFEST_NAME).is_file():
        raise ManifestError(
            f"{dist}: no {MANIFEST_NAME}. HINT: run `make demo`, or "
            "`asset-pipeline build examples/starlette_app/static --out "
            "examples/starlette_app/dist --config examples/starlette_app/assets.toml`."
        )
    backend = cache if cache is not None else make_backend()
    decks = store if store is not None else DeckStore(DECK_DB)
    static = StaticAssets(
        dist,
        prefix=STATIC_PREFIX,
        service_worker_allowed="/",
        dictionary_transport=dictionary_transport,
    )
    assets = Assets(static, cdn_url=os.environ.get("ASSETS_CDN_URL") or None)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    assets.install(templates)
    # the build wrote sw.js and the registration script it loads (no inline code, so a
    # strict Content-Security-Policy allows it)
    templates.env.globals["has_service_worker"] = (dist / "sw.js").is_file()
    WebVitals().install(templates)  # {{ web_vitals() }} in base.html: real-user page loads

    load_decks = cached(ttl=300, backend=backend, tags=["presentations"])(decks.all)
    load_deck = cached(ttl=300, backend=backend, tags=deck_tags)(decks.get)

    def page(request: Request, name: str, context: dict[str, Any], *tags: str) -> Response:
        response = templates.TemplateResponse(request, name, context)
        response.headers["cache-control"] = PAGE_CACHE_CONTROL
        response.headers.update(_tags_header(*tags))
        return response

    def not_found(request: Request, message: str) -> Response:
        """The site's own 404 page for browsers; plain text for the API."""
        if request.url.path.startswith("/api/"):
            return Response(message, status_code=404, media_type="text/plain")
        context = {"message": message}
        response = templates.TemplateResponse(request, "404.html", context, status_code=404)
        response.headers["cache-control"] = "no-cache"
        return response

    async def unknown_path(request: Request, exc: Exception) -> Response:
        return not_found(request, "There is no page at this address.")

    async def deck_or_404(request: Request) -> Deck | Response:
        deck: Deck | None = await load_deck(request.path_params["deck_id"])
        if deck is None:
            return not_found(request, "No such presentation.")
        return deck

    async def index(request: Request) -> Response:
        return page(request, "index.html", {"decks": await load_decks()}, "presentations")

    async def slide_or_404(request: Request) -> tuple[Deck, int, Slide] | Response:
        deck = await deck_or_404(request)
        if isinstance(deck, Response):
            return deck
        number: int = request.path_params["number"]
        if not 1 <= number <= len(deck.slides):
            return not_found(request, "No such slide.")
        return deck, number, deck.slides[number - 1]

    async def slide(request: Request) -> Response:
        found = await slide_or_404(request)
        if isinstance(found, Response):
            return found
        deck, number, current = found
        context = {"deck": deck, "number": number, "slide": current}
        return page(request, "deck.html", context, f"presentation:{deck.id}")

    async def edit_form(request: Request) -> Response:
        deck = await deck_or_404(request)
        if isinstance(deck, Response):
            return deck
        response = templates.TemplateResponse(request, "edit.html", {"deck": deck})
        response.headers["cache-control"] = "no-store"
        return response

    async def edit_submit(request: Request) -> Response:
        deck_id: int = request.path_params["deck_id"]
        if int(request.headers.get("content-length") or 0) > FORM_MAX_BYTES:
            return Response("Form too large.", status_code=413, media_type="text/plain")
        body = await request.body()
        if len(body) > FORM_MAX_BYTES:
            return Response("Form too large.", status_code=413, media_type="text/plain")
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        title = form.get("title", "").strip()[:200]
        if not title:
            return Response("A title is required.", status_code=400, media_type="text/plain")
        bodies = [form.get(f"slide-{i}", "")[:5000] for i in range(1, 200)]
        bodies = bodies[: max((i + 1 for i, b in enumerate(bodies) if b), default=0)]
        if await decks.update(deck_id, title, bodies) is None:
            return not_found(request, "No such presentation.")
        # One call drops the cached pages, API responses and @cached query results.
        await backend.invalidate_tags([f"presentation:{deck_id}", "presentations"])
        return RedirectResponse(f"/decks/{deck_id}/1", status_code=303)

    async def api_list(request: Request) -> Response:
        body = [{"id": d.id, "title": d.title, "slides": len(d.slides)} for d in await load_decks()]
        return _json(body, "presentations")

    async def api_slide(request: Request) -> Response:
        found = await slide_or_404(request)
        if isinstance(found, Response):
            return found
        deck, number, current = found
        body = {"deck": deck.id, "number": number, "title": current.title, "body": current.body}
        return _json(body, f"presentation:{deck.id}")

    favicon = assets.url("img/favicon.svg")

    async def favicon_ico(request: Request) -> Response:
        """Clients that ask for ``/favicon.ico`` without reading the page's ``<link>``."""
        return RedirectResponse(favicon, status_code=301)

    routes = [
        Route("/", index),
        Route("/favicon.ico", favicon_ico),
        Route("/decks/{deck_id:int}/edit", edit_form, methods=["GET"]),
        Route("/decks/{deck_id:int}/edit", edit_submit, methods=["POST"]),
        Route("/decks/{deck_id:int}/{number:int}", slide),
        Route("/api/presentations", api_list),
        Route("/api/presentations/{deck_id:int}/slides/{number:int}", api_slide),
    ]
    site = Starlette(routes=routes, exception_handlers={404: unknown_path})
    site.state.store = decks
    if server_timing is None:
        server_timing = os.environ.get("PERF_SERVER_TIMING", "") == "1"
    return PerformanceMiddleware(
        PreloadHints(site, assets, layout=LAYOUT_ASSETS),
        cache=backend,
        static=static,
        # web_vitals: visitors' browsers report LCP/INP/CLS/FCP/TTFB to /_perf/vitals
        admin=admin if admin is not None else AdminConfig.from_env(web_vitals=True),
        server_timing=server_timing,
    )


def _json(body: Any, *tags: str) -> Response:
    headers = {"cache-control": API_CACHE_CONTROL, **_tags_header(*tags)}
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(data, media_type="application/json", headers=headers)


class DeferredApp:
    """A plain ASGI app that builds the site when the server first calls it (lifespan
    startup, or the first request without lifespan), so importing this module needs no
    build while every server still finds ``app`` as a module attribute."""

    def __init__(self, factory: Callable[[], PerformanceMiddleware] = create_app) -> None:
        self.factory = factory
        self.app: PerformanceMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            try:
                self.app = self.factory()
            except ManifestError as exc:
                if scope["type"] != "lifespan":
                    raise
                await receive()  # lifespan.startup: the server stops with this message
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
        await self.app(scope, receive, send)


app = DeferredApp()

"""A small page-serving Starlette app behind ``PerformanceMiddleware``.

Run it with ``make demo`` (or ``uvicorn examples.starlette_app.app:app``). Everything is
embedded: no Redis, no S3. What to look at with ``curl -v --compressed``:

* ``/`` and ``/about``: HTML pages: strong ETag, ``Cache-Control: no-cache`` from the HTML
  preset, zstd/br/gzip by ``Accept-Encoding``; repeat with ``If-None-Match`` for a 304.
* ``/api/slides``: a JSON endpoint (compressed, validated the same way).
* ``/events``: server-sent events, compressed and flushed one event at a time.
* ``/static/...``: the asset-pipeline build in ``dist/`` when it exists.
* ``/_perf/metrics``, ``/_perf/health``: the admin API, mounted only when
  ``PERF_ADMIN_TOKEN`` is set (``curl -H "Authorization: Bearer $PERF_ADMIN_TOKEN" ...``);
  ``PERF_SERVER_TIMING=1`` adds ``Server-Timing`` for the browser's dev tools.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from perf_middleware.admin_config import AdminConfig
from perf_middleware.middleware import PerformanceMiddleware

HERE = Path(__file__).resolve().parent
DIST = Path(os.environ.get("PERF_DEMO_DIST", HERE / "dist"))

SLIDES = [
    {"id": i, "title": f"Slide {i}", "body": f"Point {i}: measure before you tune. " * 4}
    for i in range(1, 25)
]


def _page(title: str, content: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        '<meta name=viewport content="width=device-width, initial-scale=1"></head>'
        f"<body><header><h1>{html.escape(title)}</h1>"
        '<nav><a href="/">Home</a> · <a href="/about">About</a> · '
        '<a href="/api/slides">JSON</a> · <a href="/events">Events</a></nav></header>'
        f"<main>{content}</main></body></html>"
    )


async def home(request: Request) -> HTMLResponse:
    items = "".join(
        f"<article><h2>{html.escape(str(s['title']))}</h2><p>{html.escape(str(s['body']))}</p>"
        "</article>"
        for s in SLIDES
    )
    return HTMLResponse(_page("perf-middleware demo deck", items))


async def about(request: Request) -> HTMLResponse:
    text = (
        "<p>Every response here passes through PerformanceMiddleware: policy headers, a "
        "blake3 ETag, conditional requests and on-the-fly compression.</p>"
    ) * 8
    return HTMLResponse(_page("About", text))


async def slides(request: Request) -> Response:
    body = json.dumps({"slides": SLIDES}, separators=(",", ":")).encode()
    return Response(body, media_type="application/json")


async def events(request: Request) -> StreamingResponse:
    try:
        count = max(1, min(int(request.query_params.get("count", "10")), 1000))
        interval = max(0.0, min(float(request.query_params.get("interval", "0.5")), 10.0))
    except ValueError:
        count, interval = 10, 0.5

    async def stream() -> AsyncIterator[str]:
        for i in range(count):
            payload = json.dumps({"n": i, "slide": SLIDES[i % len(SLIDES)]["title"]})
            yield f"id: {i}\nevent: tick\ndata: {payload}\n\n"
            if i + 1 < count:
                await asyncio.sleep(interval)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"cache-control": "no-store"}
    )


def _static() -> Any:
    if not (DIST / "manifest.json").is_file():
        return None
    from perf_middleware.static import StaticAssets

    return StaticAssets(DIST, prefix="/static")


routes = [
    Route("/", home),
    Route("/about", about),
    Route("/api/slides", slides),
    Route("/events", events),
]

starlette_app = Starlette(routes=routes)
app = PerformanceMiddleware(
    starlette_app,
    static=_static(),
    admin=AdminConfig.from_env(),  # PERF_ADMIN_TOKEN; unset = no admin API
    server_timing=os.environ.get("PERF_SERVER_TIMING", "") == "1",
)

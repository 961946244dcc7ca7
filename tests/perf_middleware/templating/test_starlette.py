"""Helpers on Starlette's Jinja2Templates, and PreloadHints (Link headers + 103 hints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from perf_middleware.templating import Assets
from perf_middleware.templating.preload import PreloadHints
from tests.perf_middleware.asgi_driver import call
from tests.perf_middleware.templating.test_assets import SRI, manifest, parse

BASE = """<!doctype html><html><head>{{ stylesheet("css/app.css") }}
{{ script("js/pager.js", module=True) }}{{ preload_links("css/app.css") }}</head>
<body>{{ picture("img/logo.png", alt="Logo") }}</body></html>"""


def make_app(tmp_path: Path, **hint_options: Any) -> tuple[PreloadHints, Assets]:
    (tmp_path / "page.html").write_text(BASE)
    templates = Jinja2Templates(directory=str(tmp_path))
    assets = Assets(manifest())
    assets.install(templates)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "page.html")

    async def api(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def linked(request: Request) -> Response:
        return Response(
            "<p>x</p>",
            media_type="text/html",
            headers={"link": "<https://cdn.example.com>; rel=preconnect"},
        )

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/other", page),
            Route("/api", api),
            Route("/linked", linked),
        ]
    )
    return PreloadHints(app, assets, **hint_options), assets


async def test_templates_render_tags(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/")
    tags = [(t, a) for t, a in parse(r.text) if t in ("link", "script", "img", "source")]
    assert tags[0] == (
        "link",
        {
            "rel": "stylesheet",
            "href": "/static/css/app.4444444444.css",
            "integrity": "sha384-" + "A" * 64 + "44.css",
        },
    )
    assert tags[1][1]["type"] == "module"
    preloads = [a["href"] for t, a in tags if a.get("rel") == "preload"]
    assert preloads == ["/static/css/base.3333333333.css", "/static/fonts/serif.1111111111.woff2"]
    assert ("source", {"type": "image/webp", "srcset": "/static/img/logo.x.webp"}) in tags


async def test_link_header_from_rendered_assets(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/")
        api = await c.get("/api")
        linked = await c.get("/linked")
    members = [m.strip() for m in r.headers["link"].split(",")]
    assert members == [
        f'</static/css/app.4444444444.css>; rel=preload; as=style; integrity="{SRI}44.css"',
        f'</static/css/base.3333333333.css>; rel=preload; as=style; integrity="{SRI}33.css"',
        '</static/fonts/serif.1111111111.woff2>; rel=preload; as=font; type="font/woff2"; '
        "crossorigin",
        f'</static/js/pager.5555555555.js>; rel=modulepreload; integrity="{SRI}555.js"',
    ]
    assert "link" not in api.headers  # not HTML
    assert linked.headers.get_list("link") == ["<https://cdn.example.com>; rel=preconnect"]


EARLY_HINTS = {"http.response.early_hint": {}}  # the scope extension a server offering them sets


async def messages(
    app: PreloadHints, path: str, *, early: bool = True, accept: str = "text/html,*/*;q=0.8"
) -> list[dict[str, Any]]:
    """What ``app`` sends for a browser's ``GET path``; the server offers Early Hints unless
    ``early`` is False."""
    headers = [("host", "t"), ("accept", accept)]
    result = await call(app, path, headers=headers, extensions=EARLY_HINTS if early else {})
    return result.messages


async def test_early_hints_learned_from_the_previous_response(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path)
    first = await messages(app, "/")
    assert first[0]["type"] == "http.response.start"  # nothing known yet
    hint, start = (await messages(app, "/"))[:2]
    assert hint["type"] == "http.response.early_hint"
    assert start["type"] == "http.response.start"
    assert hint["links"][0].startswith(b"</static/css/app.4444444444.css>; rel=preload; as=style")
    assert b"</static/fonts/serif.1111111111.woff2>; rel=preload; as=font" in hint["links"][2]


async def test_layout_entries_are_hinted_from_the_first_request(tmp_path: Path) -> None:
    """A fresh process (or a page after an invalidation) knows nothing learned yet: the
    base template's entries and their manifest dependencies go out in the first 103."""
    app, _ = make_app(tmp_path, layout=["css/app.css"])
    hint = (await messages(app, "/"))[0]
    assert hint["type"] == "http.response.early_hint"
    assert [link.split(b">")[0] for link in hint["links"]] == [
        b"</static/css/app.4444444444.css",
        b"</static/css/base.3333333333.css",
        b"</static/fonts/serif.1111111111.woff2",
    ]
    # not for API calls, which no page uses preloads from
    api = await messages(app, "/api", accept="application/json")
    assert api[0]["type"] == "http.response.start"
    fetched = await call(
        app,
        "/",
        headers=[("host", "t"), ("sec-fetch-dest", "script"), ("accept", "text/html")],
        extensions=EARLY_HINTS,
    )
    assert fetched.messages[0]["type"] == "http.response.start"
    # the page's own assets are learned on top of the layout's
    second = (await messages(app, "/"))[0]
    assert any(b"pager.5555555555.js" in link for link in second["links"])


async def test_early_hints_only_when_the_server_offers_them(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, pages={"/": ["css/app.css"]})
    sent = await messages(app, "/", early=False)
    assert next(m["type"] for m in sent) == "http.response.start"
    sent = await messages(app, "/")
    assert sent[0]["type"] == "http.response.early_hint"  # configured: first request


async def test_early_hints_disabled_and_learning_bounded(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, early_hints=False, max_learned_paths=1)
    for _ in range(2):
        sent = await messages(app, "/")
        assert sent[0]["type"] == "http.response.start"
    assert list(app.learned) == ["/"]
    await messages(app, "/api")
    assert list(app.learned) == ["/"]  # JSON responses teach nothing
    await messages(app, "/other")
    assert list(app.learned) == ["/other"]  # least recently used path dropped


async def test_max_links(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, max_links=2)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/")
    assert r.headers["link"].count("rel=preload") == 2


def test_unknown_option() -> None:
    with pytest.raises(TypeError, match="HINT"):
        PreloadHints(Starlette(), Assets(manifest()), early=True)

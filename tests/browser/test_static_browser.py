"""A real build served by PerformanceMiddleware(static=StaticAssets(...)) in real Chromium.

The page uses ``stylesheet()`` and ``picture()``: the browser must fetch a modern image
format, apply the stylesheet (so its SRI hash matched), and refuse a tampered stylesheet.
Every wait is bounded so a failure is quick.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from perf_middleware import PerformanceMiddleware
from perf_middleware.static import StaticAssets
from perf_middleware.templating import Assets
from tests.perf_middleware.static.test_build import real_build
from tests.support.browser import browser_context
from tests.support.servers import UvicornServer

pytestmark = pytest.mark.browser
WAIT_MS = 8000

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>t</title>
{{ stylesheet("css/app.css") }}</head><body>
<main>{{ picture("img/hero.jpg", alt="Hills", lazy=False, priority=True, id="hero") }}
<img id="plain" src="{{ asset_url('img/hero.jpg') }}" alt="" width="160" height="90">
</main></body></html>"""
PAPER = "rgb(251, 250, 247)"  # body background from css/app.css (--paper: #fbfaf7)


def site_app(dist: Path, templates_dir: Path) -> Any:
    static = StaticAssets(dist, prefix="/static")
    templates = Jinja2Templates(directory=str(templates_dir))
    Assets(static).install(templates)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "page.html")

    return PerformanceMiddleware(Starlette(routes=[Route("/", page)]), static=static)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    work = tmp_path_factory.mktemp("browser-static")
    dist, manifest = real_build(work)
    (work / "templates").mkdir()
    (work / "templates" / "page.html").write_text(PAGE)
    return dist, manifest


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    yield from browser_context(chromium, WAIT_MS)


def open_page(context: Any, url: str) -> tuple[Any, list[Any], list[str]]:
    page = context.new_page()
    responses: list[Any] = []
    console: list[str] = []
    page.on("response", lambda response: responses.append(response))
    page.on("console", lambda msg: console.append(msg.text))
    page.goto(url, wait_until="load")
    page.wait_for_function("document.getElementById('hero').complete", timeout=WAIT_MS)
    return page, responses, console


def test_picture_and_stylesheet_in_chromium(built: tuple[Path, Any], context: Any) -> None:
    dist, manifest = built
    with UvicornServer(site_app(dist, dist.parent / "templates")) as server:
        page, responses, console = open_page(context, server.url + "/")
        # the stylesheet applied: its integrity matched what was served (br-encoded or not)
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == PAPER
        css = [r for r in responses if manifest["css/app.css"].path in r.url]
        assert css[0].status == 200
        assert css[0].headers["content-encoding"] in ("br", "zstd", "gzip")
        # the <picture> picked a modern format, and the image decoded at its real size
        hero_src = page.evaluate("document.querySelector('#hero').currentSrc")
        alternates = {a.path: a.content_type for a in manifest["img/hero.jpg"].alternates}
        chosen = next(path for path in alternates if hero_src.endswith(path))
        assert alternates[chosen] in ("image/avif", "image/webp")
        assert page.evaluate("document.querySelector('#hero').naturalWidth") == 1600
        image_hits = [r for r in responses if r.url.endswith(chosen)]
        assert image_hits[0].headers["content-type"] == alternates[chosen]
        # the plain <img> pointing at the .jpg got a modern format by Accept negotiation
        plain = [r for r in responses if r.url.endswith(manifest["img/hero.jpg"].path)]
        assert plain[0].headers["content-type"] in ("image/avif", "image/webp")
        assert page.evaluate("document.querySelector('#plain').naturalWidth") == 1600
        assert not [m for m in console if "integrity" in m]


def test_tampered_stylesheet_is_blocked(
    built: tuple[Path, Any], context: Any, tmp_path: Path
) -> None:
    dist, manifest = built
    tampered = tmp_path / "dist"
    shutil.copytree(dist, tampered)
    entry = manifest["css/app.css"]
    target = tampered / entry.path
    target.write_bytes(target.read_bytes().replace(b"#fbfaf7", b"#ff0000"))
    for variant in entry.encodings.values():  # the siblings would still carry the old bytes
        (tampered / variant.path).unlink()
    with UvicornServer(site_app(tampered, dist.parent / "templates")) as server:
        page, responses, console = open_page(context, server.url + "/")
        css = [r for r in responses if entry.path in r.url]
        assert css[0].status == 200  # served, but refused by the browser
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgba(0, 0, 0, 0)"  # no stylesheet at all: neither colour
        assert any("integrity" in m for m in console)

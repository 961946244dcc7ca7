"""A page on one origin with its assets on an S3 bucket's URL (another origin), in Chromium.

``Assets(cdn_url=...)`` writes SRI and ``crossorigin="anonymous"``, so the browser fetches
every stylesheet, module script and font with CORS. A bucket as S3 creates it sends no
``Access-Control-Allow-Origin`` and Chromium blocks them all (an unstyled page);
``asset-pipeline upload --cors-origin <the page's origin>`` sets the rule that fixes it.
The S3 API is moto's server in its own process with its blanket CORS off, so it answers
like S3.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from asset_pipeline.cli import main
from perf_middleware import PerformanceMiddleware
from perf_middleware.templating import Assets
from tests.perf_middleware.static.test_build import real_build
from tests.support.servers import MotoS3Process, UvicornServer, free_port

pytestmark = pytest.mark.browser
WAIT_MS = 8000
BUCKET = "site-assets"
PAPER = "rgb(251, 250, 247)"  # body background from css/app.css

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>t</title>
{{ stylesheet("css/app.css") }}{{ script("js/app.js", module=True) }}</head>
<body><main><h1>Deck</h1></main></body></html>"""


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3Process]:
    server = MotoS3Process(tmp_path_factory.mktemp("moto"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, moto: MotoS3Process) -> Iterator[Any]:
    work = tmp_path_factory.mktemp("cdn")
    dist, _ = real_build(work)
    boto3.client("s3", endpoint_url=moto.endpoint_url).create_bucket(Bucket=BUCKET)
    (work / "templates").mkdir()
    (work / "templates" / "page.html").write_text(PAGE)
    templates = Jinja2Templates(directory=str(work / "templates"))
    Assets(dist, cdn_url=f"{moto.endpoint_url}/{BUCKET}/static").install(templates)

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "page.html")

    server = UvicornServer(PerformanceMiddleware(Starlette(routes=[Route("/", page)])))
    server.port = free_port()
    server.dist = dist  # type: ignore[attr-defined]
    with server:
        yield server


def upload(site: Any, moto: MotoS3Process, *extra: str) -> int:
    return main(
        ["upload", str(site.dist), "--bucket", BUCKET, "--endpoint-url", moto.endpoint_url,
         "--prefix", "static/", "--acl", "public-read", "--no-progress", *extra]
    )  # fmt: skip


def visit(chromium: Any, url: str) -> tuple[str, list[str]]:
    """(body background, console messages) of a first visit with a fresh profile."""
    context = chromium.new_context()
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda msg: console.append(msg.text))
        page.goto(url, wait_until="load")
        page.wait_for_function("document.readyState === 'complete'")
        return page.evaluate("getComputedStyle(document.body).backgroundColor"), console
    finally:
        context.close()


def test_a_bucket_without_cors_breaks_the_page_and_cors_origin_fixes_it(
    chromium: Any, site: Any, moto: MotoS3Process, capsys: pytest.CaptureFixture[str]
) -> None:
    page_origin = site.url  # http://127.0.0.1:<port>: not the bucket's origin
    assert upload(site, moto) == 0
    # what users saw: every stylesheet and module script blocked by CORS, no styles
    background, console = visit(chromium, page_origin + "/")
    assert background != PAPER
    blocked = [m for m in console if "CORS policy" in m]
    assert any("app." in m and ".css" in m for m in blocked), console
    assert any(".js" in m for m in blocked), console
    # --verify names the problem and the fix
    assert upload(site, moto, "--verify") == 0
    assert "no CORS rule allowing GET" in capsys.readouterr().err
    # the fix: the upload sets the bucket's CORS rule for the page's origin
    assert upload(site, moto, "--cors-origin", page_origin) == 0
    assert "CORS rules updated" in capsys.readouterr().out
    background, console = visit(chromium, page_origin + "/")
    assert background == PAPER
    assert not [m for m in console if "CORS" in m or "integrity" in m], console
    assert upload(site, moto, "--cors-origin", page_origin, "--verify") == 0

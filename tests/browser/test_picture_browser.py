"""``picture()`` in Chromium: the candidate the browser picks covers the slot.

The build keeps AVIF only where it is smaller than WebP, so a real build can have AVIF at
480 px alone; a browser picks the first ``<source>`` whose type it decodes and only then
looks at widths. The images here are real files in every format, at the widths such a
build leaves, served by ``StaticAssets``.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from typing import Any

import pytest
from blake3 import blake3
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from asset_pipeline.manifest import ImageAlternate, Manifest, ManifestEntry, write_manifest
from perf_middleware import PerformanceMiddleware
from perf_middleware.static import StaticAssets
from perf_middleware.templating import Assets
from tests.support.servers import UvicornServer

pytestmark = pytest.mark.browser
WIDEST = 1600
#: format -> widths the build kept (AVIF only where it beat WebP: the smallest)
KEPT = {"jpeg": (480, 960, 1600), "webp": (480, 960, 1600), "avif": (480,)}
MEDIA = {"jpeg": "image/jpeg", "webp": "image/webp", "avif": "image/avif"}
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>p</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body { margin: 0 } img { width: 100%; height: auto; display: block }
.column { width: 900px }</style></head><body>
{% if column %}<div class="column">{{ picture("img/plain.jpg", alt="", id="photo") }}</div>
{% else %}{{ picture("img/photo.jpg", alt="", sizes="100vw", lazy=False, id="photo") }}
{% endif %}</body></html>"""


def image(fmt: str, width: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, width // 2), (40, 90, 160)).save(out, fmt.upper())
    return out.getvalue()


def entry_for(path: str, data: bytes, content_type: str, **extra: Any) -> ManifestEntry:
    sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    return ManifestEntry(
        path=path,
        size=len(data),
        content_type=content_type,
        hash=blake3(data).hexdigest(),
        integrity=sri,
        fingerprinted=True,
        **extra,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    root = tmp_path_factory.mktemp("picture")
    dist = root / "dist"
    (dist / "img").mkdir(parents=True)
    widths: dict[str, int] = {}  # file name -> intrinsic width
    alternates = []
    for fmt, kept in KEPT.items():
        for width in kept:
            name = f"img/photo.w{width}.{fmt}"
            (dist / name).write_bytes(image(fmt, width))
            widths[name] = width
            if not (fmt == "jpeg" and width == WIDEST):
                data = (dist / name).read_bytes()
                alternates.append(
                    ImageAlternate(fmt, MEDIA[fmt], name, len(data), width, width // 2)
                )
    main = f"img/photo.w{WIDEST}.jpeg"
    photo = entry_for(
        main,
        (dist / main).read_bytes(),
        "image/jpeg",
        alternates=tuple(alternates),
        width=WIDEST,
        height=WIDEST // 2,
    )
    # the same renditions without AVIF: what the browser picks then depends on sizes alone
    plain = entry_for(
        main,
        (dist / main).read_bytes(),
        "image/jpeg",
        alternates=tuple(a for a in alternates if a.format != "avif"),
        width=WIDEST,
        height=WIDEST // 2,
    )
    write_manifest(Manifest(files={"img/photo.jpg": photo, "img/plain.jpg": plain}), dist)
    (root / "templates").mkdir()
    (root / "templates" / "page.html").write_text(PAGE)
    static = StaticAssets(dist, prefix="/static")
    templates = Jinja2Templates(directory=str(root / "templates"))
    Assets(static).install(templates)

    async def page(request: Request) -> Response:
        column = request.query_params.get("column") == "1"
        return templates.TemplateResponse(request, "page.html", {"column": column})

    app = PerformanceMiddleware(Starlette(routes=[Route("/", page)]), static=static)
    with UvicornServer(app) as server:
        yield server.url, widths


def chosen_width(chromium: Any, url: str, viewport: int, dpr: int, widths: dict[str, int]) -> int:
    context = chromium.new_context(
        viewport={"width": viewport, "height": 900}, device_scale_factor=dpr
    )
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(
            "document.getElementById('photo').complete"
            " && document.getElementById('photo').currentSrc !== ''"
        )
        src = page.evaluate("document.getElementById('photo').currentSrc")
        return widths[src.split("/static/", 1)[1]]
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [400, 1280])
@pytest.mark.parametrize("dpr", [1, 2])
def test_the_chosen_candidate_covers_the_slot(
    site: tuple[str, dict[str, int]], chromium: Any, viewport: int, dpr: int
) -> None:
    url, widths = site
    needed = min(viewport * dpr, WIDEST)
    assert chosen_width(chromium, url + "/", viewport, dpr, widths) >= needed


def test_without_sizes_a_lazy_picture_fits_its_column(
    site: tuple[str, dict[str, int]], chromium: Any
) -> None:
    """In a 900 px column of a 1280 px viewport, 960w is enough (``sizes=auto``); a
    default of the viewport width would take the 1600 px file."""
    url, widths = site
    assert chosen_width(chromium, url + "/?column=1", 1280, 1, widths) == 960

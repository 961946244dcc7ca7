"""A site dictionary for HTML in real Chromium: the browser fetches the dictionary a page
links with ``<link rel="compression-dictionary">``, and the next page arrives as ``dcz``.

The site (``tests/support/site_pages.py``) is served by uvicorn behind the middleware
with a dictionary trained from its own pages; the DevTools protocol gives the response
headers and the bytes on the wire, the server the request headers it received.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import zstandard

from perf_middleware.compression.site_dictionary import SiteDictionary, SiteDictionaryConfig
from perf_middleware.compression.training import build_dictionary, fetch_pages
from tests.support.servers import UvicornServer
from tests.support.site_pages import make_app, page_body, render
from tests.support.wire import Recorder, Wire

pytestmark = pytest.mark.browser
WAIT_MS = 15000


@pytest.fixture
def dictionary_file(tmp_path: Path) -> Path:
    with UvicornServer(make_app()) as server:
        pages = fetch_pages([f"{server.url}/page/{n}" for n in range(10, 30)])
    path = tmp_path / "site.dict"
    path.write_bytes(build_dictionary(pages))
    return path


def wait_for(page: Any, condition: Any) -> None:
    """Poll ``condition`` (CDP events and server records trail the page's own events)."""
    for _ in range(WAIT_MS // 100):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError("condition not met in time")


def test_the_second_page_arrives_as_dcz_and_renders(chromium: Any, dictionary_file: Path) -> None:
    site = SiteDictionary.load(SiteDictionaryConfig(path=dictionary_file))
    app = Recorder(make_app(str(dictionary_file)))
    context = chromium.new_context()
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        wire = Wire(context, page)
        with UvicornServer(app) as server:
            page.goto(server.url + "/page/1", wait_until="load")
            assert page.locator("h1").inner_text() == "Page 1"
            # the <link> makes Chromium fetch the dictionary once the page is idle
            wait_for(page, lambda: wire.fetched(site.url) is not None)
            response, _ = wire.fetched(site.url)  # type: ignore[misc]
            assert response["headers"]["use-as-dictionary"] == (
                'match="/*", match-dest=("document")'
            )
            page.goto(server.url + "/page/2", wait_until="load")
            assert page.title() == "Page 2"
            assert page.locator("h1").inner_text() == "Page 2"
            wait_for(page, lambda: wire.fetched("/page/2") is not None)
        sent = app.seen["/page/2"]
        assert "dcz" in sent["accept-encoding"]
        assert sent["available-dictionary"] == ":" + base64.b64encode(site.sha256).decode() + ":"
        response, on_wire = wire.fetched("/page/2")  # type: ignore[misc]
        headers = response["headers"]
        assert headers["content-encoding"] == "dcz"
        assert headers["vary"] == "Accept-Encoding, Available-Dictionary"
        html = render("Page 2", page_body(2), site.link_tag()).encode()
        assert on_wire == int(headers["content-length"]) == len(site.encode(html))
        assert on_wire * 2 < len(zstandard.ZstdCompressor(level=3).compress(html))
        first, _ = wire.fetched("/page/1")  # type: ignore[misc]
        assert first["headers"]["content-encoding"] != "dcz"  # no dictionary held yet
    finally:
        context.close()

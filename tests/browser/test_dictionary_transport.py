"""RFC 9842 in real Chromium: a returning visitor gets the changed bundle as a delta.

The example is built, visited, rebuilt with a changed ``js/app.js`` and served again on
the same origin (a deploy); the reload must fetch the new bundle as ``dcz`` against the
version Chromium kept as a dictionary, decode it and run it. The DevTools protocol gives
the response headers and the bytes on the wire.

The example's own ``app.js`` is 600 bytes, where the fixed 40-byte ``dcz`` header alone is
a fifth of the brotli size; the test gives it a bundle-sized body (generated, varied code
that runs) so the ratio measured is the one deltas exist for. Chromium needs no flag for
this on ``http://127.0.0.1`` (a potentially trustworthy origin) over HTTP/1.1.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from examples.starlette_app.app import create_app

from asset_pipeline.cli import main as asset_pipeline
from asset_pipeline.manifest import Manifest, load_manifest
from perf_middleware import MemoryBackend
from tests.support.servers import UvicornServer, free_port
from tests.support.wire import Recorder, Wire

pytestmark = pytest.mark.browser
WAIT_MS = 15000
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "starlette_app"
WORDS = [
    "slide",
    "deck",
    "pager",
    "viewer",
    "banner",
    "update",
    "keyboard",
    "arrow",
    "focus",
    "render",
    "layout",
    "theme",
    "speaker",
    "notes",
    "timer",
    "outline",
    "section",
    "chapter",
    "figure",
    "caption",
    "source",
    "vendor",
    "module",
]


def bundle(original: str, release: int) -> str:
    """``original`` plus a marker the test waits for and ~30 KB of varied code."""
    rng = random.Random(7)
    functions = []
    for i in range(300):
        a, b, c = rng.sample(WORDS, 3)
        functions.append(
            f"export function {a}{b.title()}{i}(state, {c}) {{\n"
            f'  const key = "{a}-{c}-{rng.randrange(10**6)}";\n'
            f"  return state.{b} ? {c}.{a}(key, {rng.randrange(1000)}) : state.{c} ?? key;\n"
            "}\n"
        )
    marker = f'document.documentElement.dataset.release = "{release}";\n'
    return original + "\n" + marker + "".join(functions)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    for part in ("static", "templates"):
        shutil.copytree(EXAMPLE / part, tmp_path / part)
    shutil.copy(EXAMPLE / "assets.toml", tmp_path / "assets.toml")
    return tmp_path


def build(site: Path, release: int) -> Manifest:
    app_js = site / "static" / "js" / "app.js"
    original = (EXAMPLE / "static" / "js" / "app.js").read_text()
    app_js.write_text(bundle(original, release))
    args = ["build", str(site / "static"), "--out", str(site / "dist")]
    args += ["--config", str(site / "assets.toml"), "--cache-dir", str(site / "cache")]
    assert asset_pipeline([*args, "-j", "1", "--quiet"]) == 0
    return load_manifest(site / "dist")


def visit(chromium: Any, site: Path, *, transport: bool) -> tuple[Manifest, Manifest, Wire]:
    """Build 1, load the page; build 2, serve it on the same origin, reload."""
    context = chromium.new_context(service_workers="block")  # the network, not the SW cache
    context.set_default_timeout(WAIT_MS)
    port = free_port()
    try:
        page = context.new_page()
        wire = Wire(context, page)
        first = build(site, 1)
        app = create_app(dist=site / "dist", cache=MemoryBackend(), dictionary_transport=transport)
        with UvicornServer(app, port=port) as server:
            page.goto(server.url + "/", wait_until="load")
            page.wait_for_function("document.documentElement.dataset.release === '1'")
        second = build(site, 2)
        app = Recorder(
            create_app(dist=site / "dist", cache=MemoryBackend(), dictionary_transport=transport)
        )
        with UvicornServer(app, port=port) as server:
            page.reload(wait_until="load")
            page.wait_for_function("document.documentElement.dataset.release === '2'")
            suffix = f"/static/{second['js/app.js'].path}"
            page.wait_for_function(
                "(s) => performance.getEntriesByType('resource').some(e => e.name.endsWith(s))",
                arg=suffix,
            )
            deadline = 50
            while wire.fetched(suffix) is None and deadline:  # CDP events trail the load
                page.wait_for_timeout(100)
                deadline -= 1
        return first, second, wire, app.seen
    finally:
        context.close()


def test_changed_bundle_arrives_as_a_dcz_delta_and_runs(chromium: Any, site: Path) -> None:
    first, second, wire, seen = visit(chromium, site, transport=True)
    old = wire.fetched(f"/static/{first['js/app.js'].path}")
    assert old is not None
    assert old[0]["headers"]["use-as-dictionary"] == (
        'match="/static/js/app.*.js", match-dest=("script")'
    )
    entry = second["js/app.js"]
    found = wire.fetched(f"/static/{entry.path}")
    assert found is not None
    response, on_wire = found
    headers = response["headers"]
    assert headers["content-encoding"] == "dcz"
    assert headers["vary"] == "Accept-Encoding, Available-Dictionary"
    sent = seen[f"/static/{entry.path}"]
    assert "dcz" in sent["accept-encoding"]
    assert sent["available-dictionary"].startswith(":")
    info = entry.dictionary
    assert info is not None
    delta = next(iter(info.deltas.values()))["dcz"]
    assert on_wire == int(headers["content-length"]) == delta.size
    assert delta.size <= 0.2 * entry.encodings["br"].size


def test_turned_off_the_reload_is_a_plain_brotli_download(chromium: Any, site: Path) -> None:
    _, second, wire, seen = visit(chromium, site, transport=False)
    entry = second["js/app.js"]
    found = wire.fetched(f"/static/{entry.path}")
    assert found is not None
    response, on_wire = found
    assert response["headers"]["content-encoding"] == "br"
    assert "use-as-dictionary" not in response["headers"]
    sent = seen[f"/static/{entry.path}"]
    assert "available-dictionary" not in sent
    assert "dcz" not in sent["accept-encoding"]
    assert on_wire == entry.encodings["br"].size

"""StaticAssets over a REAL ``asset_pipeline.build`` of the example app's static files."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from asset_pipeline.build import build
from asset_pipeline.config import BuildConfig
from asset_pipeline.manifest import Manifest
from perf_middleware.static import StaticAssets

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "starlette_app" / "static"
CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def real_build(workdir: Path) -> tuple[Path, Manifest]:
    """Run the pipeline on a copy of the example's sources; returns (dist, manifest)."""
    src = workdir / "src"
    shutil.copytree(EXAMPLE, src)
    result = build(BuildConfig(src=src, out=workdir / "dist", root=workdir, cache_dir=None, jobs=1))
    return result.out, result.manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    return real_build(tmp_path_factory.mktemp("real"))


@pytest.fixture(scope="module")
def app(built: tuple[Path, Manifest]) -> StaticAssets:
    return StaticAssets(built[0])


async def fetch(
    app: StaticAssets, path: str, method: str = "GET", **headers: str
) -> httpx.Response:
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    sent.setdefault("accept-encoding", "identity")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, headers=sent)


async def test_every_representation_of_every_file(
    built: tuple[Path, Manifest], app: StaticAssets
) -> None:
    root, manifest = built
    checked = 0
    for entry in manifest.files.values():
        path = "/static/" + entry.path
        data = (root / entry.path).read_bytes()
        for coding in ["identity", *entry.encodings]:
            r = await fetch(app, path, accept_encoding=coding)
            assert r.status_code == 200, (path, coding)
            assert r.content == data  # httpx decodes the coding
            assert r.headers.get("content-encoding", "identity") == coding
            size = entry.size if coding == "identity" else entry.encodings[coding].size
            assert int(r.headers["content-length"]) == size
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert r.headers["x-content-type-options"] == "nosniff"
            not_modified = await fetch(
                app, path, accept_encoding=coding, if_none_match=r.headers["etag"]
            )
            assert not_modified.status_code == 304
            assert not_modified.headers["etag"] == r.headers["etag"]
            checked += 1
    assert checked >= 15  # identity, br and gz of every compressible file


async def test_smallest_encoding_preferred(built: tuple[Path, Manifest], app: StaticAssets) -> None:
    _, manifest = built
    entry = manifest["css/app.css"]
    r = await fetch(app, "/static/" + entry.path, accept_encoding="gzip, deflate, br, zstd")
    smallest = min(entry.encodings, key=lambda c: entry.encodings[c].size)
    assert r.headers["content-encoding"] == smallest
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["content-type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize(
    ("accept_encoding", "want"),
    [
        ("zstd", "identity"),
        ("zstd, br", "br"),
        ("gzip, deflate, br, zstd", "br"),
        ("zstd, gzip", "gzip"),
    ],
)
async def test_default_build_has_no_zstd_and_zstd_clients_get_br_or_identity(
    built: tuple[Path, Manifest], app: StaticAssets, accept_encoding: str, want: str
) -> None:
    """A default build writes ``.br`` and ``.gz`` but no ``.zst`` (see docs/benchmarks.md):
    a client that accepts zstd gets what else it accepts, as negotiation says."""
    root, manifest = built
    entry = manifest["css/app.css"]
    assert set(entry.encodings) == {"br", "gzip"}
    assert not list(root.rglob("*.zst"))
    r = await fetch(app, "/static/" + entry.path, accept_encoding=accept_encoding)
    assert r.status_code == 200
    assert r.headers.get("content-encoding", "identity") == want
    assert r.content == (root / entry.path).read_bytes()


@pytest.mark.parametrize(
    ("accept", "want"),
    [
        (CHROME, "smallest"),
        ("image/webp,*/*", "image/webp"),
        ("image/avif,*/*;q=0.8", "image/avif"),
        ("*/*", "image/jpeg"),
    ],
)
async def test_image_negotiation_real_alternates(
    built: tuple[Path, Manifest], app: StaticAssets, accept: str, want: str
) -> None:
    """The images processor keeps AVIF only when it beats WebP, so which modern formats
    exist depends on the image; the expectation follows the manifest."""
    root, manifest = built
    entry = manifest["img/hero.jpg"]
    available = {a.content_type for a in entry.alternates if a.width == entry.width}
    assert available & {"image/avif", "image/webp"}
    if want == "smallest":
        want = min(entry.alternates, key=lambda a: a.size).content_type
    elif want not in available:
        want = "image/jpeg"  # a format the client names but the build did not make
    r = await fetch(app, "/static/" + entry.path, accept=accept)
    assert r.headers["content-type"] == want
    assert r.headers["vary"] == "Accept"
    if want != "image/jpeg":
        alt = next(a for a in entry.alternates if a.content_type == want)
        assert r.content == (root / alt.path).read_bytes()
    for alt in entry.alternates:  # each alternate also at its own URL
        own = await fetch(app, "/static/" + alt.path)
        assert own.headers["content-type"] == alt.content_type
        assert "vary" not in own.headers


async def test_range_and_head_on_real_image(
    built: tuple[Path, Manifest], app: StaticAssets
) -> None:
    root, manifest = built
    entry = manifest["img/hero.jpg"]
    data = (root / entry.path).read_bytes()
    r = await fetch(app, "/static/" + entry.path, range="bytes=100-199")
    assert r.status_code == 206
    assert r.content == data[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(data)}"
    head = await fetch(app, "/static/" + entry.path, method="HEAD")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(data))


async def test_font_headers(built: tuple[Path, Manifest], app: StaticAssets) -> None:
    _, manifest = built
    entry = manifest["fonts/deck-serif.ttf"]
    r = await fetch(app, "/static/" + entry.path)
    assert r.headers["content-type"] == "font/woff2"
    assert "vary" not in r.headers  # nothing to negotiate


@pytest.mark.parametrize(
    "path",
    [
        "/static/../manifest.json",
        "/static/css/../../etc/passwd",
        "/static/css/app.css",
        "/static/css",
        "/static/%2e%2e/x",
    ],
)
async def test_hostile_and_unknown_paths(app: StaticAssets, path: str) -> None:
    scope = {"type": "http", "path": path, "root_path": ""}
    assert app.lookup(scope) is None

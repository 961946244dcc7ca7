"""StaticAssets over a build directory: negotiation, validators, 304, ranges, HEAD, headers.

``make_build`` writes a small build by hand (files + ``manifest.py``) for the odd cases a
real pipeline run cannot produce (alternates larger than the original, missing siblings,
symlinks); ``test_static_build.py`` runs the same checks against ``asset-pipeline build``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import shutil
from pathlib import Path

import brotli
import httpx
import pytest
import zstandard
from blake3 import blake3
from PIL import Image

from asset_pipeline import media_types
from asset_pipeline.manifest import (
    EncodedVariant,
    ImageAlternate,
    Manifest,
    ManifestEntry,
    ManifestError,
    write_manifest,
)
from perf_middleware.http.dates import format_http_date
from perf_middleware.static import StaticAssets
from tests.perf_middleware.asgi_driver import call

CSS = (b".hero { color: #123456; background: url(../img/hero.png); }\n" * 2000)[:100_000]
JS = b"".join(b"export const v%d = %d * 2; // padding padding\n" % (i, i) for i in range(6000))
PATHSEND = {"http.response.pathsend": {}}  # the scope extension a server offering it sets


def _entry(
    root: Path,
    logical: str,
    data: bytes,
    content_type: str,
    *,
    compress: bool = True,
    fingerprint: bool = True,
    **extra: object,
) -> ManifestEntry:
    digest = blake3(data).hexdigest()
    stem, _, ext = logical.rpartition(".")
    path = f"{stem}.{digest[:10]}.{ext}" if fingerprint else logical
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_bytes(data)
    encodings: dict[str, EncodedVariant] = {}
    if compress:
        for coding, suffix, packed in (
            ("br", ".br", brotli.compress(data, quality=11)),
            ("zstd", ".zst", zstandard.ZstdCompressor(level=19).compress(data)),
            ("gzip", ".gz", gzip.compress(data, 9, mtime=0)),
        ):
            (root / (path + suffix)).write_bytes(packed)
            encodings[coding] = EncodedVariant(path + suffix, len(packed))
    sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    return ManifestEntry(
        path=path,
        size=len(data),
        content_type=content_type,
        hash=digest,
        integrity=sri,
        fingerprinted=fingerprint,
        encodings=encodings,
        **extra,
    )  # type: ignore[arg-type]


def image_bytes(fmt: str, size: tuple[int, int], quality: int = 60) -> bytes:
    """A photo-like image (gradient + noise): lossless PNG is big, AVIF/WebP are small."""
    base = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 40)
    img = Image.merge("RGB", (base, noise, Image.blend(base, noise, 0.5)))
    out = io.BytesIO()
    img.save(out, format=fmt, **({"quality": quality} if fmt != "PNG" else {}))
    return out.getvalue()


def make_build(root: Path) -> Manifest:
    """A hand-made build: CSS, JS, an image with AVIF/WebP/responsive alternates, sw.js."""
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, ManifestEntry] = {}
    files["css/app.css"] = _entry(
        root, "css/app.css", CSS, "text/css", dependencies=("img/hero.png",)
    )
    files["js/app.js"] = _entry(root, "js/app.js", JS, "text/javascript")
    png = image_bytes("PNG", (64, 48))
    alts = []
    (root / "img").mkdir()
    for fmt, ctype, dims in (
        ("avif", "image/avif", (64, 48)),
        ("webp", "image/webp", (64, 48)),
        ("webp", "image/webp", (32, 24)),
    ):
        data = image_bytes(fmt.upper(), dims, quality=40 if fmt == "avif" else 90)
        rel = f"img/hero.w{dims[0]}.{blake3(data).hexdigest()[:10]}.{fmt}"
        (root / rel).write_bytes(data)
        alts.append(ImageAlternate(fmt, ctype, rel, len(data), dims[0], dims[1]))
    files["img/hero.png"] = _entry(
        root,
        "img/hero.png",
        png,
        "image/png",
        compress=False,
        alternates=tuple(alts),
        width=64,
        height=48,
    )
    files["robots.txt"] = _entry(
        root, "robots.txt", b"User-agent: *\n", "text/plain", compress=False, fingerprint=False
    )
    (root / "sw.js").write_bytes(b"self.addEventListener('fetch', () => {});\n")
    manifest = Manifest(files=files, build_id="test")
    write_manifest(manifest, root)
    return manifest


@pytest.fixture(scope="module")
def shared_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    root = tmp_path_factory.mktemp("static") / "dist"
    return root, make_build(root)


@pytest.fixture
def build(shared_build: tuple[Path, Manifest]) -> tuple[Path, Manifest]:
    """The module's build; tests must not modify it (use ``own_build`` for that)."""
    return shared_build


@pytest.fixture
def own_build(shared_build: tuple[Path, Manifest], tmp_path: Path) -> tuple[Path, Manifest]:
    root = tmp_path / "dist"
    shutil.copytree(shared_build[0], root)
    return root, shared_build[1]


def client_for(app: StaticAssets) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def get(app: StaticAssets, path: str, **headers: str) -> httpx.Response:
    async with client_for(app) as client:
        # httpx adds its own Accept-Encoding unless told otherwise
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        sent.setdefault("accept-encoding", "identity")
        return await client.get(path, headers=sent)


def url(manifest: Manifest, name: str) -> str:
    return "/static/" + manifest[name].path


async def test_fingerprinted_identity(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    app = StaticAssets(root)
    r = await get(app, url(manifest, "css/app.css"))
    assert r.status_code == 200
    assert r.content == CSS
    assert r.headers["content-type"] == "text/css; charset=utf-8"
    assert r.headers["content-length"] == str(len(CSS))
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"] == f'"{manifest["css/app.css"].hash[:32]}"'
    assert "content-encoding" not in r.headers


@pytest.mark.parametrize(
    ("accept_encoding", "expected"),
    [
        ("gzip, deflate, br, zstd", None),  # smallest of the three, computed below
        ("br", "br"),
        ("gzip", "gzip"),
        ("zstd", "zstd"),
        ("br;q=0.5, gzip", "gzip"),
        ("br;q=0, gzip;q=0, zstd;q=0", "identity"),
        ("identity", "identity"),
        ("*", None),
        ("*;q=0", "identity"),  # nothing acceptable: identity rather than a 406
        ("deflate", "identity"),
        ("x-gzip", "gzip"),
    ],
)
async def test_encoding_negotiation(
    build: tuple[Path, Manifest], accept_encoding: str, expected: str | None
) -> None:
    root, manifest = build
    entry = manifest["css/app.css"]
    if expected is None:
        expected = min(entry.encodings, key=lambda c: entry.encodings[c].size)
    app = StaticAssets(root)
    r = await get(app, url(manifest, "css/app.css"), accept_encoding=accept_encoding)
    assert r.status_code == 200
    assert r.headers.get("content-encoding", "identity") == expected
    assert r.content == CSS  # httpx decodes br/gzip/zstd
    if expected != "identity":
        assert int(r.headers["content-length"]) == entry.encodings[expected].size
        assert r.headers["etag"] == f'"{entry.hash[:32]}-{expected}"'


async def test_distinct_validators_and_304_per_representation(
    build: tuple[Path, Manifest],
) -> None:
    root, manifest = build
    app = StaticAssets(root)
    path = url(manifest, "css/app.css")
    etags = {}
    for coding in ("identity", "br", "gzip", "zstd"):
        r = await get(app, path, accept_encoding=coding)
        etags[coding] = r.headers["etag"]
    assert len(set(etags.values())) == 4
    for coding, tag in etags.items():
        r = await get(app, path, accept_encoding=coding, if_none_match=tag)
        assert r.status_code == 304
        assert r.content == b""
        assert r.headers["etag"] == tag
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["vary"] == "Accept-Encoding"
        assert "content-length" not in r.headers or r.headers["content-length"] == "0"
    # lists, W/ prefixes and * all match by weak comparison
    r = await get(app, path, accept_encoding="br", if_none_match=f'"nope", W/{etags["br"]}')
    assert r.status_code == 304
    r = await get(app, path, if_none_match="*")
    assert r.status_code == 304


async def test_if_none_match_mismatch_ignores_if_modified_since(
    build: tuple[Path, Manifest],
) -> None:
    root, manifest = build
    app = StaticAssets(root)
    r = await get(
        app,
        url(manifest, "css/app.css"),
        if_none_match='"other"',
        if_modified_since=format_http_date(4_000_000_000),
    )
    assert r.status_code == 200
    assert r.content == CSS


async def test_if_modified_since(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    app = StaticAssets(root)
    path = url(manifest, "js/app.js")
    first = await get(app, path)
    lm = first.headers["last-modified"]
    assert (await get(app, path, if_modified_since=lm)).status_code == 304
    assert (await get(app, path, if_modified_since=format_http_date(0))).status_code == 200
    assert (await get(app, path, if_modified_since="garbage")).status_code == 200


async def test_if_match_failure_is_412(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    app = StaticAssets(root)
    r = await get(app, url(manifest, "js/app.js"), if_match='"nope"')
    assert r.status_code == 412
    r = await get(app, url(manifest, "js/app.js"), if_match=f'"{manifest["js/app.js"].hash[:32]}"')
    assert r.status_code == 200


async def test_head(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    app = StaticAssets(root)
    async with client_for(app) as client:
        r = await client.head(url(manifest, "css/app.css"), headers={"accept-encoding": "br"})
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-encoding"] == "br"
    assert int(r.headers["content-length"]) == manifest["css/app.css"].encodings["br"].size


async def test_method_not_allowed(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    async with client_for(StaticAssets(root)) as client:
        r = await client.post(url(manifest, "css/app.css"))
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("range_header", "status", "body_slice", "content_range"),
    [
        ("bytes=0-99", 206, slice(0, 100), "bytes 0-99/{n}"),
        ("bytes=-10", 206, slice(-10, None), "bytes {m}-{l}/{n}"),
        ("bytes=1000-", 206, slice(1000, None), "bytes 1000-{l}/{n}"),
        ("bytes=0-", 200, slice(None), None),  # the whole thing: plain 200
        ("bytes=0-9,50-59", 200, slice(None), None),  # disjoint: whole body
        ("bytes=99999999-", 416, slice(0, 0), "bytes */{n}"),
        ("lines=1-2", 200, slice(None), None),
    ],
)
async def test_ranges(
    build: tuple[Path, Manifest],
    range_header: str,
    status: int,
    body_slice: slice,
    content_range: str | None,
) -> None:
    root, manifest = build
    app = StaticAssets(root)
    # br is accepted, but a Range request is served from the identity representation
    r = await get(app, url(manifest, "js/app.js"), range=range_header, accept_encoding="br")
    assert r.status_code == status
    assert r.content == JS[body_slice]
    if content_range is None:
        assert "content-range" not in r.headers
    else:
        n = len(JS)
        assert r.headers["content-range"] == content_range.format(n=n, m=n - 10, l=n - 1)
    if status == 206:
        assert r.headers["content-length"] == str(len(JS[body_slice]))
        assert "content-encoding" not in r.headers


async def test_if_range(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    app = StaticAssets(root)
    path = url(manifest, "js/app.js")
    full = await get(app, path)
    etag, lm = full.headers["etag"], full.headers["last-modified"]
    assert (await get(app, path, range="bytes=0-9", if_range=etag)).status_code == 206
    assert (await get(app, path, range="bytes=0-9", if_range=lm)).status_code == 206
    stale = await get(app, path, range="bytes=0-9", if_range='"stale"')
    assert stale.status_code == 200
    assert stale.content == JS
    weak = await get(app, path, range="bytes=0-9", if_range=f"W/{etag}")
    assert weak.status_code == 200


async def test_ranges_from_disk(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    app = StaticAssets(root, max_memory_file_size=1000, chunk_size=4096)
    path = url(manifest, "js/app.js")
    r = await get(app, path)
    assert r.content == JS
    r = await get(app, path, range="bytes=5000-20000")
    assert r.status_code == 206
    assert r.content == JS[5000:20001]
    r = await get(app, path, accept_encoding="br")
    assert r.headers["content-encoding"] == "br"
    assert r.content == JS


async def test_pathsend_used_for_files_on_disk(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    app = StaticAssets(root, max_memory_file_size=1000)
    path = url(manifest, "js/app.js")
    r = await call(app, path, headers=[("accept-encoding", "br")], extensions=PATHSEND)
    sent = r.messages
    assert sent[0]["status"] == 200
    assert sent[1]["type"] == "http.response.pathsend"
    sent_path = Path(str(sent[1]["path"]))
    assert sent_path.is_absolute()
    assert sent_path.name == Path(manifest["js/app.js"].encodings["br"].path).name


@pytest.mark.parametrize(
    ("accept", "expected_type"),
    [
        ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "image/avif"),
        ("image/webp,*/*", "image/webp"),
        ("image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5", "image/png"),
        ("*/*", "image/png"),
        (None, "image/png"),
    ],
)
async def test_image_negotiation(
    build: tuple[Path, Manifest], accept: str | None, expected_type: str
) -> None:
    root, manifest = build
    entry = manifest["img/hero.png"]
    app = StaticAssets(root)
    headers = {} if accept is None else {"accept": accept}
    r = await get(app, url(manifest, "img/hero.png"), **headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == expected_type
    assert r.headers["vary"] == "Accept"
    if expected_type == "image/png":
        assert r.headers["etag"] == f'"{entry.hash[:32]}"'
        assert int(r.headers["content-length"]) == entry.size
    else:
        alt = next(a for a in entry.alternates if a.content_type == expected_type and a.width == 64)
        assert r.content == (root / alt.path).read_bytes()
        # its own validator, and a 304 for it
        again = await get(
            app, url(manifest, "img/hero.png"), accept=accept or "", if_none_match=r.headers["etag"]
        )
        assert again.status_code == 304


async def test_image_negotiation_disabled(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    app = StaticAssets(root, image_negotiation=False)
    r = await get(app, url(manifest, "img/hero.png"), accept="image/avif,image/webp,*/*")
    assert r.headers["content-type"] == "image/png"
    assert "vary" not in r.headers


async def test_alternates_served_at_their_own_urls(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    app = StaticAssets(root)
    for alt in manifest["img/hero.png"].alternates:
        r = await get(app, "/static/" + alt.path)
        assert r.status_code == 200
        assert r.headers["content-type"] == alt.content_type
        assert r.content == (root / alt.path).read_bytes()
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_unfingerprinted_files_revalidate(build: tuple[Path, Manifest]) -> None:
    root, _ = build
    app = StaticAssets(root, service_worker_allowed="/")
    r = await get(app, "/static/robots.txt")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    sw = await get(app, "/static/sw.js")
    assert sw.status_code == 200
    assert sw.headers["cache-control"] == "no-cache"
    assert sw.headers["service-worker-allowed"] == "/"
    assert sw.headers["content-type"] == "text/javascript; charset=utf-8"
    m = await get(app, "/static/manifest.json")
    assert m.status_code == 200
    assert m.headers["cache-control"] == "no-cache"
    assert (await get(app, "/static/sw.js", if_none_match=sw.headers["etag"])).status_code == 304


async def test_logical_names_optional(build: tuple[Path, Manifest]) -> None:
    root, _ = build
    assert (await get(StaticAssets(root), "/static/css/app.css")).status_code == 404
    app = StaticAssets(root, serve_logical_names=True)
    r = await get(app, "/static/css/app.css")
    assert r.status_code == 200
    assert r.content == CSS
    assert r.headers["cache-control"] == "no-cache"


async def test_unlisted_files_only_when_configured(own_build: tuple[Path, Manifest]) -> None:
    root, _ = own_build
    (root / "extra").mkdir()
    (root / "extra" / "notes.txt").write_text("hello")
    assert (await get(StaticAssets(root), "/static/extra/notes.txt")).status_code == 404
    app = StaticAssets(root, serve_unlisted=True)
    r = await get(app, "/static/extra/notes.txt")
    assert r.status_code == 200
    assert r.text == "hello"
    assert r.headers["cache-control"] == "no-cache"


async def test_prefix_and_mounting(build: tuple[Path, Manifest]) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    root, manifest = build
    assert (
        await get(StaticAssets(root, prefix="/assets/"), "/assets/" + manifest["css/app.css"].path)
    ).status_code == 200
    assert (
        await get(StaticAssets(root, prefix="/"), "/" + manifest["css/app.css"].path)
    ).status_code == 200
    site = Starlette(routes=[Mount("/static", app=StaticAssets(root))])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=site), base_url="http://t"
    ) as client:
        r = await client.get(url(manifest, "css/app.css"), headers={"accept-encoding": "br"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "br"


async def test_autorefresh_picks_up_a_new_build(own_build: tuple[Path, Manifest]) -> None:
    root, manifest = own_build
    app = StaticAssets(root, autorefresh=True)
    files = dict(manifest.files)
    files["new.txt"] = _entry(root, "new.txt", b"fresh", "text/plain", compress=False)
    write_manifest(Manifest(files=files), root)
    st = os.stat(root / "manifest.json")
    os.utime(root / "manifest.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    r = await get(app, "/static/" + files["new.txt"].path)
    assert r.status_code == 200
    assert r.text == "fresh"
    frozen = StaticAssets(root)
    write_manifest(manifest, root)
    assert (await get(frozen, "/static/" + files["new.txt"].path)).status_code == 200


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="HINT"):
        StaticAssets(tmp_path)


def test_unknown_option_is_a_clear_error(build: tuple[Path, Manifest]) -> None:
    with pytest.raises(TypeError, match="HINT: the options are"):
        StaticAssets(build[0], max_age=3)


def test_bad_prefix(build: tuple[Path, Manifest]) -> None:
    with pytest.raises(ValueError, match="HINT"):
        StaticAssets(build[0], prefix="/static?x")


async def test_allow_origin_header(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    r = await get(StaticAssets(root, allow_origin="*"), url(manifest, "css/app.css"))
    assert r.headers["access-control-allow-origin"] == "*"
    r = await get(StaticAssets(root), url(manifest, "css/app.css"))
    assert "access-control-allow-origin" not in r.headers


async def test_not_found_response(build: tuple[Path, Manifest]) -> None:
    root, _ = build
    r = await get(StaticAssets(root), "/static/nope.css")
    assert r.status_code == 404
    assert r.text == "Not Found"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert (await get(StaticAssets(root), "/elsewhere/app.css")).status_code == 404


async def test_memory_budget_exhausted_serves_from_disk(build: tuple[Path, Manifest]) -> None:
    root, manifest = build
    app = StaticAssets(root, memory_budget=0)
    assert all(f.identity.body is None for f in app.files.values())
    for coding in ("identity", "br", "zstd"):
        r = await get(app, url(manifest, "js/app.js"), accept_encoding=coding)
        assert r.content == JS
        assert r.headers.get("content-encoding", "identity") == coding
    small = StaticAssets(root)
    assert small.files[manifest["js/app.js"].path].identity.body == JS


async def test_unlisted_file_with_precompressed_sibling(own_build: tuple[Path, Manifest]) -> None:
    root, _ = own_build
    text = b"plain text " * 500
    (root / "notes.txt").write_bytes(text)
    (root / "notes.txt.br").write_bytes(brotli.compress(text))
    app = StaticAssets(root, serve_unlisted=True)
    r = await get(app, "/static/notes.txt", accept_encoding="br")
    assert r.headers["content-encoding"] == "br"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.content == text
    assert (await get(app, "/static/notes.txt.br")).status_code == 404


async def test_lifespan_and_websocket_scopes(build: tuple[Path, Manifest]) -> None:
    app = StaticAssets(build[0])
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return incoming.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    sent.clear()
    await app({"type": "websocket", "path": "/static/x"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.parametrize(("threshold", "expected"), [(10**9, "body"), (1000, "pathsend")])
async def test_pathsend_threshold_for_files_in_memory(
    build: tuple[Path, Manifest], threshold: int, expected: str
) -> None:
    root, manifest = build
    app = StaticAssets(root, pathsend_min_size=threshold)
    assert app.files[manifest["js/app.js"].path].identity.body is not None
    sent = (await call(app, url(manifest, "js/app.js"), extensions=PATHSEND)).messages
    if expected == "body":
        assert sent[1] == {"type": "http.response.body", "body": JS}
    else:
        assert sent[1]["type"] == "http.response.pathsend"
        assert str(sent[1]["path"]).endswith(manifest["js/app.js"].path)


@pytest.mark.parametrize(
    "name", ["lib.cjs", "mod.mjs", "font.otf", "old.eot", "a.htm", "logo.svg", "app.webmanifest"]
)
async def test_unlisted_files_get_the_builds_content_type(tmp_path: Path, name: str) -> None:
    """One media-type table: a file is served with the Content-Type the build records and the
    upload sends, whatever the host's /etc/mime.types says."""
    write_manifest(Manifest(files={}, build_id="t"), tmp_path)
    (tmp_path / name).write_bytes(b"x")
    response = await get(StaticAssets(tmp_path, serve_unlisted=True), "/static/" + name)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_types.content_type(name)

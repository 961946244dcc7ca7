"""StaticAssets answering RFC 9842 requests from a REAL two-version build."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from asset_pipeline.build import build
from asset_pipeline.build.dictionaries import dcz_decode
from asset_pipeline.config import BuildConfig
from asset_pipeline.manifest import Manifest
from perf_middleware.static import StaticAssets
from tests.perf_middleware.asgi_driver import call
from tests.perf_middleware.cache.raw_http import raw_request
from tests.perf_middleware.static.test_build import EXAMPLE
from tests.support.servers import UvicornServer

CHROME = "gzip, deflate, br, zstd, dcb, dcz"


def grow(text: str, version: int) -> str:
    """The example's app.js with a bundle-sized tail; ``version`` changes one line."""
    tail = "\n".join(f"export const step{i} = (n) => n * {i} + {i % 5};" for i in range(400))
    return f"{text}\nexport const RELEASE = {version};\n{tail}\n"


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest, bytes]:
    """Build v1, then v2 with a changed app.js; returns (dist, manifest v2, v1 bytes)."""
    work = tmp_path_factory.mktemp("dictionaries")
    src = work / "src"
    shutil.copytree(EXAMPLE, src)
    app_js = src / "js" / "app.js"
    original = app_js.read_text()
    config = BuildConfig(src=src, out=work / "dist", root=work, cache_dir=work / "cache", jobs=1)
    app_js.write_text(grow(original, 1))
    first = build(config).manifest
    v1 = (work / "dist" / first["js/app.js"].path).read_bytes()
    app_js.write_text(grow(original, 2))
    second = build(config).manifest
    return work / "dist", second, v1


def offer(data: bytes) -> str:
    return ":" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]
    content: bytes  # as sent: no content coding undone


async def get(app: StaticAssets, path: str, **headers: str) -> Reply:
    sent = [(k.replace("_", "-"), v) for k, v in headers.items()]
    r = await call(app, path, headers=sent)
    return Reply(r.status, {k.decode(): v.decode("latin-1") for k, v in r.raw_headers}, r.body)


async def test_a_named_dictionary_gets_the_delta(two_builds: tuple[Path, Manifest, bytes]) -> None:
    dist, manifest, v1 = two_builds
    entry = manifest["js/app.js"]
    v2 = (dist / entry.path).read_bytes()
    app = StaticAssets(dist)
    r = await get(
        app, f"/static/{entry.path}", accept_encoding=CHROME, available_dictionary=offer(v1)
    )
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "dcz"
    assert r.headers["vary"] == "Accept-Encoding, Available-Dictionary"
    assert r.headers["use-as-dictionary"] == 'match="/static/js/app.*.js", match-dest=("script")'
    assert dcz_decode(v1, r.content) == v2
    assert int(r.headers["content-length"]) == len(r.content) <= entry.encodings["br"].size / 5
    etag = r.headers["etag"]
    assert etag.endswith(f'-dcz-{hashlib.sha256(v1).hexdigest()[:12]}"')

    # the same client revalidating gets a 304 for the delta's own validator
    again = await get(
        app,
        f"/static/{entry.path}",
        accept_encoding=CHROME,
        available_dictionary=offer(v1),
        if_none_match=etag,
    )
    assert again.status_code == 304
    # while a client without the dictionary gets brotli, with the same Vary
    plain = await get(app, f"/static/{entry.path}", accept_encoding="gzip, br")
    assert plain.headers["content-encoding"] == "br"
    assert plain.headers["vary"] == "Accept-Encoding, Available-Dictionary"
    assert plain.headers["etag"] != etag
    assert "use-as-dictionary" in plain.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"accept_encoding": "gzip, br, zstd"},  # dcz not offered
        {"accept_encoding": "*"},  # a wildcard is not a request for a delta
        {"accept_encoding": "br, dcz;q=0"},
        {"accept_encoding": CHROME, "range": "bytes=0-9"},  # byte offsets need identity
        {"accept_encoding": CHROME, "sec_fetch_site": "cross-site", "sec_fetch_mode": "no-cors"},
        {
            "accept_encoding": CHROME,
            "sec_fetch_site": "cross-site",
            "sec_fetch_mode": "cors",
            "origin": "https://elsewhere.example",
        },
    ],
)
async def test_never_a_delta_the_client_did_not_ask_for_or_may_not_read(
    two_builds: tuple[Path, Manifest, bytes], headers: dict[str, str]
) -> None:
    dist, manifest, v1 = two_builds
    app = StaticAssets(dist)
    r = await get(
        app, f"/static/{manifest['js/app.js'].path}", available_dictionary=offer(v1), **headers
    )
    assert r.headers.get("content-encoding") != "dcz"


async def test_an_unknown_or_malformed_dictionary_falls_back_to_brotli(
    two_builds: tuple[Path, Manifest, bytes],
) -> None:
    dist, manifest, _ = two_builds
    app = StaticAssets(dist)
    for offered in (offer(b"something else"), ":!!:", "abc"):
        r = await get(
            app,
            f"/static/{manifest['js/app.js'].path}",
            accept_encoding=CHROME,
            available_dictionary=offered,
        )
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "br"


async def test_cross_origin_cors_request_gets_the_delta_when_the_response_is_readable(
    two_builds: tuple[Path, Manifest, bytes],
) -> None:
    dist, manifest, v1 = two_builds
    app = StaticAssets(dist, allow_origin="https://www.example")
    r = await get(
        app,
        f"/static/{manifest['js/app.js'].path}",
        accept_encoding=CHROME,
        available_dictionary=offer(v1),
        sec_fetch_site="cross-site",
        sec_fetch_mode="cors",
        origin="https://www.example",
    )
    assert r.headers["content-encoding"] == "dcz"
    assert r.headers["access-control-allow-origin"] == "https://www.example"


async def test_turned_off_the_responses_are_those_of_a_build_without_deltas(
    two_builds: tuple[Path, Manifest, bytes],
) -> None:
    dist, manifest, v1 = two_builds
    app = StaticAssets(dist, dictionary_transport=False)
    for entry in manifest.files.values():
        r = await get(
            app, f"/static/{entry.path}", accept_encoding=CHROME, available_dictionary=offer(v1)
        )
        assert "use-as-dictionary" not in r.headers
        assert r.headers.get("content-encoding") in (None, "br", "gzip")
        assert "Available-Dictionary" not in r.headers.get("vary", "")


async def test_files_without_history_only_advertise_themselves(
    two_builds: tuple[Path, Manifest, bytes],
) -> None:
    dist, manifest, _ = two_builds
    css = manifest["css/app.css"]
    r = await get(StaticAssets(dist), f"/static/{css.path}", accept_encoding=CHROME)
    assert r.headers["use-as-dictionary"] == 'match="/static/css/app.*.css", match-dest=("style")'
    assert r.headers["vary"] == "Accept-Encoding"
    # a logical (revalidated) URL is not a version of the pattern: no dictionary there
    logical = await get(
        StaticAssets(dist, serve_logical_names=True), "/static/css/app.css", accept_encoding=CHROME
    )
    assert "use-as-dictionary" not in logical.headers
    # the delta files are never served at their own URL
    delta = next(iter(manifest["js/app.js"].dictionary.deltas.values()))["dcz"]  # type: ignore[union-attr]
    assert (
        await get(StaticAssets(dist, serve_unlisted=True), f"/static/{delta.path}")
    ).status_code == 404


async def test_a_prefix_is_part_of_the_match(two_builds: tuple[Path, Manifest, bytes]) -> None:
    dist, manifest, _ = two_builds
    app = StaticAssets(dist, prefix="/assets(v2)")
    r = await get(app, f"/assets(v2)/{manifest['js/pager.js'].path}", accept_encoding="br")
    assert r.headers["use-as-dictionary"] == (
        'match="/assets\\\\(v2\\\\)/js/pager.*.js", match-dest=("script")'
    )


async def test_a_tampered_manifest_dictionary_is_skipped_with_a_warning(
    two_builds: tuple[Path, Manifest, bytes],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dist, manifest, v1 = two_builds
    copy = tmp_path / "dist"
    shutil.copytree(dist, copy)
    data = json.loads((copy / "manifest.json").read_text())
    app_entry = data["files"]["js/app.js"]["dictionary"]
    delta = next(iter(app_entry["deltas"].values()))
    app_entry["deltas"] = {"not-hex": delta, "ab" * 32: {"dcb": delta["dcz"]}}
    data["files"]["js/pager.js"]["dictionary"]["match"] = "js/pägér.*.js"
    (copy / "manifest.json").write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="perf_middleware.static"):
        app = StaticAssets(copy)
    assert "static dictionary skipped" in caplog.text
    pager = await get(app, f"/static/{manifest['js/pager.js'].path}", accept_encoding=CHROME)
    assert "use-as-dictionary" not in pager.headers
    r = await get(
        app,
        f"/static/{manifest['js/app.js'].path}",
        accept_encoding=CHROME,
        available_dictionary=offer(v1),
    )
    assert r.headers["content-encoding"] == "br"
    assert "use-as-dictionary" in r.headers


# -- the same rules through a real uvicorn, with header lines httpx would normalise away ----


@pytest.fixture(scope="module")
def static_server(two_builds: tuple[Path, Manifest, bytes]) -> Iterator[UvicornServer]:
    dist, _, _ = two_builds
    with UvicornServer(StaticAssets(dist)) as running:
        yield running


def test_two_available_dictionary_lines_name_no_dictionary(
    two_builds: tuple[Path, Manifest, bytes], static_server: UvicornServer
) -> None:
    """RFC 9110 section 5.3: repeated lines are one combined value, and two Byte Sequences
    are not a Byte Sequence, so the client named no dictionary: never a delta, whichever
    line comes last."""
    _, manifest, v1 = two_builds
    target = f"/static/{manifest['js/app.js'].path}"
    for lines in ((offer(b"other"), offer(v1)), (offer(v1), offer(b"other"))):
        r = raw_request(
            static_server.port,
            target,
            [("Host", "t.test"), ("Accept-Encoding", CHROME)]
            + [("Available-Dictionary", line) for line in lines],
        )
        assert r.status == 200
        assert r.header("content-encoding") == "br"


def test_malformed_available_dictionary_values_get_brotli_not_an_error(
    two_builds: tuple[Path, Manifest, bytes], static_server: UvicornServer
) -> None:
    _, manifest, v1 = two_builds
    target = f"/static/{manifest['js/app.js'].path}"
    good = offer(v1)
    for value in (
        f"{good}, {good}",  # a list
        ":" + base64.b64encode(hashlib.sha256(v1).digest()[:31]).decode() + ":",  # 31 bytes
        good.replace("=", "") + "*",  # not base64
        ":" + "A" * 6000 + ":",  # huge
        good.lower(),
    ):
        r = raw_request(
            static_server.port,
            target,
            [("Host", "t.test"), ("Accept-Encoding", CHROME), ("Available-Dictionary", value)],
        )
        assert r.status == 200, value
        assert r.header("content-encoding") == "br", value


def test_a_validator_of_one_representation_never_revalidates_the_other(
    two_builds: tuple[Path, Manifest, bytes], static_server: UvicornServer
) -> None:
    _, manifest, v1 = two_builds
    target = f"/static/{manifest['js/app.js'].path}"
    holder = [("Host", "t.test"), ("Accept-Encoding", CHROME), ("Available-Dictionary", offer(v1))]
    delta = raw_request(static_server.port, target, holder)
    plain = raw_request(static_server.port, target, [("Host", "t.test"), ("Accept-Encoding", "br")])
    assert delta.header("content-encoding") == "dcz"
    assert plain.header("content-encoding") == "br"
    # a client without the dictionary revalidating with the delta's ETag gets brotli bytes
    r = raw_request(
        static_server.port,
        target,
        [("Host", "t.test"), ("Accept-Encoding", "br"), ("If-None-Match", delta.header("etag"))],
    )
    assert (r.status, r.header("content-encoding")) == (200, "br")
    # a holder revalidating with the brotli ETag gets the delta, not a 304
    r = raw_request(static_server.port, target, [*holder, ("If-None-Match", plain.header("etag"))])
    assert (r.status, r.header("content-encoding")) == (200, "dcz")
    assert r.body == delta.body
    # HEAD by a holder announces the delta without bytes
    r = raw_request(static_server.port, target, holder, method="HEAD")
    assert (r.status, r.header("content-encoding"), r.body) == (200, "dcz", b"")
    assert r.header("content-length") == delta.header("content-length")


def test_dcz_named_on_either_of_two_accept_encoding_lines_gets_the_delta(
    two_builds: tuple[Path, Manifest, bytes], static_server: UvicornServer
) -> None:
    """Two Accept-Encoding lines are one list (RFC 9110 section 5.3): whichever line names
    dcz, the holder gets the delta, and a client naming br on one line gets brotli."""
    _, manifest, v1 = two_builds
    target = f"/static/{manifest['js/app.js'].path}"
    for lines in (("gzip, br", "dcz"), ("dcz", "gzip, br")):
        r = raw_request(
            static_server.port,
            target,
            [("Host", "t.test"), ("Available-Dictionary", offer(v1))]
            + [("Accept-Encoding", line) for line in lines],
        )
        assert r.header("content-encoding") == "dcz", lines
    for lines in (("br", "gzip"), ("gzip", "br")):
        r = raw_request(
            static_server.port,
            target,
            [("Host", "t.test")] + [("Accept-Encoding", line) for line in lines],
        )
        assert r.header("content-encoding") == "br", lines

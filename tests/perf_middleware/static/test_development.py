"""Development mode (an unbuilt source tree) and the start-up check of the build's URL prefix."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import httpx
import pytest

from asset_pipeline.build import build
from asset_pipeline.config import BuildConfig
from asset_pipeline.manifest import ManifestError
from perf_middleware import Assets, PerformanceMiddleware, StaticAssets
from perf_middleware.static.development import ENV_FLAG

CSS = ".hero { background: url(/static/img/dot.svg) }\n"
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect/></svg>\n'


async def page(scope, receive, send):  # the app behind the middleware: a 404 for anything
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


def source_tree(root: Path) -> Path:
    src = root / "static"
    (src / "css").mkdir(parents=True)
    (src / "img").mkdir()
    (src / "css/app.css").write_text(CSS)
    (src / "img/dot.svg").write_text(SVG)
    (src / ".env").write_text("SECRET=1\n")
    return src


async def get(app, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        return await client.get(path, headers={"accept-encoding": "identity", **sent})


async def test_development_serves_the_unbuilt_tree_revalidated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # what a WhiteNoise/StaticFiles user tries first: point it at the source directory
    monkeypatch.setenv(ENV_FLAG, "1")
    src = source_tree(tmp_path)
    with caplog.at_level(logging.WARNING, logger="perf_middleware.static"):
        static = StaticAssets(src, development=True)
    assert "DEVELOPMENT mode" in caplog.text
    app = PerformanceMiddleware(page, static=static)
    r = await get(app, "/static/css/app.css")
    assert r.status_code == 200
    assert r.text == CSS
    assert r.headers["cache-control"] == "no-cache"  # revalidated, never immutable
    assert "immutable" not in r.headers["cache-control"]
    etag = r.headers["etag"]
    assert (await get(app, "/static/css/app.css", if_none_match=etag)).status_code == 304
    # an edit is served at once (new validator), a file added later too
    (src / "css/app.css").write_text(".hero { color: red }\n")
    st = os.stat(src / "css/app.css")
    os.utime(src / "css/app.css", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    again = await get(app, "/static/css/app.css", if_none_match=etag)
    assert again.status_code == 200
    assert again.text == ".hero { color: red }\n"
    (src / "css/new.css").write_text("p{}")
    assert (await get(app, "/static/css/new.css")).text == "p{}"
    # never hidden files, never outside the tree
    assert (await get(app, "/static/.env")).status_code == 404
    assert (await get(app, "/static/%2e%2e/static/css/app.css")).status_code == 404
    assert (await get(app, "/static/missing.css")).status_code == 404
    # templates resolve to the plain names, with nothing to pin by SRI
    assets = Assets(static)
    assert assets.url("css/app.css") == "/static/css/app.css"
    tag = str(assets.stylesheet("css/app.css"))
    assert 'href="/static/css/app.css"' in tag
    assert "integrity" not in tag


def test_development_is_off_unless_the_environment_opts_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # a forgotten development=True deployed where the variable is unset: no unbuilt tree
    monkeypatch.delenv(ENV_FLAG, raising=False)
    src = source_tree(tmp_path)
    with (
        caplog.at_level(logging.WARNING, logger="perf_middleware.static"),
        pytest.raises(ManifestError, match=f"HINT.*{ENV_FLAG}=1"),
    ):
        StaticAssets(src, development=True)
    assert "development=True) ignored" in caplog.text


async def test_development_keyword_without_the_environment_serves_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_FLAG, raising=False)
    src = source_tree(tmp_path)
    (src / ".env").unlink()
    result = build(BuildConfig(src=src, out=tmp_path / "dist", root=tmp_path, cache_dir=None))
    static = StaticAssets(result.out, development=True)
    built = "/static/" + result.manifest["css/app.css"].path
    r = await get(static, built)
    assert r.status_code == 200
    assert "immutable" in r.headers["cache-control"]


def test_a_source_directory_without_a_build_says_how_to_develop(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="development=True"):
        StaticAssets(source_tree(tmp_path))


async def test_a_prefix_the_build_was_not_made_for_is_reported_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the build wrote url(/static/img/dot.<hash>.svg) into the CSS; served under /assets
    # that URL 404s, so start-up says so, naming both prefixes and the two fixes
    src = source_tree(tmp_path)
    (src / ".env").unlink()
    result = build(BuildConfig(src=src, out=tmp_path / "dist", root=tmp_path, cache_dir=None))
    css = (result.out / result.manifest["css/app.css"].path).read_text()
    image = "/static/" + result.manifest["img/dot.svg"].path
    assert image in css
    with caplog.at_level(logging.WARNING, logger="perf_middleware.static"):
        static = StaticAssets(result.out, prefix="/assets")
    assert "StaticAssets(prefix='/assets')" in caplog.text
    assert "url_prefix='/static/'" in caplog.text
    assert "HINT" in caplog.text
    assert "--url-prefix /assets/" in caplog.text
    assert (await get(static, image)).status_code == 404  # what the warning predicts
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="perf_middleware.static"):
        matching = StaticAssets(result.out, prefix="/static")
    assert caplog.text == ""
    assert (await get(matching, image)).status_code == 200
    shutil.rmtree(result.out)


async def test_development_edge_cases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_FLAG, "1")
    with pytest.raises(FileNotFoundError, match=r"not a directory\. HINT"):
        StaticAssets(tmp_path / "nowhere", development=True)
    src = source_tree(tmp_path)
    static = StaticAssets(src, development=True)
    assert (await get(static, "/static/css")).status_code == 404  # a directory, not a file
    (src / "css/app.css").unlink()
    assert (await get(static, "/static/css/app.css")).status_code == 404  # deleted since
    assert static.source_tree is not None
    assert static.source_tree.entry("css/app.css") is None
    assert static.source_tree.entry("/img/dot.svg") is not None

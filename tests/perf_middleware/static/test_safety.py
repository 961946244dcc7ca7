"""StaticAssets never serves anything outside its build: hostile paths, manifests, symlinks."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asset_pipeline.manifest import Manifest, load_manifest, write_manifest
from perf_middleware.static import StaticAssets
from perf_middleware.static.config import safe_relative_path
from tests.perf_middleware.asgi_driver import call
from tests.perf_middleware.static.test_assets import get, shared_build  # noqa: F401
from tests.support.servers import UvicornServer

SECRET = b"top secret outside the build\n"


@pytest.fixture
def site(
    shared_build: tuple[Path, Manifest],  # noqa: F811
    tmp_path: Path,
) -> tuple[Path, Manifest]:
    """A build next to a secret file, with hostile symlinks inside the build."""
    root = tmp_path / "dist"
    shutil.copytree(shared_build[0], root)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    os.symlink(tmp_path / "secret.txt", root / "link-to-secret.txt")
    os.symlink(tmp_path, root / "link-dir")
    return root, shared_build[1]


HOSTILE = [
    "/static/../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/..\\secret.txt",
    "/static/css/../../secret.txt",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/C:/Windows/win.ini",
    "/static/manifest.json%00.css",
    "/static/link-to-secret.txt",
    "/static/link-dir/secret.txt",
    "/static/./manifest.json",
    "/static/",
    "/static",
    "/secret.txt",
    "/static/" + "a/" * 500 + "x",
]


@pytest.mark.parametrize("path", HOSTILE)
@pytest.mark.parametrize("unlisted", [False, True])
async def test_hostile_paths_over_asgi(
    site: tuple[Path, Manifest], path: str, unlisted: bool
) -> None:
    """The scope holds the decoded path, exactly as a server gives it (no client-side
    normalisation of dot segments, unlike an HTTP client)."""
    root, _ = site
    app = StaticAssets(root, serve_unlisted=unlisted)
    r = await call(app, unquote(path), raw_path=path.encode())
    assert r.status == 404
    assert SECRET not in r.body


def test_hostile_raw_paths_through_uvicorn(site: tuple[Path, Manifest]) -> None:
    """The same through a real server, with the bytes sent exactly as written."""
    import socket

    root, _ = site
    app = StaticAssets(root, serve_unlisted=True)
    with UvicornServer(app) as server:
        for raw in [p for p in HOSTILE if "\\" not in p] + [
            "/static/%00",
            "/static/..;/secret.txt",
        ]:
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(f"GET {raw} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            status = data.split(b"\r\n", 1)[0]
            assert status.split()[1] in (b"400", b"404"), (raw, status)
            assert SECRET not in data


async def test_symlinked_file_inside_build_is_served(site: tuple[Path, Manifest]) -> None:
    root, _ = site
    (root / "real.txt").write_text("inside")
    os.symlink(root / "real.txt", root / "alias.txt")
    app = StaticAssets(root, serve_unlisted=True)
    r = await get(app, "/static/alias.txt")
    assert r.status_code == 200
    assert r.text == "inside"


@pytest.mark.parametrize(
    "bad_path",
    [
        "../secret.txt",
        "/etc/passwd",
        "css\\..\\..\\secret.txt",
        "a/./b",
        "a//b",
        "x\x00.css",
        "link-to-secret.txt",
        "link-dir/secret.txt",
        "C:/secret.txt",
    ],
)
async def test_hostile_manifest_entries_are_skipped(
    site: tuple[Path, Manifest], bad_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    root, _ = site
    manifest = load_manifest(root)
    from dataclasses import replace

    files = dict(manifest.files)
    files["evil.txt"] = replace(files["robots.txt"], path=bad_path)
    write_manifest(replace(manifest, files=files), root)
    with caplog.at_level(logging.WARNING, logger="perf_middleware.static"):
        app = StaticAssets(root)
    assert "static file skipped" in caplog.text
    assert all(
        SECRET not in (rep.body or b"")
        for f in app.files.values()
        for rep in [f.identity, *f.encoded.values()]
    )
    assert all(not f.identity.path.endswith("secret.txt") for f in app.files.values())
    assert app.lookup({"type": "http", "path": "/static/" + bad_path, "root_path": ""}) is None
    # the rest of the build is still served
    assert (await get(app, "/static/robots.txt")).status_code == 200


async def test_file_removed_after_startup_is_a_404_not_a_crash(
    site: tuple[Path, Manifest], caplog: pytest.LogCaptureFixture
) -> None:
    root, manifest = site
    app = StaticAssets(root, max_memory_file_size=10)
    (root / manifest["js/app.js"].path).unlink()
    r = await get(app, "/static/" + manifest["js/app.js"].path)
    assert r.status_code == 404
    assert "static file unreadable" in caplog.text
    # and the app keeps serving other files
    assert (await get(app, "/static/robots.txt")).status_code == 200


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("a.css", True),
        ("css/a.b.css", True),
        ("", False),
        ("/a", False),
        ("a/../b", False),
        ("a\\b", False),
        ("a\x00", False),
        ("./a", False),
        ("a/", False),
        ("c:/x", False),
    ],
)
def test_safe_relative_path(path: str, ok: bool) -> None:
    assert safe_relative_path(path) is ok


SEGMENTS = [
    "..",
    ".",
    "",
    "css",
    "img",
    "manifest.json",
    "sw.js",
    "robots.txt",
    "%2e%2e",
    "link-dir",
    "link-to-secret.txt",
    "secret.txt",
    "\\",
    "\x00",
    "C:",
    "~",
]
PATHS = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6).map("/".join),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(PATHS)
def test_fuzzed_paths_only_reach_table_files(site: tuple[Path, Manifest], tail: str) -> None:
    root, _ = site
    app = _fuzz_app(root)
    found = app.lookup({"type": "http", "path": "/static/" + tail, "root_path": ""})
    if found is not None:
        assert found in app.files.values()
        assert os.path.realpath(found.identity.path).startswith(os.path.realpath(root) + os.sep)


_FUZZ_APPS: dict[Path, StaticAssets] = {}


def _fuzz_app(root: Path) -> StaticAssets:
    if root not in _FUZZ_APPS:
        _FUZZ_APPS[root] = StaticAssets(root, serve_unlisted=True)
    return _FUZZ_APPS[root]

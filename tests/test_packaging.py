"""What ``uv build`` ships: one pure-Python wheel any index accepts, and an sdist that builds
it without a C compiler.

The built wheel is unpacked and imported in a fresh interpreter, so the check serves from the
distribution, not from the checkout.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from blake3 import blake3

ROOT = Path(__file__).resolve().parents[1]

SERVE = """
import asyncio, json
import perf_middleware
from perf_middleware import PerformanceMiddleware

async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok": true}'})

async def main():
    sent = []
    async def send(message):
        sent.append(message)
    async def receive():
        return {"type": "http.request", "body": b""}
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    await PerformanceMiddleware(app)(scope, receive, send)
    headers = dict(sent[0]["headers"])
    print(json.dumps({"package": perf_middleware.__file__,
                      "etag": headers[b"etag"].decode(), "body": sent[1]["body"].decode()}))

asyncio.run(main())
"""


def uv_build(out: Path, *args: str, **env: str) -> None:
    uv = shutil.which("uv")
    command = [uv] if uv else [sys.executable, "-m", "uv"]
    environ = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", **env}
    done = subprocess.run(
        [*command, "build", *args, "--python", sys.executable, "--out-dir", str(out)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``uv build`` of the checkout: the sdist, and the wheel built from that sdist."""
    out = tmp_path_factory.mktemp("dist")
    uv_build(out)
    return out


def serve_from(site: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PERF_MIDDLEWARE_")}
    environ["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-c", SERVE], env=environ, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_wheel_is_pure_python_and_serves(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "site")
    assert "perf_middleware/pipeline/responder.py" in names
    assert "asset_pipeline/manifest.py" in names
    assert "asset_pipeline/build/orchestrate.py" in names
    assert {"asset_pipeline/sw/template.js", "asset_pipeline/sw/register.js"} <= set(names)
    # the admin API's assets ship built (no build step for users), with the vendored licences
    web = "perf_middleware/admin/web/dist/"
    shipped = json.loads((ROOT / "src" / web / "manifest.json").read_text(encoding="utf-8"))
    built = {web + entry["path"] for entry in shipped["files"].values()}
    assert built | {web + "manifest.json"} <= set(names)
    assert any("/vendor/uPlot.LICENSE." in n for n in built)
    assert any("/vendor/web-vitals.LICENSE." in n for n in built)
    assert not [n for n in names if n.endswith((".so", ".pyd", ".c"))]
    served = serve_from(tmp_path / "site")
    assert served["package"].startswith(str(tmp_path / "site"))
    assert served["body"] == '{"ok": true}'
    digest = base64.b64encode(blake3(b'{"ok": true}').digest(16)).decode()
    assert served["etag"] == '"' + digest.rstrip("=") + '"'


def test_the_sdist_carries_the_sources_but_no_lock_file(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert "pyproject.toml" in names
    assert "src/perf_middleware/pipeline/responder.py" in names
    assert "uv.lock" not in names
    assert "hatch_build.py" not in names


def test_the_sdist_builds_a_pure_wheel_without_a_compiler(dist: Path, tmp_path: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    # a compiler that always fails: building the wheel must not need one
    no_compiler = tmp_path / "bin"
    no_compiler.mkdir()
    for name in ("cc", "gcc", "clang"):
        tool = no_compiler / name
        tool.write_text("#!/bin/sh\nexit 1\n")
        tool.chmod(0o755)
    path = f"{no_compiler}{os.pathsep}{os.environ.get('PATH', '')}"
    out = tmp_path / "out"
    uv_build(out, "--wheel", str(sdist), CC="false", PATH=path)
    (wheel,) = out.glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")

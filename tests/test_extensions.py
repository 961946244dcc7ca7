"""The compiled per-request modules: which build Python runs, and the wheel that ships them.

Needs the in-place build (``make compile``; ``make test`` runs it first). Each import check
runs in a fresh interpreter on a copy of the package, so editing the copy cannot touch the
checkout.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from blake3 import blake3

from perf_middleware import extensions

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

PROBE = """
import importlib, json
from perf_middleware import extensions
for name in extensions.HOT_MODULES:
    importlib.import_module("perf_middleware." + name)
import perf_middleware.responder as responder
print(json.dumps({"compiled": extensions.compiled_modules(), "responder": responder.__file__}))
"""

SERVE = """
import asyncio, json
from perf_middleware import PerformanceMiddleware, extensions

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
    print(json.dumps({"compiled": extensions.compiled_modules(),
                      "etag": headers[b"etag"].decode(), "body": sent[1]["body"].decode()}))

asyncio.run(main())
"""


def run_python(code: str, path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != extensions.SWITCH}
    environ.update(env, PYTHONPATH=str(path))
    return subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=120
    )


def report(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """``src`` with the package and its in-place build, copied."""
    shared = sorted(SRC.glob("perf_middleware__mypyc*"))
    assert shared, "no in-place build of the per-request modules. HINT: run `make compile`"
    assert extensions.extensions_present(), "no compiled modules. HINT: run `make compile`"
    assert extensions.stale_modules() == [], "the in-place build is stale. HINT: `make compile`"
    target = tmp_path / "src"
    shutil.copytree(
        SRC / "perf_middleware",
        target / "perf_middleware",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for library in shared:
        shutil.copy2(library, target / library.name)
    return target


def test_a_current_build_is_what_python_imports(package_copy: Path) -> None:
    done = run_python(PROBE, package_copy)
    found = report(done)
    assert found["compiled"] == list(extensions.HOT_MODULES)
    assert str(found["responder"]).endswith(".so")
    assert "older than the source" not in done.stderr


def test_an_edited_source_runs_from_source_not_from_its_stale_build(package_copy: Path) -> None:
    pipeline = package_copy / "perf_middleware" / "pipeline.py"
    pipeline.write_text(pipeline.read_text() + "\nEDITED_SINCE_THE_BUILD = True\n")
    done = run_python(
        PROBE + "\nimport perf_middleware.pipeline as p\nprint(p.EDITED_SINCE_THE_BUILD)",
        package_copy,
    )
    assert done.returncode == 0, done.stderr
    assert "the compiled pipeline is older than the source" in done.stderr
    assert "make compile" in done.stderr
    lines = done.stdout.strip().splitlines()
    found = json.loads(lines[0])
    # every per-request module from source: compiled ones would call the stale pipeline
    assert found["compiled"] == []
    assert str(found["responder"]).endswith("responder.py")
    assert lines[1] == "True"


def test_the_switch_runs_the_sources_even_when_the_build_is_current(package_copy: Path) -> None:
    done = run_python(PROBE, package_copy, **{extensions.SWITCH: "1"})
    found = report(done)
    assert found["compiled"] == []
    assert str(found["responder"]).endswith("responder.py")
    assert "older than the source" not in done.stderr


def test_a_damaged_build_record_means_every_module_is_stale(tmp_path: Path) -> None:
    package = tmp_path / "perf_middleware"
    package.mkdir()
    for name in extensions.HOT_MODULES:
        (package / f"{name}.py").write_text(f"# {name}\n")
    assert extensions.stale_modules(package) == []  # no record: nothing to compare
    record = package / extensions.BUILD_RECORD
    record.write_text(json.dumps(extensions.source_digests(package)))
    assert extensions.stale_modules(package) == []
    (package / "observe.py").write_text("# observe, edited\n")
    assert extensions.stale_modules(package) == ["observe"]
    record.write_text("{not json")
    assert extensions.stale_modules(package) == list(extensions.HOT_MODULES)


def assert_lean_linkage(library: Path) -> None:
    """The build's ``-fvisibility=hidden -fno-plt`` (``hatch_build.compiler_flags``): the
    extension's own functions are not exported, so calls between them are direct, and no
    call goes through a PLT stub (each one an extra cache line touched per request)."""
    exported = subprocess.run(
        ["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [name for name in exported if name.startswith("PyInit_")] == [
        "PyInit_perf_middleware__mypyc"
    ]
    assert not [name for name in exported if name.startswith("CPy")]
    relocations = subprocess.run(
        ["readelf", "--relocs", "--wide", str(library)], capture_output=True, text=True, check=True
    ).stdout
    assert "JUMP_SLOT" not in relocations
    assert "PyObject_GetAttr" in relocations  # libpython is still called, through the GOT


def test_the_compiled_library_exports_only_its_init_and_calls_without_plt_stubs() -> None:
    (library,) = SRC.glob("perf_middleware__mypyc*.so")
    assert_lean_linkage(library)


def build_wheel(out: Path, **env: str) -> Path:
    uv = shutil.which("uv")
    command = [uv] if uv else ["python3", "-m", "uv"]
    environ = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", **env}
    done = subprocess.run(
        [*command, "build", "--wheel", "--python", sys.executable, "--out-dir", str(out)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    (wheel,) = out.glob("*.whl")
    return wheel


def test_the_wheel_ships_the_compiled_modules_and_they_serve(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    assert not wheel.name.endswith("-py3-none-any.whl")  # a platform wheel
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "site")
    for name in extensions.HOT_MODULES:
        assert any(n.startswith(f"perf_middleware/{name}.cpython-") for n in names), name
        assert f"perf_middleware/{name}.py" in names  # the sources ship beside them
    assert any(n.startswith("perf_middleware__mypyc.") for n in names)
    (library,) = (tmp_path / "site").glob("perf_middleware__mypyc*.so")
    assert_lean_linkage(library)
    assert not any("compiled-sources" in n for n in names)  # in-place builds only
    served = report(run_python(SERVE, tmp_path / "site"))
    assert served["compiled"] == list(extensions.HOT_MODULES)
    assert served["body"] == '{"ok": true}'
    digest = base64.b64encode(blake3(b'{"ok": true}').digest(16)).decode()
    assert served["etag"] == '"' + digest.rstrip("=") + '"'


def test_a_pure_wheel_when_compiling_is_switched_off(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist", PERF_MIDDLEWARE_COMPILE="0")
    assert wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "site")
    assert not any(n.endswith(".so") for n in names)
    served = report(run_python(SERVE, tmp_path / "site"))
    assert served["compiled"] == []
    assert served["body"] == '{"ok": true}'

"""Static files: StaticAssets vs ServeStatic vs Starlette StaticFiles, uvicorn and granian.

``python -m benchmarks.static [--rounds 3] [--duration 3] [--servers uvicorn,granian]``

One real ``asset-pipeline build`` (a ~100 KB stylesheet and a ~1 MB script, precompressed
with br 11 / zstd / gzip) is served by every variant from the same directory. Probes: the
CSS and the JS with and without ``Accept-Encoding: br``, and a 304 revalidation of the CSS
(``If-None-Match`` with the ETag each server itself gave). Every variant's bodies are
checked against the built files before timing. Figures are medians of ``rounds``; compare
the ratios within one run (absolute req/s swing on a shared 2-core machine).

Variants: ``ours`` = ``StaticAssets(dist)``; ``ours+mw`` = the same behind
``PerformanceMiddleware(app, static=...)`` (how users mount it); ``servestatic`` =
``ServeStaticASGI(None, root=dist)``; ``starlette`` = ``StaticFiles`` (identity only).
Under granian, ``StaticAssets`` hands files it does not hold in memory to
``http.response.pathsend``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import brotli

from benchmarks.harness import (
    ROOT,
    SERVER_CPU,
    Probe,
    Server,
    fetch_raw,
    free_port,
    human_bytes,
    measure_http,
    median,
    print_table,
    wait_for_port,
    warm_up,
)

ENV_DIR = "BENCH_STATIC_DIR"
VARIANTS = ("ours", "ours+mw", "servestatic", "starlette")
BR = {"Accept-Encoding": "br"}


# -- the build ---------------------------------------------------------------------------


def _css(rng: random.Random, size: int) -> str:
    props = ["color", "background", "margin", "padding", "border", "font-size", "display",
             "line-height", "grid-template-columns", "box-shadow", "transition", "gap"]  # fmt: skip
    values = ["0", "1rem", "auto", "flex", "grid", "none", "inherit", "#2163eb", "#1d2330",
              "0.25s ease-in-out", "repeat(3, 1fr)", "0 1px 2px rgba(0,0,0,.2)", "1.5"]  # fmt: skip
    out: list[str] = []
    n = 0
    while n < size:
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz-") for _ in range(rng.randint(4, 12)))
        body = "; ".join(f"{rng.choice(props)}: {rng.choice(values)}" for _ in range(4))
        rule = f".c-{name}:hover > .x{rng.randint(0, 999)} {{ {body} }}\n"
        out.append(rule)
        n += len(rule)
    return "".join(out)


def _js(rng: random.Random, size: int) -> str:
    words = ["state", "render", "value", "items", "index", "node", "event", "result", "slide",
             "deck", "cache", "options", "count", "next", "prev", "update"]  # fmt: skip
    out: list[str] = []
    n = 0
    i = 0
    while n < size:
        i += 1
        a, b, c = (rng.choice(words) for _ in range(3))
        fn = (
            f"export function {a}{i}({b}, {c}) {{\n"
            f"  const {a} = {b}.map((x) => x * {rng.randint(2, 99)} + {c}.length);\n"
            f"  if ({a}.length > {rng.randint(1, 50)}) {{ return {a}.slice(0, {i % 17}); }}\n"
            f'  return {{ {b}: {a}, {c}: "{rng.choice(words)}-{i}" }};\n}}\n'
        )
        out.append(fn)
        n += len(fn)
    return "".join(out)


def make_build(work: Path) -> tuple[Path, dict[str, str]]:
    """Build the sources with the real pipeline; returns (dist, {probe file: url path})."""
    from asset_pipeline.build import build
    from asset_pipeline.config import BuildConfig

    rng = random.Random(7)
    src = work / "src"
    (src / "css").mkdir(parents=True)
    (src / "js").mkdir()
    (src / "css" / "site.css").write_text(_css(rng, 119_000))
    (src / "js" / "bundle.js").write_text(_js(rng, 1_273_000))
    result = build(BuildConfig(src=src, out=work / "dist", root=work, cache_dir=None))
    paths = {
        "css": "/static/" + result.manifest["css/site.css"].path,
        "js": "/static/" + result.manifest["js/bundle.js"].path,
    }
    return result.out, paths


# -- the apps (module attributes, built lazily in the server process) -------------------


def _dist() -> Path:
    value = os.environ.get(ENV_DIR)
    if not value:
        raise RuntimeError(f"{ENV_DIR} is not set. HINT: run `python -m benchmarks.static`.")
    return Path(value)


def _ours() -> Any:
    from perf_middleware.static import StaticAssets

    return StaticAssets(_dist(), prefix="/static")


def _ours_mw() -> Any:
    from perf_middleware import PerformanceMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return PerformanceMiddleware(app, static=_ours())


def _servestatic() -> Any:
    from servestatic import ServeStaticASGI

    return ServeStaticASGI(None, root=_dist(), prefix="static")


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    return Starlette(routes=[Mount("/static", app=StaticFiles(directory=_dist()))])


_FACTORIES = {
    "ours": _ours,
    "ours_mw": _ours_mw,
    "servestatic": _servestatic,
    "starlette": _starlette,
}
_ATTR = {
    "ours": "ours",
    "ours+mw": "ours_mw",
    "servestatic": "servestatic",
    "starlette": "starlette",
}
_BUILT: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """``benchmarks.static:ours`` etc.: the server process builds its app on first import."""
    if name not in _FACTORIES:
        raise AttributeError(name)
    if name not in _BUILT:
        _BUILT[name] = _FACTORIES[name]()
    return _BUILT[name]


# -- servers -----------------------------------------------------------------------------


@dataclass
class GranianServer(Server):
    """The same app under ``granian --interface asgi`` (one worker, pinned like uvicorn)."""

    def start(self) -> None:
        self.port = free_port()
        cmd = [
            sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", "1", "--loop", "uvloop", "--no-log",
            "--backlog", "2048", self.app,
        ]  # fmt: skip
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", SERVER_CPU, *cmd]
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src")])
        self.process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, f"granian did not start for {self.name}")


def check(server: Server, paths: dict[str, str], dist: Path) -> dict[str, str]:
    """Every variant serves the right bytes; returns the ETag it gives the CSS."""
    for kind, path in paths.items():
        original = (dist / path.removeprefix("/static/")).read_bytes()
        status, headers, body = fetch_raw(server.url + path, {})
        assert status == 200, (server.name, kind, status)
        assert body == original, (server.name, kind)
        status, headers, body = fetch_raw(server.url + path, BR)
        coding = headers.get("content-encoding", "identity")
        decoded = brotli.decompress(body) if coding == "br" else body
        assert status == 200, (server.name, kind, status)
        assert decoded == original, (server.name, kind, coding)
        if server.name.startswith("starlette"):
            assert coding == "identity"
        else:
            assert coding == "br", (server.name, kind, coding)
    _, headers, _ = fetch_raw(server.url + paths["css"], {})
    etag = headers.get("etag", "")
    status, _, _ = fetch_raw(server.url + paths["css"], {"If-None-Match": etag})
    assert status == 304, (server.name, status)
    return {"If-None-Match": etag}


def run(kind: str, paths: dict[str, str], dist: Path, rounds: int, duration: float) -> None:
    cls = GranianServer if kind == "granian" else Server
    env = {ENV_DIR: str(dist)}
    servers = [cls(f"{v}", f"benchmarks.static:{_ATTR[v]}", env=env) for v in VARIANTS]
    probes = [
        Probe("css br", paths["css"], BR),
        Probe("css identity", paths["css"], {}),
        Probe("js br", paths["js"], BR),
        Probe("js identity", paths["js"], {}),
    ]
    try:
        for server in servers:
            server.start()
        not_modified = {s.name: check(s, paths, dist) for s in servers}
        probes_304 = [Probe(f"304 {s.name}", paths["css"], not_modified[s.name]) for s in servers]
        warm_up(servers, probes[:1], duration=1)
        results = measure_http(
            servers,
            probes + probes_304,
            rounds=rounds,
            duration=duration,
            pairs=lambda s, p: not p.name.startswith("304 ") or p.name == f"304 {s.name}",
        )
    finally:
        for server in servers:
            server.stop()
    base = {p.name: median(r.rps for r in results[("servestatic", p.name)]) or 1.0 for p in probes}
    base["304"] = median(r.rps for r in results[("servestatic", "304 servestatic")]) or 1.0
    rows = []
    for s in servers:
        row: list[object] = [s.name]
        for p in probes:
            rps = median(r.rps for r in results[(s.name, p.name)])
            size = median(r.bytes_per_response for r in results[(s.name, p.name)])
            row.append(f"{rps:,.0f} ({rps / base[p.name]:.2f}x, {human_bytes(size)})")
        rps = median(r.rps for r in results[(s.name, f"304 {s.name}")])
        row.append(f"{rps:,.0f} ({rps / base['304']:.2f}x)")
        rows.append(row)
    header = ["variant", *(p.name for p in probes), "304"]
    print_table(f"{kind}: req/s (ratio to servestatic, bytes/response)", header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--servers", default="uvicorn,granian")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-static-") as tmp:
        dist, paths = make_build(Path(tmp))
        sizes = {k: (dist / p.removeprefix("/static/")).stat().st_size for k, p in paths.items()}
        br = {k: (dist / (p.removeprefix("/static/") + ".br")).stat().st_size
              for k, p in paths.items()}  # fmt: skip
        print(f"files: css {human_bytes(sizes['css'])} (br {human_bytes(br['css'])}), "
              f"js {human_bytes(sizes['js'])} (br {human_bytes(br['js'])})")  # fmt: skip
        for kind in args.servers.split(","):
            run(kind.strip(), paths, dist, args.rounds, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())

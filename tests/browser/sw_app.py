"""A small Starlette site for the service-worker browser tests.

It serves a build directory under ``/static``, ``sw.js`` at the root (``no-cache``, so
the browser sees every new version), two HTML pages and counting JSON endpoints the
runtime-caching rules apply to. The page HTML is rendered from the current manifest on
every request, so a rebuild is visible without restarting Python.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import Counter
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from asset_pipeline.manifest import Manifest, ManifestEntry, load_manifest, write_manifest
from asset_pipeline.service_worker import (
    GeneratedWorker,
    registration_snippet,
    write_service_worker,
)
from asset_pipeline.sw_config import ServiceWorkerConfig, config_from_mapping

SW_TABLE = {
    "enabled": True,
    "offline_page": "offline.html",
    "runtime": [
        {
            "name": "pages",
            "navigate": True,
            "strategy": "network-first",
            "network_timeout_seconds": 2,
            "max_entries": 10,
        },
        {
            "name": "nf",
            "path": "/api/nf/**",
            "strategy": "network-first",
            "network_timeout_seconds": 2,
        },
        {
            "name": "slow",
            "path": "/api/slow/**",
            "strategy": "network-first",
            "network_timeout_seconds": 0.3,
        },
        {"name": "swr", "path": "/api/swr/**", "strategy": "stale-while-revalidate"},
        {"name": "cf", "path": "/api/cf/**", "strategy": "cache-first", "max_entries": 2},
    ],
}

SOURCES = {
    "css/app.css": b"body { color: rgb(200, 0, 0); }\n",
    "js/app.js": b"document.documentElement.dataset.js = 'loaded';\n",
    "offline.html": b"<!doctype html><title>Offline</title><h1 id='offline'>You are offline</h1>\n",
    "robots.txt": b"User-agent: *\n",
}
TYPES = {".css": "text/css", ".js": "text/javascript", ".html": "text/html", ".txt": "text/plain"}


def build(
    dist: Path, sources: dict[str, bytes], config: ServiceWorkerConfig | None = None
) -> tuple[Manifest, GeneratedWorker]:
    """Write a fingerprinted build of ``sources`` (CSS/JS hashed, HTML/text not) + sw.js.

    Earlier builds' hashed files stay in place, as they do on a CDN."""
    files: dict[str, ManifestEntry] = {}
    for name, data in sources.items():
        suffix = Path(name).suffix
        digest = hashlib.sha256(data).hexdigest()
        fingerprinted = suffix in (".css", ".js")
        path = f"{name[: -len(suffix)]}.{digest[:10]}{suffix}" if fingerprinted else name
        (dist / path).parent.mkdir(parents=True, exist_ok=True)
        (dist / path).write_bytes(data)
        sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
        files[name] = ManifestEntry(
            path=path,
            size=len(data),
            content_type=TYPES[suffix],
            hash=digest,
            integrity=sri,
            fingerprinted=fingerprinted,
        )
    manifest = Manifest(files=files, build_id=hashlib.sha256(repr(files).encode()).hexdigest())
    write_manifest(manifest, dist)
    worker = write_service_worker(manifest, dist, config or config_from_mapping(SW_TABLE))
    return manifest, worker


def page(title: str, manifest: Manifest, *, reload: bool = False) -> str:
    css = manifest.url_prefix + manifest["css/app.css"].path
    js = manifest.url_prefix + manifest["js/app.js"].path
    return f"""<!doctype html>
<html><head><title>{title}</title><link rel="stylesheet" href="{css}"></head>
<body><h1 id="title">{title}</h1>
<script>
window.__events = [];
sessionStorage.loads = Number(sessionStorage.loads || 0) + 1;
addEventListener('sw:update-available', (e) => {{ __events.push('update'); __update = e.detail; }});
addEventListener('sw:registered', () => __events.push('registered'));
</script>
{registration_snippet(sw_url="/sw.js", scope="/", reload=reload)}
<script src="{js}"></script>
</body></html>"""


def make_app(dist: Path) -> Starlette:
    hits: Counter[str] = Counter()

    async def home(request: Request) -> Response:
        if request.headers.get("service-worker-navigation-preload") == "true":
            hits["preload:/"] += 1
        reload = request.query_params.get("reload") == "1"
        return HTMLResponse(page("Home", load_manifest(dist), reload=reload))

    async def other(request: Request) -> Response:
        return HTMLResponse(page("Other", load_manifest(dist)))

    async def sw(request: Request) -> Response:
        headers = {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"}
        return FileResponse(dist / "sw.js", media_type="text/javascript", headers=headers)

    async def api(request: Request) -> Response:
        kind, name = request.path_params["kind"], request.path_params["name"]
        hits[request.url.path] += 1
        if kind == "slow" and hits[request.url.path] > 1:
            await asyncio.sleep(1.5)
        return JSONResponse({"path": request.url.path, "n": hits[request.url.path], "name": name})

    async def count(request: Request) -> Response:
        return JSONResponse(hits)

    return Starlette(
        routes=[
            Route("/", home),
            Route("/other", other),
            Route("/sw.js", sw),
            Route("/hits", count),
            Route("/api/{kind}/{name}", api),
            Mount("/static", StaticFiles(directory=dist)),
        ]
    )

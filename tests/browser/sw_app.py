"""A small Starlette site for the service-worker browser tests.

The real build output is served by ``StaticAssets`` under ``/static`` (``sw.js`` with
``no-cache`` and ``Service-Worker-Allowed: /``) behind ``PerformanceMiddleware``, next to
two HTML pages and counting JSON endpoints the runtime-caching rules apply to. The page
HTML is rendered from the current manifest on every request, so a rebuild is visible
without restarting Python.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from asset_pipeline.build import build as run_build
from asset_pipeline.config import BuildConfig
from asset_pipeline.manifest import Manifest, load_manifest
from asset_pipeline.sw import (
    GeneratedWorker,
    load_config,
    registration_snippet,
    render_service_worker,
)
from perf_middleware import Assets, PerformanceMiddleware, StaticAssets
from tests.support.servers import UvicornServer

SW_TOML = """
[tool.asset-pipeline.service-worker]
enabled = true
offline_page = "offline.html"

[[tool.asset-pipeline.service-worker.runtime]]
name = "pages"
navigate = true
strategy = "network-first"
network_timeout_seconds = 2
max_entries = 10
exclude = ["/docs/private/**"]

[[tool.asset-pipeline.service-worker.runtime]]
name = "nf"
path = "/api/nf/**"
strategy = "network-first"
network_timeout_seconds = 2

[[tool.asset-pipeline.service-worker.runtime]]
name = "slow"
path = "/api/slow/**"
strategy = "network-first"
network_timeout_seconds = 0.3

[[tool.asset-pipeline.service-worker.runtime]]
name = "swr"
path = "/api/swr/**"
strategy = "stale-while-revalidate"
broadcast_update = true

[[tool.asset-pipeline.service-worker.runtime]]
name = "cf"
path = "/api/cf/**"
strategy = "cache-first"
max_entries = 2

[[tool.asset-pipeline.service-worker.runtime]]
name = "lru"
path = "/api/lru/**"
strategy = "cache-first"
max_bytes = 2600

[[tool.asset-pipeline.service-worker.runtime]]
name = "big"
path = "/api/big/**"
strategy = "cache-first"

[[tool.asset-pipeline.service-worker.runtime]]
name = "age"
path = "/api/age/**"
strategy = "cache-first"
max_age_seconds = 1

# "localhost" is another origin than 127.0.0.1: no-cors fetches there are opaque
[[tool.asset-pipeline.service-worker.runtime]]
name = "opaque-ok"
url_regex = '^http://localhost:\\d+/api/xo/'
strategy = "cache-first"
cache_opaque = true
max_opaque_entries = 2

[[tool.asset-pipeline.service-worker.runtime]]
name = "opaque-no"
url_regex = '^http://localhost:\\d+/api/xn/'
strategy = "cache-first"
"""

TRUSTED_TYPES = "require-trusted-types-for 'script'"

SOURCES = {
    "css/app.css": b"body { color: rgb(200, 0, 0); }\n",
    "js/app.js": b"document.documentElement.dataset.js = 'loaded';\n",
    "offline.html": b"<!doctype html><title>Offline</title><h1 id='offline'>You are offline</h1>\n",
    "robots.txt": b"User-agent: *\n",
}


def build(
    dist: Path, sources: dict[str, bytes], *, extra_toml: str = ""
) -> tuple[Manifest, GeneratedWorker]:
    """Run the real ``asset-pipeline`` build of ``sources`` into ``dist``; the build's
    own hook writes sw.js from the ``[tool.asset-pipeline.service-worker]`` table."""
    root = dist.parent
    for name, data in sources.items():
        (root / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "src" / name).write_bytes(data)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(SW_TOML.replace("enabled = true", "enabled = true\n" + extra_toml))
    config = BuildConfig(
        src=root / "src", out=dist, root=root, cache_dir=None, jobs=1, source=str(pyproject)
    )
    manifest = run_build(config).manifest
    # the same deterministic render the hook wrote, for the tests' expectations
    worker = render_service_worker(manifest, load_config(pyproject))
    assert (dist / "sw.js").read_text() == worker.source
    return manifest, worker


def deploy(
    server: UvicornServer, dist: Path, sources: dict[str, bytes], *, extra_toml: str = ""
) -> GeneratedWorker:
    """A new release on the same origin: the server is down while the build rewrites
    ``dist`` (no request sees half a build) and comes back on the same port; the new
    release's worker."""
    server.stop()
    _, worker = build(dist, sources, extra_toml=extra_toml)
    server.start()
    return worker


def page(title: str, manifest: Manifest, *, reload: bool = False) -> str:
    css = manifest.url_prefix + manifest["css/app.css"].path
    js = manifest.url_prefix + manifest["js/app.js"].path
    return f"""<!doctype html>
<html><head><title>{title}</title><link rel="stylesheet" href="{css}"></head>
<body><h1 id="title">{title}</h1>
<script>
window.__events = [];  // sw:* events the registration script dispatched
sessionStorage.loads = Number(sessionStorage.loads || 0) + 1;
addEventListener('sw:update-available', (e) => {{ __events.push('update'); __update = e.detail; }});
addEventListener('sw:registered', () => __events.push('registered'));
addEventListener('sw:install-failed', (e) => __events.push('install-failed:' + e.detail.error.name)
);
addEventListener('sw:cache-updated', (e) => __events.push('cache-updated:' + e.detail.url));
</script>
{Assets(manifest).service_worker(sw_url="/static/sw.js", scope="/", reload=reload)}
<script src="{js}"></script>
</body></html>"""


def make_app(dist: Path) -> PerformanceMiddleware:
    hits: Counter[str] = Counter()

    async def home(request: Request) -> Response:
        if request.headers.get("service-worker-navigation-preload") == "true":
            hits["preload:/"] += 1
        reload = request.query_params.get("reload") == "1"
        return HTMLResponse(page("Home", load_manifest(dist), reload=reload))

    async def other(request: Request) -> Response:
        return HTMLResponse(page("Other", load_manifest(dist)))

    async def api(request: Request) -> Response:
        kind, name = request.path_params["kind"], request.path_params["name"]
        hits[request.url.path] += 1
        if kind == "slow" and hits[request.url.path] > 1:
            await asyncio.sleep(1.5)
        pad = "x" * int(request.query_params.get("pad", "0"))
        body = {"path": request.url.path, "n": hits[request.url.path], "name": name, "pad": pad}
        return JSONResponse(body)

    async def document(request: Request) -> Response:
        """Things a tab can navigate to that are not pages."""
        kind = request.path_params["kind"]
        hits[request.url.path] += 1
        if kind == "report.pdf":
            return Response(b"%PDF-1.4\n" + b"0" * 5000, media_type="application/pdf")
        if kind == "data.json":
            return JSONResponse({"n": hits[request.url.path]})
        if kind == "export.html":  # a download, even though it is HTML
            headers = {"content-disposition": 'attachment; filename="export.html"'}
            return HTMLResponse("<!doctype html><title>export</title>", headers=headers)
        return HTMLResponse(f"<!doctype html><title>{kind}</title><h1 id='title'>{kind}</h1>")

    async def inline_nonce(request: Request) -> Response:
        """The inline registration snippet under a nonce-based strict policy; the worker
        itself needs ``worker-src`` (it falls back to ``script-src``, which a nonce cannot
        satisfy for a worker script)."""
        nonce = secrets.token_urlsafe(16)
        snippet = registration_snippet(sw_url="/static/sw.js", scope="/", nonce=nonce)
        body = f"<!doctype html><title>nonce</title><h1 id='title'>nonce</h1>{snippet}"
        policy = (
            f"default-src 'self'; script-src 'nonce-{nonce}'; worker-src 'self'; {TRUSTED_TYPES}"
        )
        return HTMLResponse(body, headers={"content-security-policy": policy})

    async def count(request: Request) -> Response:
        return JSONResponse(hits)

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/other", other),
            Route("/hits", count),
            Route("/csp-inline", inline_nonce),
            Route("/api/{kind}/{name}", api),
            Route("/docs/{kind:path}", document),
        ]
    )
    # autorefresh: the tests rebuild DIST under a running server
    static = StaticAssets(dist, prefix="/static", service_worker_allowed="/", autorefresh=True)
    return PerformanceMiddleware(app, static=static)

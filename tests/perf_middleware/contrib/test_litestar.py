"""The Litestar plugin under a real uvicorn: static files, the admin API, the response
cache and the template helpers through one shared middleware — also when the app
registered the middleware Litestar's own way (``DefineMiddleware``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, get
from litestar.middleware.base import DefineMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Response, Template
from litestar.template.config import TemplateConfig

from asset_pipeline.cli import main as asset_pipeline
from asset_pipeline.manifest import Manifest, load_manifest
from perf_middleware import (
    AdminConfig,
    Assets,
    MemoryBackend,
    PerformanceMiddleware,
    StaticAssets,
)
from perf_middleware.contrib.litestar import PerformancePlugin
from tests.support.servers import UvicornServer

TOKEN = "litestar-admin-token-0123"
PAGE = '<!doctype html><title>x</title>{{ stylesheet("css/app.css") }}<p>{{ title }}</p>'


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("litestar-src")
    (src / "css").mkdir()
    (src / "css" / "app.css").write_text("/* url(gone.png) */ body { color: #123; }\n" * 40)
    out = src.parent / (src.name + "-dist")
    assert asset_pipeline(["build", str(src), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("litestar-templates")
    (folder / "page.html").write_text(PAGE)
    return folder


calls = {"hello": 0}


@get("/hello")
async def hello() -> Response[str]:
    calls["hello"] += 1
    headers = {"cache-control": "public, max-age=0, s-maxage=60", "cache-tag": "greeting"}
    return Response("hello " * 400, media_type="text/plain", headers=headers)


@get("/page")
async def page(request: Request) -> Template:
    return Template("page.html", context={"title": "Litestar page"})


def make_app(plugin: PerformancePlugin | None, templates: Path, **app_options: object) -> Litestar:
    config = TemplateConfig(directory=templates, engine=JinjaTemplateEngine)
    plugins = [plugin] if plugin is not None else []
    return Litestar([hello, page], template_config=config, plugins=plugins, **app_options)  # type: ignore[arg-type]


@pytest.fixture
def plugin(dist: Path) -> PerformancePlugin:
    return PerformancePlugin(
        cache=MemoryBackend(),
        static=StaticAssets(dist, prefix="/static"),
        admin=AdminConfig(token=TOKEN),
        preload=True,
    )


@pytest.fixture
def served(plugin: PerformancePlugin, templates: Path) -> Iterator[httpx.Client]:
    with (
        UvicornServer(make_app(plugin, templates)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        yield client


def test_static_files_and_the_admin_api_answer_through_the_plugin(
    served: httpx.Client, plugin: PerformancePlugin, dist: Path
) -> None:
    css = load_manifest(dist)["css/app.css"].path
    asset = served.get(f"/static/{css}", headers={"accept-encoding": "br"})
    assert asset.status_code == 200
    assert asset.headers["content-encoding"] == "br"
    assert "immutable" in asset.headers["cache-control"]
    assert served.get("/static/css/nope.css").status_code == 404
    assert served.get("/_perf/health").status_code == 401  # the admin API, token-protected
    health = served.get("/_perf/health", headers={"authorization": f"Bearer {TOKEN}"})
    assert health.status_code == 200
    metrics = served.get("/_perf/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert metrics.status_code == 200


async def invalidate(plugin: PerformancePlugin) -> int:
    return int(await plugin.cache.invalidate_tags(["greeting"]))


def test_routes_share_one_middleware_and_its_cache(
    served: httpx.Client, plugin: PerformancePlugin
) -> None:
    before = calls["hello"]
    first = served.get("/hello", headers={"accept-encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"
    assert "stored" in first.headers["cache-status"]
    assert "etag" in first.headers
    again = served.get("/hello")
    assert "hit" in again.headers["cache-status"]
    assert calls["hello"] == before + 1
    assert isinstance(plugin.middleware, PerformanceMiddleware)
    assert plugin.cache is plugin.middleware.cache
    import asyncio

    assert asyncio.run(invalidate(plugin)) >= 1  # the handle for invalidation
    assert "hit" not in served.get("/hello").headers["cache-status"]
    assert calls["hello"] == before + 2


def test_templates_get_the_helpers_and_preload_headers(served: httpx.Client, dist: Path) -> None:
    manifest: Manifest = load_manifest(dist)
    css = manifest["css/app.css"]
    page = served.get("/page")
    assert page.status_code == 200
    assert (
        f'<link rel="stylesheet" href="/static/{css.path}" integrity="{css.integrity}">'
        in page.text
    )
    assert page.headers["link"].startswith(f"</static/{css.path}>; rel=preload; as=style")


def test_litestar_registration_alone_misses_static_files_and_admin(
    dist: Path, templates: Path
) -> None:
    """What users found: DefineMiddleware runs per route, after routing, so the mounts 404."""
    middleware = DefineMiddleware(
        PerformanceMiddleware,
        static=StaticAssets(dist, prefix="/static"),
        admin=AdminConfig(token=TOKEN),
    )
    css = load_manifest(dist)["css/app.css"].path
    app = make_app(None, templates, middleware=[middleware])
    with UvicornServer(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.get(f"/static/{css}").status_code == 404
        assert client.get("/hello").headers.get("etag")  # routes do get the middleware


def test_the_plugin_adopts_litestar_registration(dist: Path, templates: Path) -> None:
    middleware = DefineMiddleware(
        PerformanceMiddleware,
        cache=MemoryBackend(),
        static=StaticAssets(dist, prefix="/static"),
        admin=AdminConfig(token=TOKEN),
    )
    plugin = PerformancePlugin()
    css = load_manifest(dist)["css/app.css"].path
    app = make_app(plugin, templates, middleware=[middleware])
    with UvicornServer(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.get(f"/static/{css}").status_code == 200
        health = client.get("/_perf/health", headers={"authorization": f"Bearer {TOKEN}"})
        assert health.status_code == 200
        assert "stored" in client.get("/hello").headers["cache-status"]
        page = client.get("/page")
        assert f'href="/static/{css}"' in page.text  # helpers from the adopted static
        assert "link" not in page.headers  # preload is off unless asked for
    assert plugin.middleware is not None
    assert sum(isinstance(m, DefineMiddleware) for m in app.middleware) == 1


def test_without_static_or_cache_nothing_is_mounted(templates: Path) -> None:
    plugin = PerformancePlugin(compression=None)
    app = make_app(plugin, templates)
    assert plugin.cache is None
    assert plugin.middleware is not None
    assert plugin.middleware.static is None
    with UvicornServer(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/static/x.css").status_code == 404
        assert client.get("/hello").headers.get("etag")


def test_an_engine_callback_of_the_app_still_runs(dist: Path, templates: Path) -> None:
    seen: list[object] = []
    config = TemplateConfig(
        directory=templates, engine=JinjaTemplateEngine, engine_callback=seen.append
    )
    plugin = PerformancePlugin(static=StaticAssets(dist, prefix="/static"))
    app = Litestar([page], template_config=config, plugins=[plugin])
    assert len(seen) == 1
    assert "stylesheet" in app.template_engine.engine.globals  # type: ignore[union-attr]


async def test_the_shared_middleware_outside_a_route_answers_404() -> None:
    from perf_middleware.contrib.litestar import _route_app

    transport = httpx.ASGITransport(app=PerformanceMiddleware(_route_app))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/anything")).status_code == 404


class OtherEngine:
    """Stands for a non-Jinja engine (Mako, MiniJinja): no Jinja environment inside."""

    def __init__(self) -> None:
        self.engine = object()


def test_helpers_go_only_to_a_jinja_engine_unless_asked_for(dist: Path) -> None:
    static = StaticAssets(dist, prefix="/static")
    other = TemplateConfig(engine=OtherEngine())  # type: ignore[arg-type]
    plugin = PerformancePlugin(static=static)
    Litestar([hello], template_config=other, plugins=[plugin])
    assert other.to_engine().engine is not None  # the implicit helpers skipped it
    asked = TemplateConfig(engine=OtherEngine())  # type: ignore[arg-type]
    explicit = PerformancePlugin(static=static, assets=Assets(static))
    with pytest.raises(TypeError, match=r"not a Jinja environment.*HINT"):
        Litestar([hello], template_config=asked, plugins=[explicit])  # fails at start-up


def mark_responses(app: Any) -> Any:
    """An app's own middleware, registered the Litestar way next to ours."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        async def marked(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-mine", b"1")]
            await send(message)

        await app(scope, receive, marked)

    return middleware


async def test_the_apps_other_middleware_keeps_running(templates: Path) -> None:
    plugin = PerformancePlugin()
    app = make_app(
        plugin, templates, middleware=[mark_responses, DefineMiddleware(PerformanceMiddleware)]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/hello")
    assert response.headers["x-mine"] == "1"
    assert "etag" in response.headers
    assert len(app.middleware) == 2  # ours (per route, shared core) and the app's own

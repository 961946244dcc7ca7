"""``wrap_application``: Django behind PerformanceMiddleware, configured from settings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from django.core.asgi import get_asgi_application as django_asgi
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from asset_pipeline.manifest import load_manifest
from perf_middleware import AdminConfig, MemoryBackend
from perf_middleware.contrib.django import get_asgi_application, get_cache, wrap_application
from perf_middleware.middleware import PerformanceMiddleware

TOKEN = "t" * 24


async def get(app: PerformanceMiddleware, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.get(path, headers=headers)


async def test_pages_static_files_and_cache_from_settings(collected: Path) -> None:
    app = get_asgi_application()
    assert app.cache is get_cache()
    assert isinstance(app.cache, MemoryBackend)
    manifest = load_manifest(collected)
    css = manifest["css/app.css"].path

    page = await get(app, "/", **{"accept-encoding": "br"})
    assert page.status_code == 200
    assert f'href="/static/{css}"' in page.text
    assert "<picture>" in page.text
    assert ".webp 480w" in page.text
    assert "stored" in page.headers["cache-status"]
    assert f"</static/{css}>; rel=preload; as=style" in page.headers["link"]
    assert page.headers["content-encoding"] == "br"
    again = await get(app, "/")
    assert "hit" in again.headers["cache-status"]

    asset = await get(app, f"/static/{css}", **{"accept-encoding": "br"})
    assert asset.status_code == 200
    assert asset.headers["content-encoding"] == "br"
    assert "immutable" in asset.headers["cache-control"]
    assert (await get(app, "/static/css/app.css")).status_code == 404  # plain names: no


async def test_debug_serves_the_sources_without_a_build(tmp_path: Path) -> None:
    with override_settings(DEBUG=True, STATIC_ROOT=tmp_path / "never-built"):
        app = wrap_application(django_asgi())
        page = await get(app, "/articles/2/")
        assert page.status_code == 200
        assert 'href="/static/css/app.css"' in page.text
        assert 'src="/static/js/app.js"' in page.text
        assert "integrity" not in page.text
        assert '<img src="/static/img/hero.jpg"' in page.text
        css = await get(app, "/static/css/app.css")
        assert css.status_code == 200
        assert "sourceMappingURL=app.css.map" in css.text  # the source file, untouched
        assert "cache-status" in css.headers  # still answered through the middleware


async def test_admin_api_is_mounted_from_settings(collected: Path) -> None:
    conf = {"cache": "memory://", "admin": {"token": TOKEN}, "static": {"allow_origin": "*"}}
    with override_settings(PERF_MIDDLEWARE=conf):
        app = wrap_application(django_asgi())
        assert isinstance(app.admin, object)
        assert app.admin is not None
        health = await get(app, "/_perf/health", authorization=f"Bearer {TOKEN}")
        assert health.status_code == 200
        css = load_manifest(collected)["css/app.css"].path
        asset = await get(app, f"/static/{css}")
        assert asset.headers["access-control-allow-origin"] == "*"
    with override_settings(PERF_MIDDLEWARE={"admin": AdminConfig(token=TOKEN), "static": False}):
        app = wrap_application(django_asgi())
        assert app.admin is not None
        assert app.static is None
        assert app.cache is None
    with override_settings(PERF_MIDDLEWARE={"admin": False, "etag": False}):
        app = wrap_application(django_asgi())
        assert app.admin is None
        assert app.pipeline is not None


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ("memory://", "PERF_MIDDLEWARE must be a dict"),
        ({"cache": "memcached://x"}, "not a cache URL"),
        ({"cache": "memory://", "cache_options": ["x"]}, "cache_options"),
        ({"static": "yes"}, r"\['static'\] must be True, False or a dict"),
    ],
)
def test_bad_settings_are_clear_errors(collected: Path, conf: object, message: str) -> None:
    with (
        override_settings(PERF_MIDDLEWARE=conf),
        pytest.raises(ImproperlyConfigured, match=message),
    ):
        wrap_application(django_asgi())


def test_static_needs_a_build_a_root_and_a_path(collected: Path, tmp_path: Path) -> None:
    with (
        override_settings(STATIC_ROOT=tmp_path, PERF_MIDDLEWARE=None),
        pytest.raises(
            ImproperlyConfigured, match=r'no manifest.*PERF_MIDDLEWARE\["static"\] = False'
        ),
    ):
        wrap_application(django_asgi())  # no settings at all: static is on by default
    with (
        override_settings(STATIC_ROOT=tmp_path),
        pytest.raises(
            ImproperlyConfigured, match=r"no manifest.*HINT: run `python manage.py collectstatic`"
        ),
    ):
        wrap_application(django_asgi())
    with (
        override_settings(STATIC_ROOT=None),
        pytest.raises(ImproperlyConfigured, match="STATIC_ROOT"),
    ):
        wrap_application(django_asgi())
    with override_settings(STATIC_URL="/"), pytest.raises(ImproperlyConfigured, match="no path"):
        wrap_application(django_asgi())


def test_redis_and_object_backends(collected: Path, redis_url: str) -> None:
    from perf_middleware import RedisBackend

    with override_settings(
        PERF_MIDDLEWARE={"cache": redis_url, "cache_options": {"namespace": "dj"}}
    ):
        backend = get_cache()
        assert isinstance(backend, RedisBackend)
        assert backend.prefixes == ("dj:",)
        assert get_cache() is backend  # one per process
    mine = MemoryBackend()
    with override_settings(PERF_MIDDLEWARE={"cache": mine}):
        assert wrap_application(django_asgi()).cache is mine

"""The Django example end to end: collectstatic (the asset pipeline) over a tree with the
traps Django's manifest storage fails on, Django behind the middleware under real uvicorn,
pages checked in Chromium, and the cache invalidated by a model save (SQLite)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from asset_pipeline.manifest import Manifest, load_manifest
from tests.support.django_site import EXAMPLE, collected_static, setup_django_site
from tests.support.servers import UvicornServer

pytestmark = pytest.mark.browser
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[UvicornServer, Manifest]]:
    setup_django_site()
    from perf_middleware.contrib.django import get_asgi_application, get_assets, get_cache

    with collected_static(tmp_path_factory.mktemp("django-example")) as static_root:
        get_cache.cache_clear()
        get_assets.cache_clear()
        with UvicornServer(get_asgi_application()) as server:
            yield server, load_manifest(static_root)


def test_pages_in_chromium_use_hashed_urls_and_pictures_with_no_404(
    site: tuple[UvicornServer, Manifest], chromium: Any
) -> None:
    server, manifest = site
    published = {f"/static/{path}" for path in manifest.output_paths()}
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        responses: list[Any] = []
        page.on("response", lambda response: responses.append(response))
        page.goto(server.url + "/", wait_until="load")
        page.wait_for_function(
            "document.documentElement.dataset.enhanced === 'yes'", timeout=WAIT_MS
        )
        page.wait_for_function("document.querySelector('picture img').complete", timeout=WAIT_MS)
        page.evaluate("document.fonts.ready")

        assert [r.url for r in responses if r.status >= 400] == []
        static = [r.url.removeprefix(server.url) for r in responses if "/static/" in r.url]
        assert static, "the page loaded no static files"
        assert set(static) <= published  # every one a fingerprinted file of the build
        assert f"/static/{manifest['css/app.css'].path}" in static
        assert f"/static/{manifest['js/enhance.js'].path}" in static  # the module's import
        chosen = page.evaluate("document.querySelector('picture img').currentSrc")
        webp = {a.path for a in manifest["img/hero.jpg"].alternates if a.format == "webp"}
        assert chosen.removeprefix(server.url + "/static/") in webp
        assert page.evaluate("document.fonts.check('16px \"Deck Serif\"')")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(251, 250, 247)"  # the stylesheet applied (SRI matched)
    finally:
        context.close()


def test_a_model_save_invalidates_the_cached_pages(
    site: tuple[UvicornServer, Manifest], chromium: Any
) -> None:
    server, _ = site
    with httpx.Client(base_url=server.url) as client:
        client.get("/")
        cached = client.get("/")
        assert cached.headers["cache-status"].split(";")[1].strip() == "hit"
        title = re.search(r'<a href="/articles/2/">([^<]+)</a>', cached.text)
        assert title is not None

        # a person edits the article in the browser: the form posts, the view saves the row
        context = chromium.new_context()
        try:
            page = context.new_page()
            page.goto(server.url + "/articles/2/edit", wait_until="load")
            page.fill("input[name=title]", "Saved from the browser")
            with page.expect_navigation(url=re.compile(r"/articles/2/$")):
                page.click("button[type=submit]")
            assert page.locator("h1").inner_text() == "Saved from the browser"
        finally:
            context.close()

        # the index is neither the POSTed URL nor its redirect: only the tag reaches it
        after = client.get("/")
        assert "hit" not in after.headers["cache-status"]
        assert '<a href="/articles/2/">Saved from the browser</a>' in after.text
        assert "hit" in client.get("/").headers["cache-status"]  # and it is cached again


def test_the_example_runs_from_its_manage_py(tmp_path: Path) -> None:
    """The one-command demo's steps (``make demo-django``) work from a clean checkout."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_DB_PATH": str(tmp_path / "db.sqlite3"),
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        done = subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stderr
    assert "post-processed" in done.stdout
    assert "sourceMappingURL comment was removed" in done.stderr  # the warning, not a failure
    assert (tmp_path / "static" / "manifest.json").exists()


def test_a_save_in_another_process_invalidates_through_redis(
    site: tuple[UvicornServer, Manifest], private_redis: Any
) -> None:
    """A management command, a worker or the admin on another host: the save happens in
    another process, and the server's Redis-backed cache drops the tagged pages."""
    import os
    import subprocess
    import sys

    from django.conf import settings
    from django.core.asgi import get_asgi_application as django_asgi
    from django.test import override_settings

    from perf_middleware import CacheConfig
    from perf_middleware.contrib.django import wrap_application

    conf = {
        "cache": private_redis.url,
        "cache_config": CacheConfig(allowed_hosts=("127.0.0.1",)),
    }
    with (
        override_settings(PERF_MIDDLEWARE=conf),
        UvicornServer(wrap_application(django_asgi())) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        client.get("/articles/3/")
        assert "hit" in client.get("/articles/3/").headers["cache-status"]
        rename = (
            "from examples.django_app.articles.models import Article; "
            "a = Article.objects.get(pk=3); a.title = 'Renamed by a command'; a.save()"
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "examples.django_app.settings",
            "DJANGO_DB_PATH": str(settings.DATABASES["default"]["NAME"]),
            "REDIS_URL": private_redis.url,
        }
        done = subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), "shell", "-c", rename],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        after = client.get("/articles/3/")
        assert "hit" not in after.headers["cache-status"]
        assert "<h1>Renamed by a command</h1>" in after.text

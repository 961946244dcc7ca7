"""``{% load perf_assets %}``: the templating helpers as Django tags."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Template
from django.test import override_settings

from asset_pipeline.manifest import load_manifest
from perf_middleware.contrib.django.assets import FinderFiles, get_assets
from perf_middleware.templating.preload import PRELOAD_SCOPE_KEY

PAGE = (
    '{% load perf_assets %}{% stylesheet "css/app.css" media="screen" %}'
    '{% script "js/app.js" module=True %}{% asset_url "img/logo.png" %}'
    '{% picture "img/hero.jpg" alt="Hero" sizes="100vw" class_="hero" %}'
    '{% preload_links "css/app.css" %}'
)


class Request:
    def __init__(self) -> None:
        self.scope: dict[str, object] = {}


def test_tags_render_the_build(collected: Path) -> None:
    manifest = load_manifest(collected)
    request = Request()
    html = Template(PAGE).render(Context({"request": request}))
    css = manifest["css/app.css"]
    assert f'<link rel="stylesheet" href="/static/{css.path}" media="screen"' in html
    assert f'integrity="{css.integrity}"' in html
    assert f'src="/static/{manifest["js/app.js"].path}"' in html
    assert f"/static/{manifest['img/logo.png'].path}" in html
    assert "<picture>" in html
    assert 'class="hero"' in html
    assert 'sizes="100vw"' in html
    assert 'rel="preload"' in html
    assert ".woff2" in html
    assert request.scope[PRELOAD_SCOPE_KEY] == [
        "css/app.css",
        "js/app.js",
        "img/logo.png",
        "img/hero.jpg",
    ]


def test_tags_in_debug_use_the_finders(tmp_path: Path) -> None:
    with override_settings(DEBUG=True, STATIC_ROOT=tmp_path):
        html = Template(PAGE).render(Context({}))  # no request: nothing recorded
        assert '<link rel="stylesheet" href="/static/css/app.css" media="screen">' in html
        assert '<script type="module" src="/static/js/app.js"></script>' in html
        assert '<img src="/static/img/hero.jpg"' in html
        files = FinderFiles()
        assert "css/layout.css" in set(files)
        assert len(files) == len(set(files))
        with pytest.raises(KeyError):
            files["css/nope.css"]


def test_cdn_static_url_and_bad_options(collected: Path) -> None:
    with override_settings(STATIC_URL="https://cdn.example.com/static/"):
        html = Template('{% load perf_assets %}{% stylesheet "css/app.css" %}').render(Context())
        assert 'href="https://cdn.example.com/static/css/app.' in html
        assert 'crossorigin="anonymous"' in html
    with (
        override_settings(PERF_MIDDLEWARE={"assets": ["strict"]}),
        pytest.raises(ImproperlyConfigured, match=r"\['assets'\] must be a dict"),
    ):
        get_assets()
    with (
        override_settings(STATIC_ROOT=None),
        pytest.raises(ImproperlyConfigured, match="STATIC_ROOT"),
    ):
        get_assets()
    with (
        override_settings(STATIC_ROOT=collected.parent / "nothing"),
        pytest.raises(ImproperlyConfigured, match=r"HINT: run `python manage\.py collectstatic`"),
    ):
        get_assets()

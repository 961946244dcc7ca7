"""The service-worker registration tag: a file of the build, options as data- attributes."""

from __future__ import annotations

import logging

import pytest
from jinja2 import Environment

from asset_pipeline.manifest import SW_REGISTER_NAME, Manifest, ManifestEntry
from perf_middleware.templating import AssetNotFoundError, Assets
from perf_middleware.templating.service_worker import registration_tag

SRI = "sha384-" + "B" * 64


def manifest() -> Manifest:
    entry = ManifestEntry(
        path="sw-register.0123456789.js",
        size=100,
        content_type="text/javascript",
        hash="cd" * 32,
        integrity=SRI,
        fingerprinted=True,
    )
    return Manifest({SW_REGISTER_NAME: entry})


def test_the_tag_loads_the_fingerprinted_script_with_its_options() -> None:
    env = Environment(autoescape=True)
    Assets(manifest()).install(env)
    html = env.from_string("{{ service_worker(scope='/app/', reload=True) }}").render()
    assert html == (
        '<script src="/static/sw-register.0123456789.js" defer'
        f' integrity="{SRI}" data-sw="/static/sw.js" data-scope="/app/" data-reload></script>'
    )


def test_a_cdn_serves_the_script_but_never_the_worker() -> None:
    assets = Assets(manifest(), cdn_url="https://cdn.example.com/static")
    html = assets.service_worker(nonce="r4nd0m")
    assert 'src="https://cdn.example.com/static/sw-register.0123456789.js"' in html
    assert 'crossorigin="anonymous"' in html
    assert 'data-sw="/static/sw.js"' in html  # a worker must come from the site's origin
    assert 'nonce="r4nd0m"' in html


def test_a_build_without_the_script_renders_nothing_or_fails_when_strict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="perf_middleware.templating"):
        assert Assets(Manifest({})).service_worker() == ""
    assert "sw-register.js" in caplog.text
    with pytest.raises(AssetNotFoundError, match="HINT"):
        Assets(Manifest({}), strict=True).service_worker()


def test_attribute_values_are_escaped() -> None:
    tag = registration_tag("/r.js", sw_url='/sw.js?a="b"&c', scope="/")
    assert 'data-sw="/sw.js?a=&#34;b&#34;&amp;c"' in tag

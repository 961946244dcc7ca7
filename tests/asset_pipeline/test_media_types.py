"""One media-type table: the type a build records in the manifest is the type an upload
sends for the same file, on any machine (``/etc/mime.types`` or not)."""

from __future__ import annotations

import pytest

from asset_pipeline.media_types import content_type, guess_type, with_charset
from asset_pipeline.upload.rules import UploadRules

NAMES = [
    "app.js",
    "worker.mjs",
    "server.cjs",
    "app.css",
    "index.html",
    "app.js.map",
    "site.webmanifest",
    "logo.svg",
    "photo.avif",
    "font.woff2",
    "module.wasm",
    "guide.pdf",
    "robots.txt",
    "feed.xml",
    "favicon.ico",
    "blob.unknownext",
]


@pytest.mark.parametrize("name", NAMES)
def test_build_and_upload_agree_on_every_type(name: str) -> None:
    assert UploadRules().content_type(name) == content_type(name)


def test_commonjs_is_javascript_for_the_build_too() -> None:
    assert content_type("server.cjs") == "text/javascript; charset=utf-8"


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        ("text/css", "text/css; charset=utf-8"),
        ("text/css; Charset=latin-1", "text/css; Charset=latin-1"),
        ("Image/SVG+XML", "Image/SVG+XML; charset=utf-8"),
        ("image/png", "image/png"),
    ],
)
def test_a_charset_is_added_once_and_only_to_text(media: str, expected: str) -> None:
    assert with_charset(media) == expected


def test_guess_type_ignores_the_suffix_case() -> None:
    assert guess_type("APP.JS") == "text/javascript"

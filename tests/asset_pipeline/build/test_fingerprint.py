from __future__ import annotations

import base64
import hashlib

from blake3 import blake3

from asset_pipeline.build.fingerprint import (
    content_hash,
    has_bundler_hash,
    hashed_name,
    integrity,
    split_name,
    with_suffix,
)
from asset_pipeline.config import DEFAULT_BUNDLER_HASH


def test_hash_is_blake3_of_the_bytes() -> None:
    assert content_hash(b"abc") == blake3(b"abc").hexdigest()


def test_integrity_is_sri_sha384() -> None:
    expected = base64.b64encode(hashlib.sha384(b"abc").digest()).decode()
    assert integrity(b"abc") == "sha384-" + expected


def test_hashed_name_default_and_custom_patterns() -> None:
    digest = "abcdef0123456789" * 4
    assert hashed_name("css/app.css", digest) == "css/app.abcdef0123.css"
    assert hashed_name("a.min.js", digest, length=8) == "a.min.abcdef01.js"
    assert hashed_name("x/LICENSE", digest) == "x/LICENSE.abcdef0123"
    assert hashed_name("a.js", digest, pattern="{name}-{hash}{ext}") == "a-abcdef0123.js"


def test_split_and_suffix() -> None:
    assert split_name("css/app.min.css") == ("css/", "app.min", ".css")
    assert with_suffix("fonts/a.ttf", ".woff2") == "fonts/a.woff2"
    assert with_suffix("fonts/a.ttf", None) == "fonts/a.ttf"


def test_bundler_hash_detection() -> None:
    for name in ["assets/index-BfT4x2aQ.js", "chunk-3XKQ7ZPA.js", "vendor.D9x_2-aB.css"]:
        assert has_bundler_hash(name, DEFAULT_BUNDLER_HASH), name
    for name in ["my-component.js", "bootstrap.bundle.js", "jquery-3.7.1.js", "app.js"]:
        assert not has_bundler_hash(name, DEFAULT_BUNDLER_HASH), name
    assert not has_bundler_hash("index-BfT4x2aQ.js", None)

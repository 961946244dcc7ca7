"""The registration script: inline (nonce, CSP hash) and as a file of the build."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from asset_pipeline.manifest import SW_REGISTER_NAME, Manifest, ManifestEntry
from asset_pipeline.sw.precache import ServiceWorkerError
from asset_pipeline.sw.registration import (
    registration_hash,
    registration_snippet,
    write_registration_script,
)


def test_the_inline_snippet_carries_the_nonce() -> None:
    snippet = registration_snippet(sw_url="/static/sw.js", nonce='n"1')
    assert snippet.startswith('<script data-sw="/static/sw.js" data-scope="/" nonce="n&quot;1">')


@pytest.mark.parametrize("minify", [True, False])
def test_the_hash_allows_exactly_the_inline_body(minify: bool) -> None:
    snippet = registration_snippet(minify=minify)
    body = snippet.split(">", 1)[1].rsplit("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    assert registration_hash(minify=minify) == f"'sha256-{digest}'"


def test_the_build_file_is_fingerprinted_and_listed(tmp_path: Path) -> None:
    manifest = write_registration_script(Manifest({}), tmp_path, minify=False)
    entry = manifest[SW_REGISTER_NAME]
    data = (tmp_path / entry.path).read_bytes()
    assert entry.path == f"sw-register.{entry.hash[:10]}.js"
    assert entry.size == len(data)
    assert entry.integrity == "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    assert entry.content_type.startswith("text/javascript")
    assert b"trustedTypes" in data


def test_a_source_file_with_the_same_name_is_a_clear_error(tmp_path: Path) -> None:
    taken = ManifestEntry("sw-register.aa.js", 1, "text/javascript", "aa", "sha384-x", True)
    with pytest.raises(ServiceWorkerError, match="HINT: rename that file"):
        write_registration_script(Manifest({SW_REGISTER_NAME: taken}), tmp_path, minify=True)

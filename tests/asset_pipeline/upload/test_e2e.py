"""build -> sw -> upload of the example app, then every manifest URL fetched from the S3
server with plain HTTP, checking bytes and headers the way a CDN origin would serve them."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from asset_pipeline.cli import main
from asset_pipeline.manifest import load_manifest
from asset_pipeline.upload.rules import IMMUTABLE

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "starlette_app" / "static"
BUCKET = "site-assets"


def fetch(s3: Any, key: str) -> tuple[bytes, dict[str, str]]:
    """A plain HTTP GET (presigned: the bucket is private, as behind CloudFront OAC)."""
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key})
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read(), {k.lower(): v for k, v in response.getheaders()}


def test_build_then_upload_serves_every_manifest_url_with_the_right_headers(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    dist = tmp_path / "dist"
    build = ["build", str(EXAMPLE), "--out", str(dist), "--no-cache", "-j", "1", "-q"]
    assert main([*build, "--manifest-format", "django", "--manifest-format", "vite"]) == 0
    assert main(["sw", str(dist)]) == 0
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    upload = ["upload", str(dist), "--bucket", BUCKET, "--endpoint-url", s3_endpoint]
    assert main([*upload, "--prefix", "static/", "--no-progress"]) == 0

    base = "static/"
    manifest = load_manifest(dist)
    assert len(manifest) > 5
    for entry in manifest.files.values():
        data, headers = fetch(s3, base + entry.path)
        assert data == (dist / entry.path).read_bytes(), entry.path
        assert headers["content-type"].startswith(entry.content_type.split(";")[0])
        assert headers["cache-control"] == (IMMUTABLE if entry.fingerprinted else "no-cache")
        assert headers.get("content-encoding") is None
        for coding, variant in entry.encodings.items():
            data, headers = fetch(s3, base + variant.path)
            assert data == (dist / variant.path).read_bytes()
            assert headers["content-encoding"] == coding
            assert headers["content-type"].split(";")[0] == entry.content_type.split(";")[0]
            if entry.content_type.startswith("text/"):
                assert "charset=utf-8" in headers["content-type"]
        for alternate in entry.alternates:
            data, headers = fetch(s3, base + alternate.path)
            assert headers["content-type"] == alternate.content_type
            assert headers["cache-control"] == IMMUTABLE
    for entry_point, ctype in (
        ("sw.js", "text/javascript; charset=utf-8"),
        ("manifest.json", "application/json; charset=utf-8"),
        (".vite/manifest.json", "application/json; charset=utf-8"),
        ("staticfiles.json", "application/json; charset=utf-8"),
    ):
        data, headers = fetch(s3, base + entry_point)
        assert data == (dist / entry_point).read_bytes()
        assert (headers["content-type"], headers["cache-control"]) == (ctype, "no-cache")
    assert json.loads(fetch(s3, base + "manifest.json")[0])["build_id"] == manifest.build_id


def test_dictionary_deltas_are_uploaded_with_their_coding_and_dictionary(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    monkeypatch.chdir(tmp_path)
    src, dist = tmp_path / "static", tmp_path / "dist"
    shutil.copytree(EXAMPLE, src)
    build = ["build", str(src), "--out", str(dist), "-j", "1", "-q"]
    assert main(build) == 0
    app_js = src / "js" / "app.js"
    app_js.write_text(app_js.read_text().replace("banner.hidden = false;", "banner.hidden = !1;"))
    assert main(build) == 0
    info = load_manifest(dist)["js/app.js"].dictionary
    assert info is not None
    assert len(info.deltas) == 1
    digest, codings = next(iter(info.deltas.items()))
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    upload = ["upload", str(dist), "--bucket", BUCKET, "--endpoint-url", s3_endpoint]
    assert main([*upload, "--prefix", "static/", "--no-progress"]) == 0
    data, headers = fetch(s3, "static/" + codings["dcz"].path)
    assert data == (dist / codings["dcz"].path).read_bytes()
    assert headers["content-encoding"] == "dcz"
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["cache-control"] == IMMUTABLE
    assert headers["x-amz-meta-dictionary-sha256"] == digest

"""CI builds into a fresh DIST with an empty cache take the earlier versions for RFC 9842
deltas from the bucket the upload published them to (moto S3 server, the real CLI)."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any

import pytest

from asset_pipeline.build.cache import BuildCache
from asset_pipeline.build.dictionaries import dcz_decode
from asset_pipeline.cli import main
from asset_pipeline.manifest import Manifest, load_manifest
from tests.asset_pipeline.build_support import write_tree
from tests.asset_pipeline.upload.helpers import BUCKET

PREFIX = "static/"


def bundle(version: int) -> str:
    """A module big enough that a one-line change is a small fraction of it."""
    body = "\n".join(
        f"export function handler{i}(event) {{ return event.detail.value * {i} + {i % 7}; }}"
        for i in range(600)
    )
    return f'export const VERSION = "{version}";\n{body}\n'


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Ci:
    """One CI job per version: a fresh checkout dir, DIST and cache each time."""

    def __init__(self, root: Path, endpoint: str) -> None:
        self.root = root
        self.endpoint = endpoint
        self.runs = 0

    def job(self, version: int, *history: str) -> Path:
        self.runs += 1
        work = self.root / f"job{self.runs}"
        write_tree(
            work / "src",
            {
                "js/app.js": bundle(version),
                "css/site.css": "body { color: #123456; margin: 0 auto; }\n" * 40,
            },
        )
        dist, cache = work / "dist", work / "cache"
        argv = ["build", str(work / "src"), "--out", str(dist), "--cache-dir", str(cache)]
        assert main([*argv, "-j", "1", *history]) == 0
        return dist

    def history(self, url: str = f"s3://{BUCKET}/{PREFIX}", endpoint: str = "") -> list[str]:
        return ["--history-from", url, "--history-endpoint-url", endpoint or self.endpoint]

    def upload(self, dist: Path) -> None:
        argv = ["upload", str(dist), "--bucket", BUCKET, "--endpoint-url", self.endpoint]
        assert main([*argv, "--prefix", PREFIX, "--no-progress"]) == 0


def app_js(dist: Path) -> tuple[bytes, Manifest]:
    manifest = load_manifest(dist)
    return (dist / manifest["js/app.js"].path).read_bytes(), manifest


def cached_version(cache_dir: Path, digest: str) -> bytes | None:
    with BuildCache(cache_dir) as cache:
        return cache.get_version(digest)


@pytest.fixture
def ci(s3: Any, s3_endpoint: str, tmp_path: Path) -> Ci:
    return Ci(tmp_path, s3_endpoint)


def test_a_fresh_build_makes_deltas_against_the_versions_in_the_bucket(
    ci: Ci, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    v1, _ = app_js(ci.job(1))
    ci.upload(ci.root / "job1" / "dist")

    dist2 = ci.job(2, *ci.history())
    v2, manifest2 = app_js(dist2)
    info = manifest2["js/app.js"].dictionary
    assert info is not None
    assert info.history == (sha(v1),)
    assert dict(info.history_paths) == {
        sha(v1): load_manifest(ci.root / "job1" / "dist")["js/app.js"].path
    }
    delta = info.deltas[sha(v1)]["dcz"]
    assert dcz_decode(v1, (dist2 / delta.path).read_bytes()) == v2
    # the fetched version is in the build cache now, checked
    assert cached_version(ci.root / "job2" / "cache", sha(v1)) == v1
    assert "warning" not in capsys.readouterr().err

    ci.upload(dist2)  # the upload publishes the deltas with their coding
    head = s3.head_object(Bucket=BUCKET, Key=PREFIX + delta.path)
    assert head["ContentEncoding"] == "dcz"
    assert head["Metadata"]["dictionary-sha256"] == sha(v1)
    body = s3.get_object(Bucket=BUCKET, Key=PREFIX + delta.path)["Body"].read()
    assert dcz_decode(v1, body) == v2

    # a third fresh job reaches both earlier versions through the recorded paths
    dist3 = ci.job(3, *ci.history())
    v3, manifest3 = app_js(dist3)
    info3 = manifest3["js/app.js"].dictionary
    assert info3 is not None
    assert info3.history == (sha(v2), sha(v1))
    for old in (v1, v2):
        variant = info3.deltas[sha(old)]["dcz"]
        assert dcz_decode(old, (dist3 / variant.path).read_bytes()) == v3


def test_a_tampered_object_gives_no_delta_and_a_warning(
    ci: Ci, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    v1, manifest1 = app_js(ci.job(1))
    ci.upload(ci.root / "job1" / "dist")
    key = PREFIX + manifest1["js/app.js"].path
    s3.put_object(Bucket=BUCKET, Key=key, Body=v1.replace(b'"1"', b'"X"'))
    capsys.readouterr()

    dist2 = ci.job(2, *ci.history())
    err = capsys.readouterr().err
    info = load_manifest(dist2)["js/app.js"].dictionary
    assert info is not None
    assert info.history == (sha(v1),)  # visitors may still hold it; nothing to send them
    assert dict(info.deltas) == {}
    assert f"warning: s3://{BUCKET}/{key}: its SHA-256 is not {sha(v1)[:16]}" in err
    assert "HINT:" in err
    assert cached_version(ci.root / "job2" / "cache", sha(v1)) is None


def test_a_pruned_version_is_named_and_the_build_goes_on(
    ci: Ci, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, manifest1 = app_js(ci.job(1))
    ci.upload(ci.root / "job1" / "dist")
    key = PREFIX + manifest1["js/app.js"].path
    s3.delete_object(Bucket=BUCKET, Key=key)
    capsys.readouterr()

    info = load_manifest(ci.job(2, *ci.history()))["js/app.js"].dictionary
    err = capsys.readouterr().err
    assert info is not None
    assert dict(info.deltas) == {}
    assert f"s3://{BUCKET}/{key} could not be read" in err
    assert "--prune-older-than" in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_an_unreachable_or_missing_bucket_builds_without_deltas(
    ci: Ci, capsys: pytest.CaptureFixture[str]
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    info = load_manifest(ci.job(1, *ci.history(endpoint=unreachable)))["js/app.js"].dictionary
    err = capsys.readouterr().err
    assert info is not None
    assert info.history == ()
    assert f"history from s3://{BUCKET}/{PREFIX}: manifest.json could not be read" in err
    assert f"cannot reach {unreachable}" in err

    ci.job(2, *ci.history(url="s3://no-such-bucket/static"))
    err = capsys.readouterr().err
    assert "bucket 'no-such-bucket' does not exist" in err
    assert "HINT:" in err


def test_a_manifest_this_version_cannot_read_builds_without_deltas(
    ci: Ci, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "manifest.json", Body=b'{"version": 0}')
    info = load_manifest(ci.job(1, *ci.history()))["js/app.js"].dictionary
    err = capsys.readouterr().err
    assert info is not None
    assert info.history == ()
    assert f"s3://{BUCKET}/{PREFIX}manifest.json is not a manifest this version reads" in err
    assert "schema version 0 is not supported" in err


def test_a_history_url_that_is_not_s3_is_a_usage_error(
    ci: Ci, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_tree(ci.root / "src", {"js/app.js": bundle(1)})
    argv = ["build", str(src), "--out", str(ci.root / "dist"), "--history-from", "https://x/y"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "dictionaries.history_from: 'https://x/y' is not an s3://BUCKET[/PREFIX] URL" in err
    assert not (ci.root / "dist").exists()


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe not json", b"[1, 2, 3]", b'{"version": 1, "files": 7}', b"{" * 5000, b""],
    ids=["not-json", "a-list", "files-not-a-table", "deeply-open", "empty"],
)
def test_a_broken_manifest_in_the_bucket_builds_without_deltas_and_says_which(
    ci: Ci, s3: Any, capsys: pytest.CaptureFixture[str], body: bytes
) -> None:
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "manifest.json", Body=body)
    info = load_manifest(ci.job(1, *ci.history()))["js/app.js"].dictionary
    err = capsys.readouterr().err
    assert info is not None
    assert info.history == ()
    assert f"s3://{BUCKET}/{PREFIX}manifest.json" in err
    assert "HINT" in err

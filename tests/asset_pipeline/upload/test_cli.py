"""``asset-pipeline upload`` end to end against moto's S3/CloudFront server over HTTP.

A logging proxy between boto3 and moto counts and orders the real requests, and injects
failures for chosen keys.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from asset_pipeline.cli import main
from asset_pipeline.manifest import Manifest
from asset_pipeline.upload.config import UploadConfig
from asset_pipeline.upload.publish import publish
from asset_pipeline.upload.rules import IMMUTABLE
from tests.asset_pipeline.upload.helpers import BUCKET, DEFAULT_SOURCES, S3Proxy, make_build
from tests.support.servers import free_port


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No pyproject.toml in the working directory unless a test writes one."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[S3Proxy]:
    p = S3Proxy(s3_endpoint).start()
    yield p
    p.stop()


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    return tmp_path / "dist"


def upload(proxy: S3Proxy, dist: Path, *extra: str) -> int:
    argv = ["upload", str(dist), "--bucket", BUCKET, "--endpoint-url", proxy.url]
    return main([*argv, "--no-progress", *extra])


def body(s3: Any, key: str) -> bytes:
    data: bytes = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return data


def changed_sources() -> dict[str, bytes]:
    return {**DEFAULT_SOURCES, "js/util.js": b"export const answer = 43;\n" * 30}


def publish_first_then_build_second(s3: Any, proxy: S3Proxy, dist: Path) -> tuple[Manifest, bytes]:
    """build-1 published; build-2 (a changed ``js/util.js`` and a new ``sw.js``) written to
    ``dist`` but not uploaded. Returns build-2's manifest and build-1's live manifest.json."""
    make_build(dist)
    assert upload(proxy, dist) == 0
    live_manifest = body(s3, "manifest.json")
    return make_build(dist, changed_sources(), build_id="build-2", sw=b"// v2\n"), live_manifest


def test_cold_upload_sets_headers_and_blake3_for_every_object_class(
    s3: Any, proxy: S3Proxy, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = make_build(dist)
    assert upload(proxy, dist, "--prefix", "static") == 0
    assert "uploaded" in capsys.readouterr().out

    def head(rel: str) -> dict[str, Any]:
        h: dict[str, Any] = s3.head_object(Bucket=BUCKET, Key="static/" + rel)
        return h

    css = manifest["css/app.css"]
    h = head(css.path)
    assert (h["ContentType"], h["CacheControl"]) == ("text/css; charset=utf-8", IMMUTABLE)
    assert h["Metadata"]["blake3"] == css.hash
    assert "ContentEncoding" not in h
    h = head(css.encodings["br"].path)
    assert (h["ContentType"], h["ContentEncoding"]) == ("text/css; charset=utf-8", "br")
    assert h["CacheControl"] == IMMUTABLE
    assert head(css.encodings["gzip"].path)["ContentEncoding"] == "gzip"
    png = manifest["img/logo.png"]
    assert (head(png.path)["ContentType"], head(png.path)["CacheControl"]) == (
        "image/png",
        IMMUTABLE,
    )
    webp = png.alternates[0]
    assert head(webp.path)["ContentType"] == "image/webp"
    assert head(manifest["fonts/serif.woff2"].path)["ContentType"] == "font/woff2"
    h = head("sw.js")
    assert (h["ContentType"], h["CacheControl"]) == ("text/javascript; charset=utf-8", "no-cache")
    h = head("sw.js.br")
    assert (h["ContentEncoding"], h["CacheControl"]) == ("br", "no-cache")
    assert h["ContentType"] == "text/javascript; charset=utf-8"
    assert head("index.html")["ContentType"] == "text/html; charset=utf-8"
    h = head("manifest.json")
    assert (h["ContentType"], h["CacheControl"]) == ("application/json; charset=utf-8", "no-cache")
    for rel in manifest.output_paths() | {"sw.js", "index.html", "manifest.json"}:
        assert body(s3, "static/" + rel) == (dist / rel).read_bytes(), rel


def test_cold_upload_writes_entry_points_after_all_hashed_objects(
    s3: Any, proxy: S3Proxy, dist: Path
) -> None:
    manifest = make_build(dist)
    assert upload(proxy, dist) == 0
    puts = proxy.object_puts()
    hashed = manifest.output_paths()
    assert set(puts) == hashed | {
        "sw.js",
        "sw.js.br",
        "index.html",
        "staticfiles.json",
        "manifest.json",
    }
    last_hashed = max(i for i, k in enumerate(puts) if k in hashed)
    first_entry = min(i for i, k in enumerate(puts) if k not in hashed)
    assert last_hashed < first_entry
    assert puts[-1] == "manifest.json"
    # the state is written after the manifest
    all_puts = proxy.requests("PUT")
    assert all_puts.index(f"/{BUCKET}/manifest.json") < all_puts.index(
        f"/{BUCKET}/.asset-pipeline/index.json"
    )


def test_second_upload_of_same_build_makes_two_reads_and_no_writes(
    s3: Any, proxy: S3Proxy, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_build(dist)
    assert upload(proxy, dist) == 0
    proxy.clear()
    assert upload(proxy, dist) == 0
    assert proxy.requests("PUT") == []
    assert proxy.requests("DELETE") == []
    assert proxy.requests() == [
        f"/{BUCKET}/.asset-pipeline/index.json",
        f"/{BUCKET}/.asset-pipeline/builds/build-1.json",
    ]
    assert "0 uploaded" in capsys.readouterr().out


def test_one_file_change_uploads_exactly_the_changed_objects_and_entry_points(
    s3: Any, proxy: S3Proxy, dist: Path
) -> None:
    make_build(dist)
    assert upload(proxy, dist) == 0
    proxy.clear()
    manifest = make_build(dist, changed_sources(), build_id="build-2")
    assert upload(proxy, dist) == 0
    util = manifest["js/util.js"]
    puts = proxy.object_puts()
    hashed = {util.path, util.encodings["br"].path, util.encodings["gzip"].path}
    # sw.js and index.html did not change, so they are not sent again
    assert set(puts) == hashed | {"staticfiles.json", "manifest.json"}
    assert set(puts[:3]) == hashed
    assert puts[-1] == "manifest.json"
    live = json.loads(body(s3, "manifest.json"))
    assert live["build_id"] == "build-2"


def test_failed_put_stops_before_entry_points_and_keeps_previous_manifest(
    s3: Any, proxy: S3Proxy, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, old_manifest = publish_first_then_build_second(s3, proxy, dist)
    bad = manifest["js/util.js"].path
    proxy.faults[bad] = 500
    proxy.clear()
    capsys.readouterr()
    assert upload(proxy, dist, "--max-attempts", "2") == 1
    err = capsys.readouterr().err
    assert bad in err
    assert "InternalError" in err
    assert "no entry point and no manifest of this build was written" in err
    assert "previous build live" in err
    assert "Traceback" not in err
    assert proxy.fault_hits[f"/{BUCKET}/{bad}"] == 2  # retried once by botocore
    puts = proxy.object_puts()
    assert not {"sw.js", "sw.js.br", "manifest.json", "staticfiles.json"} & set(puts)
    assert body(s3, "manifest.json") == old_manifest
    assert body(s3, "sw.js") != b"// v2\n"
    index = json.loads(body(s3, ".asset-pipeline/index.json"))
    assert [b["build_id"] for b in index["builds"]] == ["build-1"]
    # once the store accepts the key again, the same command publishes the build
    del proxy.faults[bad]
    assert upload(proxy, dist) == 0
    assert json.loads(body(s3, "manifest.json"))["build_id"] == "build-2"
    assert body(s3, "sw.js") == b"// v2\n"


def test_access_denied_on_one_key_is_not_retried_and_names_the_key(
    s3: Any, proxy: S3Proxy, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = make_build(dist)
    key = manifest["css/app.css"].path
    proxy.faults[key] = 403
    assert upload(proxy, dist) == 1
    err = capsys.readouterr().err
    assert f"s3://{BUCKET}/{key}: access denied" in err
    assert "HINT:" in err
    assert proxy.fault_hits[f"/{BUCKET}/{key}"] == 1
    assert "manifest.json" not in proxy.object_puts()


def test_prune_deletes_only_hashed_objects_older_than_the_last_n_builds(
    s3: Any, proxy: S3Proxy, dist: Path
) -> None:
    versions = []
    for n in (1, 2, 3):
        sources = {**DEFAULT_SOURCES, "js/util.js": f"export const v = {n};\n".encode() * 30}
        manifest = make_build(dist, sources, build_id=f"build-{n}", sw=f"// {n}\n".encode())
        versions.append(manifest["js/util.js"])
        extra = ("--prune-older-than", "2") if n == 3 else ()
        assert upload(proxy, dist, *extra) == 0
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    old, kept, current = versions
    assert not {old.path, old.encodings["br"].path, old.encodings["gzip"].path} & keys
    assert {kept.path, kept.encodings["br"].path, current.path} <= keys
    assert {"sw.js", "manifest.json", "index.html"} <= keys
    assert manifest["css/app.css"].path in keys  # shared by every build
    index = json.loads(body(s3, ".asset-pipeline/index.json"))
    assert [b["build_id"] for b in index["builds"]] == ["build-2", "build-3"]
    assert ".asset-pipeline/builds/build-1.json" not in keys


def test_cloudfront_invalidation_lists_only_changed_unhashed_paths(
    s3: Any, s3_endpoint: str, proxy: S3Proxy, dist: Path
) -> None:
    cloudfront = boto3.client("cloudfront", endpoint_url=s3_endpoint, region_name="us-east-1")
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "test",
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "s3",
                        "DomainName": f"{BUCKET}.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "s3",
                "ViewerProtocolPolicy": "allow-all",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
            },
        }
    )["Distribution"]["Id"]
    cf = ("--cloudfront-distribution", distribution, "--cloudfront-endpoint-url", proxy.url)
    make_build(dist)
    assert upload(proxy, dist, "--prefix", "static/", *cf) == 0
    make_build(dist, changed_sources(), build_id="build-2", sw=b"// v2\n")
    assert upload(proxy, dist, "--prefix", "static/", *cf) == 0
    assert upload(proxy, dist, "--prefix", "static/", *cf) == 0  # unchanged: no invalidation
    listed = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]
    assert listed["Quantity"] == 2
    paths = []
    for item in listed["Items"]:
        batch = cloudfront.get_invalidation(DistributionId=distribution, Id=item["Id"])
        paths.append(set(batch["Invalidation"]["InvalidationBatch"]["Paths"]["Items"]))
    changed = {
        "/static/sw.js",
        "/static/sw.js.br",
        "/static/staticfiles.json",
        "/static/manifest.json",
    }
    assert changed in paths
    cold = {*changed, "/static/index.html", "/static/"}
    assert cold in paths


def test_dry_run_prints_the_plan_and_writes_nothing(
    s3: Any, proxy: S3Proxy, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_build(dist)
    assert upload(proxy, dist) == 0
    live = body(s3, "manifest.json")
    manifest = make_build(dist, changed_sources(), build_id="build-2")
    proxy.clear()
    capsys.readouterr()
    assert upload(proxy, dist, "--dry-run", "--prune-older-than", "1") == 0
    out = capsys.readouterr().out
    assert {m for m, _ in proxy.log} == {"GET"}
    assert body(s3, "manifest.json") == live
    rows = {
        token: line.split()[0]
        for line in out.splitlines()[1:]
        for token in line.split()
        if "." in token and not token.endswith(",")
    }
    assert rows[manifest["js/util.js"].path] == "new"
    assert rows["manifest.json"] == "changed"
    assert rows["sw.js"] == "skip"
    assert rows[manifest["css/app.css"].path] == "skip"
    old_util = [k for k, action in rows.items() if action == "prune"]
    assert len(old_util) == 3
    assert all(k.startswith("js/util.") for k in old_util)
    assert "dry run: nothing was written" in out


def test_lost_state_falls_back_to_blake3_metadata_and_verify_finds_drift(
    s3: Any, proxy: S3Proxy, dist: Path
) -> None:
    manifest = make_build(dist)
    assert upload(proxy, dist) == 0
    for key in (".asset-pipeline/index.json", ".asset-pipeline/builds/build-1.json"):
        s3.delete_object(Bucket=BUCKET, Key=key)
    proxy.clear()
    assert upload(proxy, dist) == 0
    assert proxy.object_puts() == []  # every object matched its x-amz-meta-blake3
    assert len(proxy.requests("HEAD")) == len(manifest.output_paths()) + 5
    # someone overwrites one object behind the tool's back; --verify repairs exactly it
    css = manifest["css/app.css"].path
    s3.put_object(Bucket=BUCKET, Key=css, Body=b"tampered", Metadata={"blake3": "0" * 64})
    proxy.clear()
    assert upload(proxy, dist) == 0
    assert proxy.object_puts() == []  # the state still says it is fine
    assert upload(proxy, dist, "--verify") == 0
    assert proxy.object_puts() == [css]
    assert body(s3, css) == (dist / css).read_bytes()


def test_precompressed_skip_leaves_encoded_siblings_to_the_cdn(
    s3: Any, proxy: S3Proxy, dist: Path
) -> None:
    make_build(dist)
    assert upload(proxy, dist, "--precompressed", "skip") == 0
    puts = proxy.object_puts()
    assert puts
    assert not [k for k in puts if k.endswith((".br", ".gz", ".zst"))]


def test_cache_control_rules_from_pyproject_and_flags(
    s3: Any, proxy: S3Proxy, dist: Path, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.asset-pipeline.upload]\n"
        f'bucket = "{BUCKET}"\n'
        'prefix = "site"\n'
        'addressing_style = "path"\n'
        'cache_control = { "*.html" = "public, max-age=300", "sw.js" = "max-age=0" }\n'
    )
    make_build(dist)
    argv = ["upload", str(dist), "--endpoint-url", proxy.url, "--no-progress"]
    assert main([*argv, "--cache-control", "sw.js=no-store"]) == 0
    head = s3.head_object
    assert head(Bucket=BUCKET, Key="site/index.html")["CacheControl"] == "public, max-age=300"
    assert head(Bucket=BUCKET, Key="site/sw.js")["CacheControl"] == "no-store"
    assert head(Bucket=BUCKET, Key="site/sw.js.br")["CacheControl"] == "no-store"
    # a rule change alone re-uploads the affected objects with new headers
    proxy.clear()
    assert main(argv) == 0
    assert sorted(proxy.object_puts()) == ["site/sw.js", "site/sw.js.br"]
    assert head(Bucket=BUCKET, Key="site/sw.js")["CacheControl"] == "max-age=0"


def test_large_file_goes_multipart_with_blake3_metadata(
    s3: Any, proxy: S3Proxy, dist: Path
) -> None:
    big = bytes(range(256)) * (6 * 2**20 // 256)
    manifest = make_build(dist, {**DEFAULT_SOURCES, "img/big.png": big})
    assert upload(proxy, dist, "--multipart-threshold-mb", "5") == 0
    entry = manifest["img/big.png"]
    assert f"/{BUCKET}/{entry.path}" in proxy.requests("POST")  # CreateMultipartUpload
    assert proxy.requests("PUT").count(f"/{BUCKET}/{entry.path}") == 2  # two parts
    head = s3.head_object(Bucket=BUCKET, Key=entry.path)
    assert head["Metadata"]["blake3"] == entry.hash
    assert head["CacheControl"] == IMMUTABLE
    assert body(s3, entry.path) == big


def test_missing_bucket_is_one_actionable_line(
    s3_endpoint: str, proxy: S3Proxy, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_build(dist)
    assert upload(proxy, dist) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"bucket '{BUCKET}' does not exist" in err
    assert "HINT:" in err


def test_missing_credentials_is_one_actionable_line(
    s3: Any,
    proxy: S3Proxy,
    dist: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    make_build(dist)
    assert upload(proxy, dist) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "no usable AWS credentials" in err
    assert "AWS_ACCESS_KEY_ID" in err
    assert proxy.requests() == []


def test_unreachable_endpoint_is_one_actionable_line(
    dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_build(dist)
    url = f"http://127.0.0.1:{free_port()}"
    argv = ["upload", str(dist), "--bucket", BUCKET, "--endpoint-url", url, "--max-attempts", "1"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"cannot reach {url}" in err
    assert "--endpoint-url" in err


@pytest.mark.parametrize(
    ("extra", "pyproject", "message"),
    [
        ((), "", "no bucket given"),
        (("--bucket", BUCKET, "--cache-control", "*.html"), "", "expected GLOB=VALUE"),
        (("--bucket", BUCKET, "--cache-control", "*.html=a\tb"), "", "Cache-Control"),
        (("--bucket", BUCKET, "--prune-older-than", "0"), "", "at least 1"),
        (("--bucket", BUCKET), "[tool.asset-pipeline.upload]\nbucktet = 'x'\n", "unknown key"),
        (("--bucket", BUCKET), "[tool.asset-pipeline.upload]\nconcurrency = 'x'\n", "wrong type"),
        (("--bucket", BUCKET), "[tool.asset-pipeline.upload]\nacl = 'public'\n", "acl = 'public'"),
        (
            ("--bucket", BUCKET),
            "[tool.asset-pipeline.upload]\naddressing_style = 'dns'\n",
            "addressing_style = 'dns' is not one of auto, path, virtual",
        ),
        (("--bucket", BUCKET, "--multipart-threshold-mb", "1"), "", "at least 5"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    dist: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    pyproject: str,
    message: str,
) -> None:
    make_build(dist)
    if pyproject:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    assert main(["upload", str(dist), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_build_directory_that_contradicts_its_manifest_is_refused(
    s3: Any, proxy: S3Proxy, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = make_build(dist)
    (dist / manifest["css/app.css"].path).write_bytes(b"edited after the build")
    assert upload(proxy, dist) == 1
    err = capsys.readouterr().err
    assert "does not match the manifest" in err
    assert proxy.requests() == []


def test_first_failure_stops_starting_new_uploads(
    s3: Any, proxy: S3Proxy, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = make_build(dist)
    first = manifest["css/app.css"].path  # the first key in upload order
    proxy.faults[first] = 403
    assert upload(proxy, dist, "--concurrency", "1") == 1
    attempted = proxy.object_puts()
    assert attempted[0] == first
    assert len(attempted) <= 3  # the failed PUT, at most one already started, nothing after
    assert len(manifest.output_paths()) > 10
    assert "stopped after" in capsys.readouterr().err


def test_prune_with_missing_build_records_never_deletes_what_a_kept_build_may_use(
    s3: Any, proxy: S3Proxy, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    utils = []
    for n in (1, 2, 3):
        sources = {**DEFAULT_SOURCES, "js/util.js": f"export const v = {n};\n".encode() * 30}
        utils.append(make_build(dist, sources, build_id=f"build-{n}")["js/util.js"].path)
        assert upload(proxy, dist) == 0

    def keys() -> set[str]:
        return {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}

    # the record of build-3, which --prune-older-than 2 keeps, is gone: no deletes at all
    s3.delete_object(Bucket=BUCKET, Key=".asset-pipeline/builds/build-3.json")
    sources = {**DEFAULT_SOURCES, "js/util.js": b"export const v = 4;\n" * 30}
    utils.append(make_build(dist, sources, build_id="build-4")["js/util.js"].path)
    proxy.clear()
    capsys.readouterr()
    assert upload(proxy, dist, "--prune-older-than", "2") == 0
    assert "prune skipped" in capsys.readouterr().err
    assert proxy.requests("POST") == []  # no DeleteObjects
    assert set(utils) <= keys()
    # a missing record of a build retired anyway is dropped; known old objects are pruned
    s3.delete_object(Bucket=BUCKET, Key=".asset-pipeline/builds/build-2.json")
    sources = {**DEFAULT_SOURCES, "js/util.js": b"export const v = 5;\n" * 30}
    utils.append(make_build(dist, sources, build_id="build-5")["js/util.js"].path)
    assert upload(proxy, dist, "--prune-older-than", "2") == 0
    remaining = keys()
    assert utils[0] not in remaining  # build-1, known from its record
    assert {utils[3], utils[4]} <= remaining  # build-4 (kept) and build-5 (current)
    index = json.loads(body(s3, ".asset-pipeline/index.json"))
    assert [b["build_id"] for b in index["builds"]] == ["build-4", "build-5"]


def test_canned_acl_and_checksum_mode_for_s3_compatible_stores(
    s3: Any, proxy: S3Proxy, dist: Path
) -> None:
    manifest = make_build(dist)
    css = manifest["css/app.css"].path
    assert upload(proxy, dist) == 0
    assert "x-amz-checksum-crc32" in proxy.headers[f"/{BUCKET}/{css}"]
    make_build(dist, build_id="build-2")
    proxy.clear()
    assert upload(proxy, dist, "--acl", "public-read", "--checksums", "when_required") == 0
    # adding an ACL re-uploads every object (the recorded ACL differs); no CRC32 now
    every = manifest.output_paths() | {"sw.js", "sw.js.br", "index.html"}
    assert set(proxy.object_puts()) == every | {"staticfiles.json", "manifest.json"}
    assert "x-amz-checksum-crc32" not in proxy.headers[f"/{BUCKET}/{css}"]
    grants = s3.get_object_acl(Bucket=BUCKET, Key=css)["Grants"]
    assert any(
        g["Grantee"].get("URI", "").endswith("/global/AllUsers") and g["Permission"] == "READ"
        for g in grants
    )


def test_concurrent_deploy_is_merged_into_the_index_and_prune_waits(
    s3: Any, s3_endpoint: str, proxy: S3Proxy, dist: Path
) -> None:
    make_build(dist)
    assert upload(proxy, dist) == 0
    make_build(dist, changed_sources(), build_id="build-2")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    index_key = ".asset-pipeline/index.json"

    def other_deploy(request: Any, **_: Any) -> None:
        # while build-2 uploads, another CI job records its build "build-x"
        if request.method == "PUT" and request.url.endswith("/manifest.json"):
            data = json.loads(body(s3, index_key))
            if all(b["build_id"] != "build-x" for b in data["builds"]):
                data["builds"].append({"build_id": "build-x", "uploaded_at": "t", "objects": 1})
                s3.put_object(Bucket=BUCKET, Key=index_key, Body=json.dumps(data).encode())

    client.meta.events.register("before-send.s3.PutObject", other_deploy)
    err = io.StringIO()
    config = UploadConfig(dist=dist, bucket=BUCKET, prune_older_than=1, progress=False)
    result = publish(config, out=io.StringIO(), err=err, s3_client=client)
    builds = [b["build_id"] for b in json.loads(body(s3, index_key))["builds"]]
    assert builds == ["build-1", "build-x", "build-2"]
    assert "prune skipped: another upload changed the build index" in err.getvalue()
    assert result.pruned == 0
    assert result.plan is not None
    assert result.plan.prune  # there was something to prune; it was held back
    assert all(s3.head_object(Bucket=BUCKET, Key=k) for k in result.plan.prune)


def test_failed_entry_point_keeps_the_previous_manifest(
    s3: Any, proxy: S3Proxy, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, old_manifest = publish_first_then_build_second(s3, proxy, dist)
    proxy.faults["sw.js"] = 403
    proxy.clear()
    capsys.readouterr()
    assert upload(proxy, dist) == 1
    err = capsys.readouterr().err
    assert f"s3://{BUCKET}/sw.js: access denied" in err
    assert "manifest.json was not written" in err
    puts = proxy.object_puts()
    assert manifest["js/util.js"].path in puts  # the hashed phase completed first
    assert "manifest.json" not in puts
    assert body(s3, "manifest.json") == old_manifest


def test_progress_bar_and_summary(
    s3: Any, proxy: S3Proxy, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = make_build(dist)
    total = len(manifest.output_paths()) + 5
    assert upload(proxy, dist, "--progress") == 0
    captured = capsys.readouterr()
    assert captured.err.count("\r[") == total
    assert f"] {total}/{total} " in captured.err
    assert "uploaded css/" not in captured.err  # the bar replaces per-object lines
    summary = captured.out.strip()
    assert summary.startswith(f"published s3://{BUCKET}/ (build build-1): {total} uploaded (")
    assert ", 0 unchanged, 0 pruned, 0 paths invalidated, " in summary
    assert upload(proxy, dist) == 0
    assert f"0 uploaded (0 B), {total} unchanged" in capsys.readouterr().out

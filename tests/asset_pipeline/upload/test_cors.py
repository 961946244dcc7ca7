"""``asset-pipeline upload --cors-origin``/``--verify``: the bucket's CORS rules, against moto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asset_pipeline.cli import main
from asset_pipeline.upload.cors import RULE_ID, allows, problems
from tests.asset_pipeline.upload.helpers import BUCKET, make_build

SITE = "https://www.example.com"


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    make_build(tmp_path / "dist")
    return tmp_path / "dist"


def upload(dist: Path, endpoint: str, *extra: str) -> int:
    args = ["upload", str(dist), "--bucket", BUCKET, "--endpoint-url", endpoint]
    return main([*args, "--no-progress", *extra])


def test_cors_origin_sets_one_rule_beside_the_bucket_s_own(
    s3: Any, s3_endpoint: str, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = {"ID": "uploads", "AllowedOrigins": ["https://admin.example.com"],
              "AllowedMethods": ["PUT"]}  # fmt: skip
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [theirs]})
    both = ("--cors-origin", SITE, "--cors-origin", "http://a.test:8000/")
    assert upload(dist, s3_endpoint, *both) == 0
    assert "CORS rules updated" in capsys.readouterr().out
    rules = s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert [r["ID"] for r in rules] == ["uploads", RULE_ID]
    ours = rules[1]
    assert ours["AllowedOrigins"] == [SITE, "http://a.test:8000"]
    assert set(ours["AllowedMethods"]) == {"GET", "HEAD"}
    # unchanged on the next upload; --verify reads it back and is satisfied
    assert upload(dist, s3_endpoint, *both) == 0
    assert "CORS rules updated" not in capsys.readouterr().out
    assert upload(dist, s3_endpoint, "--verify", "--cors-origin", SITE) == 0
    assert "CORS rules updated" in capsys.readouterr().out  # the origin list changed
    assert upload(dist, s3_endpoint, "--verify", "--cors-origin", SITE) == 0
    captured = capsys.readouterr()
    assert "CORS rules updated" not in captured.out
    assert "warning" not in captured.err


def test_verify_warns_about_a_bucket_without_cors(
    s3: Any, s3_endpoint: str, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert upload(dist, s3_endpoint, "--verify") == 0
    err = capsys.readouterr().err
    assert f"warning: bucket {BUCKET!r} has no CORS rule allowing GET" in err
    assert "HINT: asset-pipeline upload --cors-origin" in err


def test_dry_run_says_what_it_would_set(
    s3: Any, s3_endpoint: str, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert upload(dist, s3_endpoint, "--dry-run", "--cors-origin", SITE) == 0
    assert f"would allow GET/HEAD from {SITE}" in capsys.readouterr().out
    assert "CORSRules" not in str(s3.list_objects_v2(Bucket=BUCKET))


def test_not_an_origin_is_a_usage_error(
    s3: Any, s3_endpoint: str, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert upload(dist, s3_endpoint, "--cors-origin", "https://www.example.com/app") == 2
    assert "is not an origin. HINT" in capsys.readouterr().err
    (dist.parent / "pyproject.toml").write_text(
        '[tool.asset-pipeline.upload]\ncors_origins = ["www.example.com"]\n'
    )
    assert upload(dist, s3_endpoint) == 2


def test_rule_matching_follows_s3() -> None:
    rules = [{"AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET"]}]
    assert allows(rules, "https://www.example.com")
    assert not allows(rules, "https://example.com")
    assert not allows([{"AllowedOrigins": ["*"], "AllowedMethods": ["PUT"]}], SITE)
    assert allows([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}], SITE)
    (line,) = problems(rules, ["https://other.test"], "b")
    assert "do not allow GET from https://other.test" in line
    assert "HINT: run the upload with --cors-origin https://other.test" in line

"""Remote upload state: serialisation, ids, and reading it back from the S3 server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from asset_pipeline.upload.inventory import PHASE_ENTRY, PHASE_HASHED, LocalObject
from asset_pipeline.upload.plan import BuildRecord, ObjectRecord
from asset_pipeline.upload.state import (
    IndexEntry,
    RemoteState,
    StateConflict,
    StateError,
    build_key,
    delete_keys,
    index_from_json,
    index_to_json,
    inventory_id,
    record_from_json,
    record_to_json,
)

BUCKET = "state-bucket"


def obj(rel: str, digest: str = "ab", phase: int = PHASE_HASHED) -> LocalObject:
    return LocalObject(rel, f"/d/{rel}", 3, digest, "text/css", "no-cache", "br", phase)


def test_index_and_record_round_trip() -> None:
    entries = [IndexEntry("b1", "2026-01-01T00:00:00+00:00", 3), IndexEntry("b2", "x", 4)]
    assert index_from_json(index_to_json(entries), "idx") == entries
    record = BuildRecord(
        "b1",
        {
            "a.css": ObjectRecord.of(obj("a.css")),
            "sw.js": ObjectRecord.of(obj("sw.js", phase=PHASE_ENTRY)),
        },
    )
    back = record_from_json(record_to_json(record), "rec")
    assert back == record
    assert back.hashed_keys() == {"a.css"}


@pytest.mark.parametrize(
    "raw", [b"not json", b"[]", b'{"version": 1}', b'{"version": 1, "builds": [{"x": 1}]}']
)
def test_corrupt_index_is_a_clear_error(raw: bytes) -> None:
    with pytest.raises(StateError, match="HINT: delete it"):
        index_from_json(raw, "s3://b/.asset-pipeline/index.json")


def test_future_state_version_is_refused() -> None:
    with pytest.raises(StateError, match="version 99"):
        index_from_json(b'{"version": 99, "builds": []}', "idx")


def test_corrupt_record_is_a_clear_error() -> None:
    with pytest.raises(StateError, match="unreadable build record"):
        record_from_json(b'{"build_id": "x", "objects": {"a": {}}}', "rec")


def test_build_key_is_safe_for_any_id() -> None:
    assert build_key("20260101-abc") == ".asset-pipeline/builds/20260101-abc.json"
    odd = build_key("../../etc/passwd")
    assert odd.startswith(".asset-pipeline/builds/")
    assert ".." not in odd


def test_inventory_id_depends_on_keys_and_hashes_only() -> None:
    a = inventory_id([obj("a.css"), obj("b.js")])
    assert a == inventory_id([obj("b.js"), obj("a.css")])
    assert a != inventory_id([obj("a.css", "cd"), obj("b.js")])


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def test_remote_state_round_trip_on_the_server(s3: Any) -> None:
    state = RemoteState(s3, BUCKET, "p/")
    assert state.load_index() is None
    assert state.load_build("b1") is None
    record = BuildRecord("b1", {"a.css": ObjectRecord.of(obj("a.css"))})
    state.save_build(record)
    state.save_index([IndexEntry("b1", "t", 1)])
    assert state.load_build("b1") == record
    assert state.load_index() == [IndexEntry("b1", "t", 1)]
    head = s3.head_object(Bucket=BUCKET, Key="p/.asset-pipeline/index.json")
    assert head["CacheControl"] == "no-store"
    assert state.delete_builds(["b1"]) == []
    assert state.load_build("b1") is None


def test_probe_reads_blake3_metadata_only_for_existing_keys(s3: Any, tmp_path: Path) -> None:
    s3.put_object(
        Bucket=BUCKET,
        Key="p/a.css",
        Body=b"abc",
        ContentType="text/css",
        CacheControl="no-cache",
        ContentEncoding="br",
        Metadata={"blake3": "ab"},
    )
    s3.put_object(Bucket=BUCKET, Key="p/legacy.js", Body=b"x")
    calls: list[str] = []
    s3.meta.events.register("before-send.s3.*", lambda request, **_: calls.append(request.method))
    with ThreadPoolExecutor(2) as pool:
        found = RemoteState(s3, BUCKET, "p/").probe(
            [obj("a.css"), obj("legacy.js"), obj("missing.js")], pool
        )
    assert found["a.css"] == ObjectRecord.of(obj("a.css"))
    assert found["legacy.js"].blake3 == ""  # uploaded by something else: will be replaced
    assert "missing.js" not in found
    assert sorted(calls) == ["GET", "HEAD", "HEAD"]  # one LIST, one HEAD per existing key


def test_delete_keys_batches_by_one_thousand(s3: Any) -> None:
    keys = [f"k/{i}" for i in range(1005)]
    for key in keys[:3]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    calls: list[str] = []
    s3.meta.events.register("before-send.s3.DeleteObjects", lambda **_: calls.append("delete"))
    assert delete_keys(s3, BUCKET, keys) == []
    assert calls == ["delete", "delete"]
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="k/")


def test_index_write_is_conditional_on_what_was_read(s3: Any) -> None:
    mine = RemoteState(s3, BUCKET, "")
    other = RemoteState(s3, BUCKET, "")
    assert mine.load_index() is None
    assert other.load_index() is None
    other.save_index([IndexEntry("theirs", "t", 1)])
    with pytest.raises(StateConflict):
        mine.save_index([IndexEntry("mine", "t", 1)])  # created meanwhile
    assert mine.load_index() == [IndexEntry("theirs", "t", 1)]
    other.save_index([IndexEntry("theirs", "t", 1), IndexEntry("again", "t", 1)])
    with pytest.raises(StateConflict):
        mine.save_index([IndexEntry("theirs", "t", 1), IndexEntry("mine", "t", 1)])
    mine.load_index()
    mine.save_index([IndexEntry("mine", "t", 1)])
    mine.save_index([IndexEntry("mine", "t", 2)])  # its own write moves the ETag along
    assert other.load_index() == [IndexEntry("mine", "t", 2)]

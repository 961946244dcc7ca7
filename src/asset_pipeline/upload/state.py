"""Remote state kept next to the objects, so an unchanged build costs O(1) requests.

Layout under the upload prefix::

    .asset-pipeline/index.json             builds uploaded so far, oldest first
    .asset-pipeline/builds/<build_id>.json every object of that build: blake3 + headers

The index plus the newest build record is all an incremental upload reads. When they are
missing (first upload, or someone deleted them) or ``--verify`` is given, the tool falls
back to LIST + one HEAD per existing key, reading the ``x-amz-meta-blake3`` metadata.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from blake3 import blake3

from asset_pipeline.errors import AssetPipelineError
from asset_pipeline.upload.inventory import RESERVED_DIR, LocalObject
from asset_pipeline.upload.plan import BuildRecord, ObjectRecord

STATE_DIR = RESERVED_DIR
INDEX_NAME = STATE_DIR + "index.json"
STATE_VERSION = 1
#: Object metadata key (sent as ``x-amz-meta-blake3``).
META_HASH = "blake3"
#: Object metadata naming the dictionary (SHA-256 hex) an RFC 9842 delta was made against.
META_DICTIONARY = "dictionary-sha256"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class StateError(AssetPipelineError, ValueError):
    """The remote state file exists but cannot be read."""


class StateConflict(AssetPipelineError):
    """Another upload rewrote the index after this one read it."""


@dataclass(frozen=True, slots=True)
class IndexEntry:
    build_id: str
    uploaded_at: str
    objects: int


def build_key(build_id: str) -> str:
    """State key (relative to the prefix) of one build record."""
    safe = build_id if _SAFE_ID.match(build_id) else blake3(build_id.encode()).hexdigest()[:32]
    return f"{STATE_DIR}builds/{safe}.json"


def inventory_id(objects: Iterable[LocalObject]) -> str:
    """A build id for manifests that carry none: a digest of every key and hash."""
    hasher = blake3()
    for obj in sorted(objects, key=lambda o: o.rel):
        hasher.update(f"{obj.rel}\0{obj.blake3}\n".encode())
    return hasher.hexdigest()[:20]


def index_to_json(entries: Sequence[IndexEntry]) -> bytes:
    data = {
        "version": STATE_VERSION,
        "builds": [
            {"build_id": e.build_id, "uploaded_at": e.uploaded_at, "objects": e.objects}
            for e in entries
        ],
    }
    return (json.dumps(data, indent=1) + "\n").encode()


def index_from_json(raw: bytes, where: str) -> list[IndexEntry]:
    try:
        data = json.loads(raw)
        if data.get("version") != STATE_VERSION:
            raise StateError(f"{where}: state version {data.get('version')!r} is not supported")
        return [
            IndexEntry(str(b["build_id"]), str(b["uploaded_at"]), int(b["objects"]))
            for b in data["builds"]
        ]
    except StateError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateError(
            f"{where}: unreadable upload state ({exc!r}). HINT: delete it and run again; "
            "the upload then compares objects one by one."
        ) from None


def record_to_json(record: BuildRecord) -> bytes:
    objects = {
        rel: {
            "blake3": r.blake3,
            "size": r.size,
            "content_type": r.content_type,
            "cache_control": r.cache_control,
            "content_encoding": r.content_encoding,
            "phase": r.phase,
            "acl": r.acl,
        }
        for rel, r in sorted(record.objects.items())
    }
    data = {"version": STATE_VERSION, "build_id": record.build_id, "objects": objects}
    return (json.dumps(data, indent=1) + "\n").encode()


def record_from_json(raw: bytes, where: str) -> BuildRecord:
    try:
        data = json.loads(raw)
        objects = {
            str(rel): ObjectRecord(
                blake3=str(o["blake3"]),
                size=int(o["size"]),
                content_type=str(o["content_type"]),
                cache_control=str(o["cache_control"]),
                content_encoding=o["content_encoding"] and str(o["content_encoding"]),
                phase=int(o["phase"]),
                acl=o.get("acl") and str(o["acl"]),
            )
            for rel, o in data["objects"].items()
        }
        return BuildRecord(str(data["build_id"]), objects)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateError(
            f"{where}: unreadable build record ({exc!r}). HINT: delete it and run again."
        ) from None


class RemoteState:
    """Reads and writes the state objects; one shared (thread-safe) boto3 client."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        #: ETag of the index as last read or written; None when there was none.
        self.index_etag: str | None = None

    def _where(self, rel: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{rel}"

    def _get(self, rel: str) -> tuple[bytes, str | None] | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + rel)
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = response["Body"].read()
        return body, response.get("ETag")

    def _put(self, rel: str, body: bytes, **condition: str) -> str | None:
        response = self.client.put_object(
            Bucket=self.bucket,
            Key=self.prefix + rel,
            Body=body,
            ContentType="application/json",
            CacheControl="no-store",
            **condition,
        )
        etag: str | None = response.get("ETag")
        return etag

    def load_index(self) -> list[IndexEntry] | None:
        found = self._get(INDEX_NAME)
        self.index_etag = None if found is None else found[1]
        return None if found is None else index_from_json(found[0], self._where(INDEX_NAME))

    def load_build(self, build_id: str) -> BuildRecord | None:
        rel = build_key(build_id)
        found = self._get(rel)
        return None if found is None else record_from_json(found[0], self._where(rel))

    def save_build(self, record: BuildRecord) -> None:
        self._put(build_key(record.build_id), record_to_json(record))

    def save_index(self, entries: Sequence[IndexEntry]) -> None:
        """Write the index only if it is still what this run read (S3 conditional write),
        so two concurrent deploys cannot silently drop each other's build.

        Raises :class:`StateConflict` when it changed; stores without conditional
        writes (501 NotImplemented) get a plain PUT.
        """
        from botocore.exceptions import ClientError

        body = index_to_json(entries)
        condition = {"IfMatch": self.index_etag} if self.index_etag else {"IfNoneMatch": "*"}
        try:
            self.index_etag = self._put(INDEX_NAME, body, **condition)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                raise StateConflict(self._where(INDEX_NAME)) from None
            if code != "NotImplemented" and status != 501:
                raise
            self.index_etag = self._put(INDEX_NAME, body)

    def delete_builds(self, build_ids: Iterable[str]) -> list[str]:
        return delete_keys(
            self.client, self.bucket, [self.prefix + build_key(b) for b in build_ids]
        )

    def probe(self, local: Sequence[LocalObject], pool: Executor) -> dict[str, ObjectRecord]:
        """What the bucket holds for each local key, read from object metadata.

        One LIST page per 1000 keys, then a HEAD only for keys that exist, so a cold
        upload into an empty prefix costs one request.
        """
        existing: set[str] = set()
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            existing.update(item["Key"] for item in page.get("Contents", ()))
        wanted = [o for o in local if self.prefix + o.rel in existing]
        heads = pool.map(
            lambda o: self.client.head_object(Bucket=self.bucket, Key=self.prefix + o.rel), wanted
        )
        found: dict[str, ObjectRecord] = {}
        for obj, head in zip(wanted, heads, strict=True):
            found[obj.rel] = _record_from_head(obj, head)
        return found


def _record_from_head(obj: LocalObject, head: Mapping[str, Any]) -> ObjectRecord:
    metadata = head.get("Metadata") or {}
    return ObjectRecord(
        blake3=str(metadata.get(META_HASH, "")),
        size=int(head.get("ContentLength", -1)),
        content_type=str(head.get("ContentType", "")),
        cache_control=str(head.get("CacheControl", "")),
        content_encoding=head.get("ContentEncoding") or None,
        phase=obj.phase,
        # HEAD does not show ACLs (one GetObjectAcl per key would); assume they match.
        acl=obj.acl,
    )


def delete_keys(client: Any, bucket: str, keys: Sequence[str]) -> list[str]:
    """Batch DeleteObjects (1000 keys a request); returns ``key: error`` for failures."""
    errors: list[str] = []
    for start in range(0, len(keys), 1000):
        batch = [{"Key": k} for k in keys[start : start + 1000]]
        response = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        errors.extend(
            f"{e.get('Key')}: {e.get('Code')} {e.get('Message')}"
            for e in response.get("Errors", ())
        )
    return errors

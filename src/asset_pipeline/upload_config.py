"""Options of ``asset-pipeline upload`` (one dataclass) and its error type.

Kept apart from the orchestration so the CLI, the benchmark and library callers build a
config without importing boto3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from asset_pipeline.upload_rules import UploadRules

#: Never uploaded: desktop litter.
DEFAULT_EXCLUDE = (".DS_Store", "Thumbs.db")


class UploadError(RuntimeError):
    """The upload failed; the message is one actionable line (or a few, one per key)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadConfig:
    """Every option of ``asset-pipeline upload``; defaults are the documented ones."""

    dist: Path
    bucket: str
    #: Key prefix, ``""`` or ending in ``/`` (normalised by :func:`normalise_prefix`).
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    #: ``"upload"``: ``.br``/``.zst``/``.gz`` siblings become keys with Content-Encoding;
    #: ``"skip"``: leave them out because the CDN compresses on the fly.
    precompressed: str = "upload"
    rules: UploadRules = field(default_factory=UploadRules)
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    concurrency: int = 8
    retry_mode: str = "standard"
    max_attempts: int = 5
    multipart_threshold: int = 16 * 2**20
    prune_older_than: int | None = None
    cloudfront_distribution: str | None = None
    cloudfront_endpoint_url: str | None = None
    dry_run: bool = False
    #: Ignore the remote state and compare every key's ``x-amz-meta-blake3`` (HEAD each).
    verify: bool = False
    #: ``None``: a bar when stderr is a terminal, plain lines otherwise.
    progress: bool | None = None
    #: Canned ACL for every uploaded object (``public-read``, ...); None keeps the bucket's.
    acl: str | None = None
    #: botocore flexible checksums: ``"when_supported"`` (CRC32 on every PUT) or
    #: ``"when_required"`` for S3-compatible stores that reject checksum trailers.
    checksums: str = "when_supported"


def normalise_prefix(prefix: str) -> str:
    prefix = prefix.strip().strip("/")
    return f"{prefix}/" if prefix else ""

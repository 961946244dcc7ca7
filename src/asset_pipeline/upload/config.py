"""Options of ``asset-pipeline upload``: one dataclass, the pyproject table, errors.

Kept apart from the orchestration so the CLI, the benchmark and library callers build a
config without importing boto3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asset_pipeline.config.pyproject import find_pyproject, read_table
from asset_pipeline.errors import ConfigError
from asset_pipeline.upload.rules import UploadRules

#: Never uploaded: desktop litter.
DEFAULT_EXCLUDE = (".DS_Store", "Thumbs.db")


#: ``[tool.asset-pipeline.upload]`` keys and the types they take.
_TOML_KEYS: dict[str, type | tuple[type, ...]] = {
    "bucket": str,
    "prefix": str,
    "endpoint_url": str,
    "region": str,
    "precompressed": str,
    "cache_control": dict,
    "immutable_cache_control": str,
    "revalidate_cache_control": str,
    "exclude": list,
    "concurrency": int,
    "retry_mode": str,
    "max_attempts": int,
    "multipart_threshold_mb": (int, float),
    "prune_older_than": int,
    "cloudfront_distribution": str,
    "cloudfront_endpoint_url": str,
    "acl": str,
    "checksums": str,
    "cors_origins": list,
    "addressing_style": str,
}


class OptionError(ConfigError):
    """A flag or a pyproject setting is wrong; exit code 2."""


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
    #: ``"path"`` for MinIO and other stores without per-bucket DNS names.
    addressing_style: str = "auto"
    #: Page origins (``https://www.example.com``, or ``*``) the bucket's CORS rules must
    #: allow: pages using SRI with ``Assets(cdn_url=...)`` fetch every asset with
    #: ``crossorigin``, and a browser blocks the response without ``Access-Control-Allow-
    #: Origin``. Set, the upload writes an ``asset-pipeline`` CORS rule; () leaves CORS alone.
    cors_origins: tuple[str, ...] = ()


def normalise_prefix(prefix: str) -> str:
    prefix = prefix.strip().strip("/")
    return f"{prefix}/" if prefix else ""


def read_settings(path: Path | None) -> dict[str, Any]:
    """``[tool.asset-pipeline.upload]``, type-checked; ``{}`` when there is none."""
    if path is not None and not path.is_file():
        raise OptionError(f"--config {path}: no such file. HINT: check the path.")
    explicit = path is not None
    path = path or find_pyproject(Path.cwd())
    if path is None:
        return {}
    section = (read_table(path, explicit=explicit) or {}).get("upload", {})
    where = f"{path} [tool.asset-pipeline.upload]"
    if not isinstance(section, dict):
        raise OptionError(f"{where}: expected a table.")
    for key, value in section.items():
        if key not in _TOML_KEYS:
            raise OptionError(
                f"{where}: unknown key {key!r}. HINT: known keys are {', '.join(_TOML_KEYS)}."
            )
        kind = _TOML_KEYS[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise OptionError(f"{where}: {key} has the wrong type ({type(value).__name__}).")
    return dict(section)

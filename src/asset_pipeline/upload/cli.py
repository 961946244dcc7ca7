"""``asset-pipeline upload DIST --bucket B``: publish a build to S3-compatible storage.

Options come from ``[tool.asset-pipeline.upload]`` in ``pyproject.toml`` and are
overridden by flags. Example::

    [tool.asset-pipeline.upload]
    bucket = "my-assets"
    prefix = "static/"
    precompressed = "upload"            # or "skip" when the CDN compresses
    cache_control = { "*.html" = "public, max-age=300", "robots.txt" = "public, max-age=86400" }

Exit codes: 0 published (or planned, with ``--dry-run``), 1 the upload failed, 2 bad
options. Every failure is one actionable line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from asset_pipeline.config.model import ADDRESSING_STYLES
from asset_pipeline.errors import ConfigError, UploadError
from asset_pipeline.upload.config import (
    DEFAULT_EXCLUDE,
    OptionError,
    UploadConfig,
    normalise_prefix,
    read_settings,
)
from asset_pipeline.upload.cors import check_origins
from asset_pipeline.upload.inventory import PRECOMPRESSED_MODES
from asset_pipeline.upload.publish import publish
from asset_pipeline.upload.rules import (
    IMMUTABLE,
    REVALIDATE,
    RuleError,
    UploadRules,
    check_header_value,
    parse_cli_rule,
    parse_rules,
    rules_from_table,
)

RETRY_MODES = ("standard", "adaptive", "legacy")
CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
)
CHECKSUM_MODES = ("when_supported", "when_required")

_EPILOG = """\
pyproject.toml (flags override it):
  [tool.asset-pipeline.upload]
  bucket = "my-assets"
  prefix = "static/"
  precompressed = "upload"      # or "skip" when the CDN compresses
  cache_control = { "*.html" = "public, max-age=300", "robots.txt" = "max-age=86400" }

exit codes: 0 published (or planned with --dry-run), 1 upload failed, 2 bad options
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Publish a build to S3-compatible storage: fingerprinted files first (immutable), "
        "then entry points (sw.js, HTML), manifest.json last; unchanged objects are "
        "skipped by blake3."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    parser.add_argument("dist", metavar="DIST", type=Path, help="build directory")
    parser.add_argument("--bucket", help="bucket name (or bucket = ... in pyproject)")
    parser.add_argument("--prefix", help="key prefix, e.g. static/ (default: bucket root)")
    parser.add_argument("--endpoint-url", help="S3-compatible endpoint (MinIO, R2, Spaces…)")
    parser.add_argument("--region", help="region (default: what boto3 finds)")
    parser.add_argument(
        "--precompressed",
        choices=PRECOMPRESSED_MODES,
        help="upload .br/.zst/.gz siblings with Content-Encoding (default), or skip them",
    )
    parser.add_argument(
        "--cache-control",
        action="append",
        metavar="GLOB=VALUE",
        help="Cache-Control for matching paths; repeatable, first match wins, before pyproject",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        metavar="GLOB",
        help="skip files whose relative path or name matches; repeatable",
    )
    parser.add_argument(
        "--acl",
        choices=CANNED_ACLS,
        metavar="ACL",
        help="canned ACL per object, e.g. public-read (default: none; the bucket policy rules)",
    )
    parser.add_argument(
        "--checksums",
        choices=CHECKSUM_MODES,
        help="when_required for S3-compatible stores that reject CRC32 checksums",
    )
    parser.add_argument(
        "--addressing-style",
        choices=ADDRESSING_STYLES,
        help="path for MinIO-style endpoints without per-bucket host names (default auto)",
    )
    parser.add_argument("--concurrency", type=int, help="parallel uploads (default 8)")
    parser.add_argument("--retry-mode", choices=RETRY_MODES, help="botocore retry mode")
    parser.add_argument("--max-attempts", type=int, help="attempts per request (default 5)")
    parser.add_argument(
        "--multipart-threshold-mb", type=float, help="multipart above this size (default 16)"
    )
    parser.add_argument(
        "--prune-older-than",
        type=int,
        metavar="N",
        help="delete hashed objects not referenced by the last N builds (this one included)",
    )
    parser.add_argument("--cloudfront-distribution", metavar="ID", help="invalidate changes")
    parser.add_argument("--cloudfront-endpoint-url", help="CloudFront API endpoint override")
    parser.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="page origin the bucket's CORS rules must allow (repeatable), e.g. "
        "https://www.example.com; needed when pages load the assets with SRI from a CDN",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="ignore the stored state; compare each object's blake3 metadata (HEAD per key) "
        "and check the bucket's CORS rules",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: when stderr is a terminal)",
    )
    parser.add_argument(
        "--config", type=Path, help="pyproject.toml to read (default: nearest, upward from cwd)"
    )


def _positive(name: str, value: int | float | None) -> None:
    if value is not None and value < 1:
        raise OptionError(f"{name} must be at least 1, got {value}.")


def config_from_args(args: argparse.Namespace) -> UploadConfig:
    toml = read_settings(args.config)
    where = "[tool.asset-pipeline.upload]"

    def pick(name: str, default: Any = None) -> Any:
        value = getattr(args, name, None)
        return value if value is not None else toml.get(name, default)

    bucket = pick("bucket")
    if not bucket:
        raise OptionError(
            "no bucket given. HINT: pass --bucket NAME or set bucket in "
            "[tool.asset-pipeline.upload]."
        )
    if not args.dist.is_dir():
        raise OptionError(f"{args.dist}: not a directory. HINT: pass the build output (DIST).")
    try:
        cli_rules = parse_rules(
            (parse_cli_rule(r) for r in args.cache_control or ()), "--cache-control"
        )
        rules = UploadRules(
            rules=cli_rules + rules_from_table(toml.get("cache_control", {}), where),
            immutable=check_header_value(toml.get("immutable_cache_control", IMMUTABLE), where),
            revalidate=check_header_value(toml.get("revalidate_cache_control", REVALIDATE), where),
        )
    except RuleError as exc:
        raise OptionError(str(exc)) from None
    precompressed = pick("precompressed", "upload")
    retry_mode = pick("retry_mode", "standard")
    acl = pick("acl")
    checksums = pick("checksums", "when_supported")
    addressing_style = pick("addressing_style", "auto")
    for name, value, allowed in (
        ("precompressed", precompressed, PRECOMPRESSED_MODES),
        ("retry_mode", retry_mode, RETRY_MODES),
        ("acl", acl, (None, *CANNED_ACLS)),
        ("checksums", checksums, CHECKSUM_MODES),
        ("addressing_style", addressing_style, ADDRESSING_STYLES),
    ):
        if value not in allowed:
            raise OptionError(
                f"{where}: {name} = {value!r} is not one of "
                f"{', '.join(str(a) for a in allowed if a)}."
            )
    exclude = [*(toml.get("exclude") or ()), *(args.exclude or ())]
    if not all(isinstance(e, str) for e in exclude):
        raise OptionError(f"{where}: exclude must be a list of globs.")
    cors_origins = check_origins(
        [*(toml.get("cors_origins") or ()), *(args.cors_origin or ())],
        "--cors-origin / cors_origins",
    )
    concurrency = int(pick("concurrency", 8))
    max_attempts = int(pick("max_attempts", 5))
    threshold_mb = float(pick("multipart_threshold_mb", 16))
    prune = pick("prune_older_than")
    for name, value in (
        ("--concurrency", concurrency),
        ("--max-attempts", max_attempts),
        ("--prune-older-than", prune),
    ):
        _positive(name, value)
    if threshold_mb < 5:
        raise OptionError("--multipart-threshold-mb must be at least 5 (S3's minimum part).")
    return UploadConfig(
        dist=args.dist,
        bucket=str(bucket),
        prefix=normalise_prefix(pick("prefix", "")),
        endpoint_url=pick("endpoint_url"),
        region=pick("region"),
        precompressed=precompressed,
        rules=rules,
        exclude=(*DEFAULT_EXCLUDE, *exclude),
        concurrency=concurrency,
        retry_mode=retry_mode,
        max_attempts=max_attempts,
        multipart_threshold=int(threshold_mb * 2**20),
        prune_older_than=prune,
        cloudfront_distribution=pick("cloudfront_distribution"),
        cloudfront_endpoint_url=pick("cloudfront_endpoint_url"),
        dry_run=bool(args.dry_run),
        verify=bool(args.verify),
        progress=args.progress,
        acl=acl,
        checksums=checksums,
        addressing_style=addressing_style,
        cors_origins=cors_origins,
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"asset-pipeline upload: error: {exc}", file=sys.stderr)
        return 2
    try:
        publish(config)
    except UploadError as exc:
        print(f"asset-pipeline upload: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "asset-pipeline upload: interrupted; entry points not yet written keep the "
            "previous build live. HINT: run the upload again.",
            file=sys.stderr,
        )
        return 130
    return 0

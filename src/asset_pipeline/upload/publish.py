"""Publishing one build: read state, plan, upload phase by phase, record, prune, invalidate.

The order is what keeps a live site working: every fingerprinted object is in the bucket
before any entry point that can reference it, ``manifest.json`` is written last, and the
first failed PUT stops the run before the entry points, so the previous build stays live.
Prunes happen only after the new build is recorded, and never touch the last N builds.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

from asset_pipeline.errors import UploadError
from asset_pipeline.manifest import ManifestError, load_manifest
from asset_pipeline.upload.config import UploadConfig
from asset_pipeline.upload.cors import apply_rules, current_rules
from asset_pipeline.upload.cors import problems as cors_problems
from asset_pipeline.upload.history import load_history, record_and_prune
from asset_pipeline.upload.invalidate import create_invalidations, invalidation_paths
from asset_pipeline.upload.inventory import (
    PHASE_HASHED,
    PHASE_MANIFEST,
    InventoryError,
    scan_build,
)
from asset_pipeline.upload.plan import (
    BuildRecord,
    UploadPlan,
    format_plan,
    format_size,
    make_plan,
)
from asset_pipeline.upload.state import (
    RemoteState,
    StateError,
    inventory_id,
)
from asset_pipeline.upload.transfer import (
    TransferProgress,
    UploadFailure,
    describe_error,
    make_client,
    upload_phase,
)


@dataclass(slots=True)
class UploadResult:
    build_id: str = ""
    plan: UploadPlan | None = None
    uploaded: int = 0
    uploaded_bytes: int = 0
    pruned: int = 0
    invalidated: tuple[str, ...] = ()
    cors_changed: bool = False
    warnings: list[str] = field(default_factory=list)
    failures: list[UploadFailure] = field(default_factory=list)
    seconds: float = 0.0


def publish(
    config: UploadConfig,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    s3_client: Any = None,
    cloudfront_client: Any = None,
) -> UploadResult:
    """Run one upload. Raises :class:`UploadError` on failure (after partial work)."""
    out = out or sys.stdout
    err = err or sys.stderr
    started = time.monotonic()
    prefix = config.prefix
    try:
        manifest = load_manifest(config.dist)
        local = scan_build(
            config.dist,
            manifest,
            rules=config.rules,
            precompressed=config.precompressed,
            exclude=config.exclude,
            acl=config.acl,
        )
    except (ManifestError, InventoryError) as exc:
        raise UploadError(str(exc)) from None
    build_id = manifest.build_id or inventory_id(local)
    client = s3_client or make_client(
        "s3",
        endpoint_url=config.endpoint_url,
        region=config.region,
        retry_mode=config.retry_mode,
        max_attempts=config.max_attempts,
        pool_size=config.concurrency,
        checksums=config.checksums,
        addressing_style=config.addressing_style,
    )
    state = RemoteState(client, config.bucket, prefix)
    result = UploadResult(build_id=build_id)

    def fail(exc: BaseException, key: str | None = None) -> UploadError:
        return UploadError(describe_error(exc, config.bucket, config.endpoint_url, key=key))

    with ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="upload") as pool:
        try:
            index = state.load_index() or []
            last = state.load_build(index[-1].build_id) if index and not config.verify else None
            remote = last.objects if last is not None else state.probe(local, pool)
            prune_older_than = config.prune_older_than
            history: list[BuildRecord] = []
            if prune_older_than is not None:
                history = load_history(state, index, last, build_id, prune_older_than, err)
                prune_older_than = prune_older_than if history or not index else None
        except StateError as exc:
            raise UploadError(str(exc)) from None
        except Exception as exc:
            raise fail(exc) from None
        plan = make_plan(
            local,
            remote,
            build_id=build_id,
            history=history,
            prune_older_than=prune_older_than,
        )
        result.plan = plan
        if config.dry_run:
            out.write(format_plan(plan, prefix=prefix) + "\n")
            if config.cors_origins:
                origins = ", ".join(config.cors_origins)
                out.write(f"would allow GET/HEAD from {origins} in the bucket's CORS rules\n")
            out.write("dry run: nothing was written.\n")
            result.seconds = time.monotonic() - started
            return result

        # before any entry point goes live: the pages referencing new assets must be able
        # to load them with crossorigin as soon as they are served
        _cors(config, client, result)
        uploads = plan.uploads
        progress = TransferProgress(
            len(uploads), sum(s.obj.size for s in uploads), stream=err, tty=config.progress
        )
        for phase, objects in plan.phases():
            # Manifest files go one at a time, so manifest.json is strictly the last write.
            batches = [[o] for o in objects] if phase == PHASE_MANIFEST else [objects]
            for batch in batches:
                failures = upload_phase(
                    client,
                    config.bucket,
                    prefix,
                    batch,
                    pool=pool,
                    multipart_threshold=config.multipart_threshold,
                    progress=progress,
                    endpoint_url=config.endpoint_url,
                )
                result.uploaded = progress.count
                result.uploaded_bytes = progress.bytes
                if failures:
                    result.failures = failures
                    lines = [f"upload failed: {f.message}" for f in failures]
                    lines.append(_stopped(phase, progress.count, len(uploads)))
                    raise UploadError("\n".join(lines))

        try:
            result.pruned = record_and_prune(
                state, index, build_id, local, plan, warnings=result.warnings
            )
        except UploadError:
            raise
        except Exception as exc:
            raise fail(exc) from None
        for warning in result.warnings:
            err.write(f"warning: {warning}\n")

    if config.cloudfront_distribution:
        _invalidate(
            config,
            cloudfront_client,
            invalidation_paths(prefix, plan.changed_entry_points()),
            result,
        )
    result.seconds = time.monotonic() - started
    out.write(_summary(config, plan, result) + "\n")
    return result


def _cors(config: UploadConfig, client: Any, result: UploadResult) -> None:
    """Set the ``asset-pipeline`` CORS rule (``cors_origins``); with ``verify`` read the
    rules back and fail on origins they do not allow (warn when none is configured)."""
    if not config.cors_origins and not config.verify:
        return
    try:
        if config.cors_origins and apply_rules(client, config.bucket, config.cors_origins):
            result.cors_changed = True
        if not config.verify:
            return
        found = cors_problems(
            current_rules(client, config.bucket), config.cors_origins, config.bucket
        )
    except Exception as exc:
        raise UploadError(
            "could not set or read the bucket's CORS rules: "
            + describe_error(exc, config.bucket, config.endpoint_url)
            + " The store may not support CORS configuration (then set the CORS headers at "
            "the CDN), or the credentials lack s3:PutBucketCORS / s3:GetBucketCORS."
        ) from None
    if found and config.cors_origins:
        raise UploadError("\n".join(found))
    result.warnings.extend(found)


def _stopped(phase: int, done: int, total: int) -> str:
    if phase == PHASE_HASHED:
        what = "no entry point and no manifest of this build was written, so the previous "
    else:
        what = (
            "manifest.json was not written (entry points already uploaded reference only "
            "files that are in place), so servers reading the manifest keep the previous "
        )
    return (
        f"stopped after {done} of {total} uploads; {what}build live. "
        "HINT: fix the error and run the upload again."
    )


def _invalidate(config: UploadConfig, client: Any, paths: list[str], result: UploadResult) -> None:
    if not paths:
        return
    client = client or make_client(
        "cloudfront",
        endpoint_url=config.cloudfront_endpoint_url,
        region=config.region,
        retry_mode=config.retry_mode,
        max_attempts=config.max_attempts,
        pool_size=1,
    )
    try:
        create_invalidations(
            client, config.cloudfront_distribution or "", paths, build_id=result.build_id
        )
    except Exception as exc:
        message = describe_error(exc, config.bucket, config.cloudfront_endpoint_url)
        raise UploadError(
            f"the build is uploaded, but the CloudFront invalidation of distribution "
            f"{config.cloudfront_distribution!r} failed: {message}"
        ) from None
    result.invalidated = tuple(paths)


def _summary(config: UploadConfig, plan: UploadPlan, result: UploadResult) -> str:
    parts = [
        f"published s3://{config.bucket}/{config.prefix} (build {result.build_id}):",
        f"{result.uploaded} uploaded ({format_size(result.uploaded_bytes)}),",
        f"{len(plan.skipped)} unchanged,",
        f"{result.pruned} pruned,",
        f"{len(result.invalidated)} paths invalidated,",
        *(["CORS rules updated,"] if result.cors_changed else []),
        f"{result.seconds:.2f} s",
    ]
    return " ".join(parts)

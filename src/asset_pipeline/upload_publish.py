"""Publishing one build: read state, plan, upload phase by phase, record, prune, invalidate.

The order is what keeps a live site working: every fingerprinted object is in the bucket
before any entry point that can reference it, ``manifest.json`` is written last, and the
first failed PUT stops the run before the entry points, so the previous build stays live.
Prunes happen only after the new build is recorded, and never touch the last N builds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from asset_pipeline.manifest import ManifestError, load_manifest
from asset_pipeline.upload_invalidate import create_invalidations, invalidation_paths
from asset_pipeline.upload_inventory import PHASE_MANIFEST, InventoryError, scan_build
from asset_pipeline.upload_plan import (
    BuildRecord,
    ObjectRecord,
    Plan,
    format_plan,
    format_size,
    make_plan,
)
from asset_pipeline.upload_rules import UploadRules
from asset_pipeline.upload_state import (
    IndexEntry,
    RemoteState,
    StateError,
    delete_keys,
    inventory_id,
)
from asset_pipeline.upload_transfer import (
    Progress,
    UploadFailure,
    describe_error,
    make_client,
    upload_phase,
)

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


@dataclass(slots=True)
class UploadResult:
    build_id: str = ""
    plan: Plan | None = None
    uploaded: int = 0
    uploaded_bytes: int = 0
    pruned: int = 0
    invalidated: tuple[str, ...] = ()
    failures: list[UploadFailure] = field(default_factory=list)
    seconds: float = 0.0


def normalise_prefix(prefix: str) -> str:
    prefix = prefix.strip().strip("/")
    return f"{prefix}/" if prefix else ""


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
            history: list[BuildRecord] = []
            if config.prune_older_than is not None:
                for entry in index:
                    record = last if last and last.build_id == entry.build_id else None
                    record = record or state.load_build(entry.build_id)
                    if record is not None:
                        history.append(record)
        except StateError as exc:
            raise UploadError(str(exc)) from None
        except Exception as exc:
            raise fail(exc) from None
        plan = make_plan(
            local,
            remote,
            build_id=build_id,
            history=history,
            prune_older_than=config.prune_older_than,
        )
        result.plan = plan
        if config.dry_run:
            out.write(format_plan(plan, prefix=prefix) + "\n")
            out.write("dry run: nothing was written.\n")
            result.seconds = time.monotonic() - started
            return result

        uploads = plan.uploads
        progress = Progress(
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
                    lines.append(
                        f"stopped after {progress.count} of {len(uploads)} uploads; the "
                        "manifest and entry points of this build were not written, so the "
                        "previous build stays live. HINT: fix the error and run the upload again."
                    )
                    raise UploadError("\n".join(lines))

        try:
            _record(state, index, build_id, local, plan, result, config)
        except UploadError:
            raise
        except Exception as exc:
            raise fail(exc) from None

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


def _record(
    state: RemoteState,
    index: list[IndexEntry],
    build_id: str,
    local: Sequence[Any],
    plan: Plan,
    result: UploadResult,
    config: UploadConfig,
) -> None:
    """Write this build's record and the index, then prune what the kept builds don't use."""
    unchanged = not plan.uploads and index and index[-1].build_id == build_id
    if not unchanged:
        state.save_build(BuildRecord(build_id, {o.rel: ObjectRecord.of(o) for o in local}))
        now = datetime.now(UTC).isoformat(timespec="seconds")
        index = [e for e in index if e.build_id != build_id]
        index.append(IndexEntry(build_id, now, len(local)))
        state.save_index(index)
    if not plan.prune and not plan.retired_builds:
        return
    errors = delete_keys(state.client, config.bucket, [config.prefix + r for r in plan.prune])
    if errors:
        raise UploadError(
            f"prune: {len(errors)} object(s) could not be deleted, first: {errors[0]}. "
            "HINT: the new build is live; check s3:DeleteObject permission and run again."
        )
    result.pruned = len(plan.prune)
    retired = set(plan.retired_builds)
    state.delete_builds(plan.retired_builds)
    state.save_index([e for e in index if e.build_id not in retired])


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


def _summary(config: UploadConfig, plan: Plan, result: UploadResult) -> str:
    parts = [
        f"published s3://{config.bucket}/{config.prefix} (build {result.build_id}):",
        f"{result.uploaded} uploaded ({format_size(result.uploaded_bytes)}),",
        f"{len(plan.skipped)} unchanged,",
        f"{result.pruned} pruned,",
        f"{len(result.invalidated)} paths invalidated,",
        f"{result.seconds:.2f} s",
    ]
    return " ".join(parts)

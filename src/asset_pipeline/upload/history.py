"""Build history under the prefix: record each upload, keep the last N, prune the rest.

Two rules make pruning safe: an object is deleted only if a *recorded* older build used
it and none of the kept builds does, and any doubt (a kept build's record missing, the
index changed by a concurrent deploy) skips the prune instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TextIO

from asset_pipeline.errors import UploadError
from asset_pipeline.upload.inventory import LocalObject
from asset_pipeline.upload.plan import BuildRecord, ObjectRecord, UploadPlan
from asset_pipeline.upload.state import IndexEntry, RemoteState, StateConflict, delete_keys


def load_history(
    state: RemoteState,
    index: list[IndexEntry],
    last: BuildRecord | None,
    build_id: str,
    keep: int,
    err: TextIO,
) -> list[BuildRecord]:
    """Records of the previous builds, oldest first; ``[]`` means "do not prune".

    A kept build whose record is missing makes pruning unsafe (we cannot tell what it
    references), so it is skipped with a warning; a missing record of a build that is
    retired anyway only means its objects cannot be found, so it is dropped.
    """
    previous = [e.build_id for e in index if e.build_id != build_id]
    kept = set(previous[len(previous) - min(keep - 1, len(previous)) :]) if keep > 1 else set()
    history = []
    for bid in previous:
        record = last if last is not None and last.build_id == bid else state.load_build(bid)
        if record is None and bid in kept:
            err.write(
                f"warning: prune skipped: the record of kept build {bid!r} is missing from "
                "the bucket, so what it references is unknown. HINT: prune again once that "
                "build is older than the last N.\n"
            )
            return []
        history.append(record or BuildRecord(bid, {}))
    return history


def update_index(
    state: RemoteState,
    index: list[IndexEntry],
    *,
    add: IndexEntry | None = None,
    drop: Iterable[str] = (),
) -> tuple[list[IndexEntry], bool]:
    """Conditional write with optimistic retries: on a conflict, re-read and re-apply the
    change to what the other deploy wrote. Returns the new index and whether it conflicted.
    """
    dropped = set(drop)
    if add is not None:
        dropped.add(add.build_id)
    conflicted = False
    for _ in range(5):
        merged = [e for e in index if e.build_id not in dropped]
        if add is not None:
            merged.append(add)
        try:
            state.save_index(merged)
            return merged, conflicted
        except StateConflict:
            conflicted = True
            index = state.load_index() or []
    raise UploadError(
        f"{state.bucket}: the build index kept changing under concurrent uploads; this "
        "build is live but not recorded. HINT: serialise deploys, then run again."
    )


def record_and_prune(
    state: RemoteState,
    index: list[IndexEntry],
    build_id: str,
    local: Sequence[LocalObject],
    plan: UploadPlan,
    *,
    warnings: list[str],
) -> int:
    """Record this build (unless it is already the last one), then prune; returns the
    number of objects deleted. Runs only after manifest.json is written."""
    unchanged = not plan.uploads and bool(index) and index[-1].build_id == build_id
    conflicted = False
    if not unchanged:
        state.save_build(BuildRecord(build_id, {o.rel: ObjectRecord.of(o) for o in local}))
        now = datetime.now(UTC).isoformat(timespec="seconds")
        index, conflicted = update_index(state, index, add=IndexEntry(build_id, now, len(local)))
    if not plan.prune and not plan.retired_builds:
        return 0
    if conflicted:
        warnings.append(
            "prune skipped: another upload changed the build index during this one, so "
            "the retention plan may be stale. HINT: prune again with the next upload."
        )
        return 0
    keys = [state.prefix + rel for rel in plan.prune]
    errors = delete_keys(state.client, state.bucket, keys)
    if errors:
        raise UploadError(
            f"prune: {len(errors)} object(s) could not be deleted, first: {errors[0]}. "
            "HINT: the new build is live; check s3:DeleteObject permission and run again."
        )
    state.delete_builds(plan.retired_builds)
    update_index(state, index, drop=plan.retired_builds)
    return len(plan.prune)

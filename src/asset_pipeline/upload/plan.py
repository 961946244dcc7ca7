"""The upload plan: what to PUT (in which phase), what to skip, what to prune.

Pure functions over the local inventory and the remote records, so the ordering and
retention rules (the part that can break a live site) are testable without S3.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from asset_pipeline.upload.inventory import PHASE_ENTRY, PHASE_NAMES, LocalObject

NEW, CHANGED, SKIP, PRUNE = "new", "changed", "skip", "prune"


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    """What was uploaded for one key: enough to decide "same content, same headers"."""

    blake3: str
    size: int
    content_type: str
    cache_control: str
    content_encoding: str | None
    phase: int
    acl: str | None = None

    @classmethod
    def of(cls, obj: LocalObject) -> ObjectRecord:
        return cls(
            obj.blake3,
            obj.size,
            obj.content_type,
            obj.cache_control,
            obj.content_encoding,
            obj.phase,
            obj.acl,
        )


@dataclass(frozen=True, slots=True)
class BuildRecord:
    """One uploaded build: its id and the objects (relative to the prefix) it holds."""

    build_id: str
    objects: Mapping[str, ObjectRecord]

    def hashed_keys(self) -> set[str]:
        return {rel for rel, rec in self.objects.items() if rec.phase < PHASE_ENTRY}


@dataclass(frozen=True, slots=True)
class Step:
    obj: LocalObject
    action: str  # NEW, CHANGED or SKIP
    reason: str


@dataclass(frozen=True, slots=True)
class UploadPlan:
    steps: tuple[Step, ...]
    prune: tuple[str, ...] = ()
    retired_builds: tuple[str, ...] = ()
    kept_builds: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def uploads(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action != SKIP)

    @property
    def skipped(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action == SKIP)

    def phases(self) -> list[tuple[int, list[LocalObject]]]:
        """Uploads grouped by phase, in phase order (empty phases left out)."""
        groups: dict[int, list[LocalObject]] = {}
        for step in self.uploads:
            groups.setdefault(step.obj.phase, []).append(step.obj)
        return sorted(groups.items())

    def changed_entry_points(self) -> list[str]:
        """Relative paths of uploaded unhashed objects: what a CDN may hold stale."""
        return [s.obj.rel for s in self.uploads if s.obj.phase >= PHASE_ENTRY]


def compare(obj: LocalObject, remote: ObjectRecord | None) -> tuple[str, str]:
    """(action, reason) for one object against what the bucket holds."""
    if remote is None:
        return NEW, "not in bucket"
    if remote.blake3 != obj.blake3:
        return CHANGED, "content differs"
    mine = ObjectRecord.of(obj)
    for name in ("content_type", "cache_control", "content_encoding", "acl"):
        if getattr(remote, name) != getattr(mine, name):
            return CHANGED, f"{name.replace('_', '-')} differs"
    return SKIP, "unchanged"


def make_plan(
    local: Sequence[LocalObject],
    remote: Mapping[str, ObjectRecord],
    *,
    build_id: str,
    history: Sequence[BuildRecord] = (),
    prune_older_than: int | None = None,
) -> UploadPlan:
    """``history`` is the previously uploaded builds, oldest first.

    With ``prune_older_than=N`` the plan deletes hashed objects that none of the last N
    builds (this one included) references. Unhashed keys are never pruned: the current
    build overwrites them, and a foreign object under the prefix is not ours to delete.
    """
    steps = tuple(Step(obj, *compare(obj, remote.get(obj.rel))) for obj in local)
    if prune_older_than is None:
        return UploadPlan(steps)
    if prune_older_than < 1:
        raise ValueError("prune_older_than must be at least 1 (the build being uploaded)")
    previous = [b for b in history if b.build_id != build_id]
    keep_count = min(prune_older_than - 1, len(previous))
    keep_previous = previous[len(previous) - keep_count :] if keep_count else []
    retired = previous[: len(previous) - len(keep_previous)]
    protected = {o.rel for o in local}
    for build in keep_previous:
        protected.update(build.objects)
    doomed: set[str] = set()
    for build in retired:
        doomed.update(build.hashed_keys())
    return UploadPlan(
        steps,
        prune=tuple(sorted(doomed - protected)),
        retired_builds=tuple(b.build_id for b in retired),
        kept_builds=(*(b.build_id for b in keep_previous), build_id),
    )


def format_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def format_plan(plan: UploadPlan, *, prefix: str = "", show_skipped: bool = True) -> str:
    """The ``--dry-run`` table: one row per object, in upload order, then the prunes."""
    rows = [("ACTION", "PHASE", "SIZE", "KEY", "REASON")]
    for step in plan.steps:
        if step.action == SKIP and not show_skipped:
            continue
        rows.append(
            (
                step.action,
                PHASE_NAMES[step.obj.phase],
                format_size(step.obj.size),
                prefix + step.obj.rel,
                step.reason,
            )
        )
    rows.extend((PRUNE, "-", "-", prefix + rel, "not in the kept builds") for rel in plan.prune)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    ]
    counts = {a: sum(1 for s in plan.steps if s.action == a) for a in (NEW, CHANGED, SKIP)}
    nbytes = sum(s.obj.size for s in plan.uploads)
    lines.append(
        f"plan: {counts[NEW]} new, {counts[CHANGED]} changed ({format_size(nbytes)}), "
        f"{counts[SKIP]} unchanged, {len(plan.prune)} to prune"
    )
    return "\n".join(lines)

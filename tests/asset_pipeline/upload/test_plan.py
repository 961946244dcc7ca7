"""The upload plan: skip/new/changed decisions, phase order, prune retention (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asset_pipeline.upload.inventory import PHASE_ENTRY, PHASE_HASHED, PHASE_MANIFEST, LocalObject
from asset_pipeline.upload.plan import (
    CHANGED,
    NEW,
    SKIP,
    BuildRecord,
    ObjectRecord,
    compare,
    format_plan,
    format_size,
    make_plan,
)


def obj(rel: str, phase: int = PHASE_HASHED, digest: str = "aa", size: int = 10) -> LocalObject:
    return LocalObject(
        rel=rel,
        path=f"/dist/{rel}",
        size=size,
        blake3=digest,
        content_type="text/css; charset=utf-8",
        cache_control="no-cache" if phase else "public, max-age=31536000, immutable",
        content_encoding=None,
        phase=phase,
    )


def record(*objects: LocalObject, build_id: str) -> BuildRecord:
    return BuildRecord(build_id, {o.rel: ObjectRecord.of(o) for o in objects})


def test_compare_decides_by_blake3_then_headers() -> None:
    local = obj("a.css")
    assert compare(local, None) == (NEW, "not in bucket")
    assert compare(local, ObjectRecord.of(local)) == (SKIP, "unchanged")
    assert compare(local, ObjectRecord.of(replace(local, blake3="bb")))[0] == CHANGED
    stale = ObjectRecord.of(replace(local, cache_control="max-age=60"))
    assert compare(local, stale) == (CHANGED, "cache-control differs")
    encoded = ObjectRecord.of(replace(local, content_encoding="br"))
    assert compare(local, encoded) == (CHANGED, "content-encoding differs")
    # the size alone never forces an upload: same hash means same bytes
    assert compare(local, ObjectRecord.of(replace(local, size=99)))[0] == SKIP


def test_plan_groups_uploads_by_phase_and_lists_changed_entry_points() -> None:
    local = [
        obj("a.1.css"),
        obj("b.2.js"),
        obj("sw.js", PHASE_ENTRY, "s2"),
        obj("index.html", PHASE_ENTRY),
        obj("manifest.json", PHASE_MANIFEST, "m2"),
    ]
    remote = {o.rel: ObjectRecord.of(o) for o in (local[0], obj("sw.js", PHASE_ENTRY), local[3])}
    plan = make_plan(local, remote, build_id="b")
    assert [(p, [o.rel for o in objs]) for p, objs in plan.phases()] == [
        (PHASE_HASHED, ["b.2.js"]),
        (PHASE_ENTRY, ["sw.js"]),
        (PHASE_MANIFEST, ["manifest.json"]),
    ]
    assert [s.obj.rel for s in plan.skipped] == ["a.1.css", "index.html"]
    assert plan.changed_entry_points() == ["sw.js", "manifest.json"]
    assert plan.prune == ()


def test_prune_keeps_the_last_n_builds_and_never_touches_entry_points() -> None:
    shared = obj("shared.1.css")
    b1 = record(shared, obj("old.1.js"), obj("sw.js", PHASE_ENTRY), build_id="b1")
    b2 = record(shared, obj("mid.2.js"), obj("sw.js", PHASE_ENTRY), build_id="b2")
    current = [shared, obj("new.3.js"), obj("sw.js", PHASE_ENTRY)]
    plan = make_plan(current, {}, build_id="b3", history=[b1, b2], prune_older_than=2)
    assert plan.prune == ("old.1.js",)
    assert plan.retired_builds == ("b1",)
    assert plan.kept_builds == ("b2", "b3")
    plan = make_plan(current, {}, build_id="b3", history=[b1, b2], prune_older_than=1)
    assert plan.prune == ("mid.2.js", "old.1.js")
    assert plan.retired_builds == ("b1", "b2")
    plan = make_plan(current, {}, build_id="b3", history=[b1, b2], prune_older_than=5)
    assert plan.prune == ()
    assert plan.retired_builds == ()


def test_reuploading_the_same_build_id_does_not_retire_it() -> None:
    b1 = record(obj("old.1.js"), build_id="b1")
    b2 = record(obj("x.2.js"), build_id="b2")
    plan = make_plan([obj("x.2.js")], {}, build_id="b2", history=[b1, b2], prune_older_than=1)
    assert plan.retired_builds == ("b1",)
    assert plan.prune == ("old.1.js",)


def test_prune_older_than_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        make_plan([], {}, build_id="b", prune_older_than=0)


_names = st.sampled_from([f"f{i}.js" for i in range(12)])
_build = st.sets(st.tuples(_names, st.booleans()), max_size=8)


@settings(max_examples=200, deadline=None)
@given(history=st.lists(_build, max_size=6), current=_build, keep=st.integers(1, 8))
def test_prune_never_deletes_what_a_kept_build_uses(
    history: list[set[tuple[str, bool]]], current: set[tuple[str, bool]], keep: int
) -> None:
    def objects(spec: set[tuple[str, bool]]) -> list[LocalObject]:
        by_name = dict(spec)  # one phase per name within a build
        return [obj(n, PHASE_HASHED if hashed else PHASE_ENTRY) for n, hashed in by_name.items()]

    records = [record(*objects(s), build_id=f"b{i}") for i, s in enumerate(history)]
    local = objects(current)
    plan = make_plan(local, {}, build_id="now", history=records, prune_older_than=keep)
    kept = records[len(records) - min(keep - 1, len(records)) :] if keep > 1 else []
    in_use = {o.rel for o in local}.union(*(set(r.objects) for r in kept))
    retired = records[: len(records) - len(kept)]
    retired_hashed = set().union(*(r.hashed_keys() for r in retired))
    assert set(plan.prune) == retired_hashed - in_use
    assert plan.retired_builds == tuple(r.build_id for r in retired)
    assert plan.kept_builds[-1] == "now"


def test_format_plan_lists_every_object_and_a_summary() -> None:
    local = [obj("a.1.css", size=2048), obj("sw.js", PHASE_ENTRY)]
    b1 = record(obj("gone.0.css"), build_id="b1")
    remote = {"sw.js": ObjectRecord.of(local[1])}
    plan = make_plan(local, remote, build_id="b2", history=[b1], prune_older_than=1)
    text = format_plan(plan, prefix="static/")
    lines = text.splitlines()
    assert lines[0].split() == ["ACTION", "PHASE", "SIZE", "KEY", "REASON"]
    assert lines[1].split()[:5] == ["new", "hashed", "2.0", "KB", "static/a.1.css"]
    assert lines[2].split()[:2] == ["skip", "entry"]
    assert lines[3].split()[:4] == ["prune", "-", "-", "static/gone.0.css"]
    assert lines[-1] == "plan: 1 new, 0 changed (2.0 KB), 1 unchanged, 1 to prune"
    assert "skip" not in format_plan(plan, show_skipped=False)


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KB"), (5 * 2**20, "5.0 MB")]
)
def test_format_size(n: int, text: str) -> None:
    assert format_size(n) == text

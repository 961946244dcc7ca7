"""Small cache entries live in one pack per build, with an index written at ``flush``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asset_pipeline.build import BuildHooks
from asset_pipeline.build import cache as cache_module
from asset_pipeline.build.cache import PackOnDisk, read_pack_indexes
from tests.asset_pipeline.build.test_cache_prune import entry_files
from tests.asset_pipeline.build_support import run, snapshot, write_tree


def small_modules(count: int) -> dict[str, str | bytes]:
    """``count`` small ES modules importing each other, the shape of lodash-es."""
    files: dict[str, str | bytes] = {
        f"js/m{i}.js": f"import {{ v{i + 1} }} from './m{i + 1}.js';\n"
        + f"export const v{i} = () => console.log('module {i}', v{i + 1});\n" * 8
        for i in range(count - 1)
    }
    files[f"js/m{count - 1}.js"] = f"export const v{count - 1} = 1;\n"
    return files


def test_a_cold_build_of_hundreds_of_small_files_creates_a_handful_of_cache_files(
    tmp_path: Path,
) -> None:
    """Each file created is an inode; on ext4 without a journal the allocator scans past
    recently freed inodes for every one, so one file per entry costs more than the work."""
    write_tree(tmp_path / "src", small_modules(300))
    result = run(tmp_path)
    assert result.stats.processed == 300
    created = [p for p in (tmp_path / "cache").rglob("*")]
    assert len(created) <= 8, sorted(p.name for p in created)
    assert len(entry_files(tmp_path / "cache")) <= 4
    # and a rebuild from it (DIST gone) processes nothing and writes the same bytes
    built = snapshot(tmp_path / "dist")
    for path in (tmp_path / "dist").rglob("*"):
        if path.is_file():
            path.unlink()
    again = run(tmp_path)
    assert again.stats.processed_cached == 300
    assert snapshot(tmp_path / "dist") == built


def packs_of(cache: Path) -> list[PackOnDisk]:
    return read_pack_indexes(str(cache / "packs"))


def clear_dist(tmp: Path) -> None:
    """Remove DIST's files, so the next build looks every file up in the cache."""
    for path in (tmp / "dist").rglob("*"):
        if path.is_file():
            path.unlink()


def test_a_rebuild_reads_the_pack_and_writes_nothing_new(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", small_modules(40))
    run(tmp_path)
    before = sorted((tmp_path / "cache/packs").iterdir())
    assert len(packs_of(tmp_path / "cache")) == 1
    assert run(tmp_path).stats.up_to_date  # unchanged: a no-op
    clear_dist(tmp_path)
    calls: list[str] = []
    again = run(tmp_path, hooks=BuildHooks(on_process=[lambda n, k: calls.append(n)]))
    assert calls == []
    assert again.stats.processed_cached == 40
    assert sorted((tmp_path / "cache/packs").iterdir()) == before  # every entry was a hit


@pytest.mark.parametrize("damage", ["truncate pack", "flip pack", "garble index", "no pack"])
def test_a_damaged_pack_or_index_is_a_miss_and_the_rebuild_is_identical(
    tmp_path: Path, damage: str
) -> None:
    write_tree(tmp_path / "src", small_modules(30))
    first = run(tmp_path)
    built = snapshot(tmp_path / "dist")
    (pack,) = packs_of(tmp_path / "cache")
    pack_file = tmp_path / "cache/packs" / f"{pack.name}.pack"
    index_file = tmp_path / "cache/packs" / f"{pack.name}.idx"
    raw = pack_file.read_bytes()
    if damage == "truncate pack":
        pack_file.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip pack":
        pack_file.write_bytes(bytes(b ^ 0x55 for b in raw))
    elif damage == "garble index":
        index_file.write_bytes(b'{"pack": "x"}\n[1, 2' + index_file.read_bytes()[40:])
    else:
        pack_file.unlink()
    clear_dist(tmp_path)
    again = run(tmp_path)
    assert again.manifest == first.manifest
    assert snapshot(tmp_path / "dist") == built
    if damage == "truncate pack":  # the entries before the cut still hit
        assert 0 < again.stats.processed_cached < 30
    else:
        assert again.stats.processed_cached == 0
    # the rebuild's own pack holds the entries again
    clear_dist(tmp_path)
    assert run(tmp_path).stats.processed_cached == 30


def test_a_tiny_budget_drops_unused_packs_and_folds_the_used_entries(tmp_path: Path) -> None:
    modules = small_modules(20)
    write_tree(tmp_path / "src", modules)
    run(tmp_path)
    (first,) = packs_of(tmp_path / "cache")
    # every file changes: the first pack is entirely unused and goes as a unit
    write_tree(tmp_path / "src", {n: f"{c}export const edited = 2;\n" for n, c in modules.items()})
    result = run(tmp_path, cache_max_bytes=1)
    (second,) = packs_of(tmp_path / "cache")
    assert second.name != first.name
    assert not (tmp_path / "cache/packs" / f"{first.name}.pack").exists()
    assert result.stats.pruned >= len(first.entries)
    # one file changes: the last pack is mostly used; under the budget its used entries
    # move into this build's pack, so the cache holds exactly what this build needs
    (tmp_path / "src/js/m0.js").write_text("export const v0 = 3;\n")
    run(tmp_path, cache_max_bytes=1)
    (third,) = packs_of(tmp_path / "cache")
    assert third.name not in (first.name, second.name)
    dropped = set(second.entries) - set(third.entries)
    # the old m0.js's processed output, its siblings and the previous build's dictionary
    # delta against an older m0.js: nothing else was unused
    assert sorted(e.partition("/")[0] for e in dropped) == ["encoded", "encoded", "processed"]
    clear_dist(tmp_path)
    calls: list[str] = []
    again = run(tmp_path, hooks=BuildHooks(on_process=[lambda n, k: calls.append(n)]))
    assert calls == []
    assert again.stats.processed_cached == 20


def test_without_pressure_the_number_of_packs_stays_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "MAX_PACKS", 3)
    write_tree(tmp_path / "src", small_modules(20))
    run(tmp_path)
    (base,) = packs_of(tmp_path / "cache")
    for i in range(5):  # each edit adds a pack with two entries
        (tmp_path / "src/js/m3.js").write_text(f"export const v3 = {i};\n")
        run(tmp_path)
        assert len(packs_of(tmp_path / "cache")) <= 3
    names = {p.name for p in packs_of(tmp_path / "cache")}
    assert base.name in names  # the most used pack is never copied to bound the count
    clear_dist(tmp_path)
    assert run(tmp_path).stats.processed_cached == 20


def _build_cmd(tmp: Path, src: str, out: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "asset_pipeline", "build", str(tmp / src), "--out",
        str(tmp / out), "--cache-dir", str(tmp / "cache"), "--quiet", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_two_builds_sharing_a_cache_at_once_keep_each_others_entries(tmp_path: Path) -> None:
    """Each build appends to its own pack and writes its own index, and ``prune`` leaves
    alone the packs written after its build started."""
    one, two = small_modules(400), small_modules(120)
    write_tree(tmp_path / "one", one)
    write_tree(tmp_path / "two", {n: str(c) + "// two\n" for n, c in two.items()})
    packs = tmp_path / "cache/packs"
    first = subprocess.Popen(_build_cmd(tmp_path, "one", "dist-one", "--jobs", "1"), env=_env())
    _wait_for_a_pack(packs, first)
    second = subprocess.Popen(_build_cmd(tmp_path, "two", "dist-two", "--jobs", "1"), env=_env())
    assert first.poll() is None  # the second starts while the first is writing its pack
    procs = [first, second]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    assert len(packs_of(tmp_path / "cache")) == 2
    for src, count in (("one", 400), ("two", 120)):
        shutil.rmtree(tmp_path / f"dist-{src}")
        out = subprocess.run(
            [c for c in _build_cmd(tmp_path, src, f"dist-{src}", "--jobs", "1") if c != "--quiet"],
            env=_env(), capture_output=True, text=True, timeout=300, check=True,
        )  # fmt: skip
        assert f"reused {count} from cache" in out.stdout
        assert "compressed 0," in out.stdout


def test_a_build_killed_mid_way_leaves_a_cache_the_next_build_uses(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", small_modules(400))
    proc = subprocess.Popen(_build_cmd(tmp_path, "src", "dist", "--jobs", "1"), env=_env())
    packs = tmp_path / "cache/packs"
    _wait_for_a_pack(packs, proc)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert [p for p in _listing(packs) if p.suffix == ".idx"] == []  # index comes last
    result = run(tmp_path)
    assert result.stats.processed == 400
    (tmp_path / "clean").mkdir()
    clean = run(tmp_path, cache_dir=tmp_path / "clean", out=tmp_path / "clean-dist")
    assert result.manifest == clean.manifest
    assert snapshot(tmp_path / "dist") == snapshot(tmp_path / "clean-dist")
    # the killed build's pack is kept while it may belong to a running build, then pruned
    (orphan,) = [p for p in _listing(packs) if not (packs / f"{p.stem}.idx").exists()]
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    (tmp_path / "src/js/m0.js").write_text("export const v0 = 2;\n")
    run(tmp_path)
    assert not orphan.exists()
    clear_dist(tmp_path)
    assert run(tmp_path).stats.processed_cached == 400


def _listing(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except FileNotFoundError:
        return []


def _wait_for_a_pack(packs: Path, proc: subprocess.Popen[bytes]) -> None:
    """Until the build ``proc`` has packed an entry (polling, not a fixed wait)."""
    deadline = time.monotonic() + 120
    while not any(p.suffix == ".pack" and p.stat().st_size for p in _listing(packs)):
        assert proc.poll() is None, "the build ended before any entry was packed"
        assert time.monotonic() < deadline
        time.sleep(0.005)

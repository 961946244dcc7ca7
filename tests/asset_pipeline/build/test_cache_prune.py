"""The build cache stays bounded: entries a build did not use are pruned, oldest first."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from asset_pipeline.build import BuildHooks
from asset_pipeline.build.cache import ENTRY_AREAS, BuildCache, read_pack_indexes
from asset_pipeline.config import BuildConfig, ConfigError, DictionaryConfig, validate
from tests.asset_pipeline.build_support import run, write_tree


def entry_files(cache: Path) -> set[str]:
    return {
        p.relative_to(cache).as_posix()
        for area in ENTRY_AREAS
        for p in (cache / area).rglob("*")
        if p.is_file()
    }


def entry_names(cache: Path) -> set[str]:
    """Every entry the cache holds, loose or packed, as ``area/key``."""
    loose = {name for name in entry_files(cache) if not name.startswith("packs/")}
    return loose | {e for p in read_pack_indexes(str(cache / "packs")) for e in p.entries}


def cache_bytes(cache: Path) -> int:
    return sum(os.path.getsize(cache / name) for name in entry_files(cache))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write_tree(
        tmp_path / "src",
        {
            "css/app.css": "body { color: red; }\n" + ".x { margin: 0 auto; }\n" * 50,
            "js/app.js": "export const a = 1;\n" + "console.log(a);\n" * 50,
        },
    )
    return tmp_path


def edit_generations(tree: Path, count: int, **overrides: object) -> None:
    for i in range(count):
        (tree / "src/css/app.css").write_text(f"body {{ color: #{i:06x}; }}\n" * 60)
        run(tree, **overrides)


def test_without_pressure_old_generations_are_kept(tree: Path) -> None:
    run(tree)
    first = entry_files(tree / "cache")
    edit_generations(tree, 3)
    assert first <= entry_files(tree / "cache")  # 512 MiB default: nothing to prune


def test_a_zero_budget_keeps_exactly_what_the_last_build_used(tree: Path) -> None:
    # dictionary deltas off: their entries depend on earlier versions, which a fresh cache
    # cannot know (tests/asset_pipeline/build/test_dictionaries.py covers them)
    off = DictionaryConfig(versions=0)
    edit_generations(tree, 3, cache_max_bytes=0, dictionaries=off)
    kept = entry_names(tree / "cache")
    # the last build with a fresh cache writes exactly the entries it needs
    (tree / "fresh").mkdir()
    result = run(tree, cache_dir=tree / "fresh", dictionaries=off)
    assert result.stats.processed == 2
    assert kept == entry_names(tree / "fresh")
    # and those entries are enough: a full rebuild (DIST removed) processes nothing
    for path in (tree / "dist").rglob("*"):
        if path.is_file():
            path.unlink()
    calls: list[str] = []
    again = run(
        tree,
        cache_max_bytes=0,
        dictionaries=off,
        hooks=BuildHooks(on_process=[lambda n, k: calls.append(n)]),
    )
    assert calls == []
    assert again.stats.processed_cached == 2


def test_a_budget_removes_the_oldest_unused_entries_first(tree: Path) -> None:
    run(tree)
    oldest = entry_files(tree / "cache")
    for name in oldest:  # make the first generation clearly the oldest
        os.utime(tree / "cache" / name, (time.time() - 3600, time.time() - 3600))
    edit_generations(tree, 2)
    everything = cache_bytes(tree / "cache")
    (tree / "src/css/app.css").write_text("body { color: blue; }\n" * 60)
    budget = everything  # room for all but what the next build adds
    result = run(tree, cache_max_bytes=budget)
    after = entry_files(tree / "cache")
    assert result.stats.pruned > 0
    assert cache_bytes(tree / "cache") <= budget
    assert result.stats.cache_bytes == cache_bytes(tree / "cache")
    removed = (oldest | after) - after
    assert removed, "something had to go"
    assert removed <= oldest  # only the oldest generation lost entries


def test_stale_temp_files_of_a_crashed_build_are_removed(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)
    shard = tmp_path / "blobs" / "ab"
    shard.mkdir(parents=True)
    stale, fresh = shard / ".tmp-old", shard / ".tmp-new"
    stale.write_bytes(b"x" * 10)
    fresh.write_bytes(b"y" * 10)
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    result = cache.prune(10**9)
    assert not stale.exists()
    assert fresh.exists()  # may belong to a build running right now
    assert (result.removed, result.entries) == (1, 0)


def test_a_negative_budget_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cache_max_bytes.*HINT"):
        validate(BuildConfig(src=tmp_path, out=tmp_path / "o", cache_max_bytes=-1))


def test_the_budget_is_read_from_pyproject_and_checked(tmp_path: Path) -> None:
    from asset_pipeline.config.load import config_from_mapping as from_mapping

    config = from_mapping({"cache_max_bytes": 1024}, root=tmp_path, source="pyproject.toml")
    assert config.cache_max_bytes == 1024
    with pytest.raises(ConfigError, match=r"cache_max_bytes must be an integer >= 0"):
        from_mapping({"cache_max_bytes": "1G"}, root=tmp_path, source="pyproject.toml")

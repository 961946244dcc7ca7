"""The content-addressed build cache: what a build writes to it, and reading it back."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from asset_pipeline.build import reuse, scan
from asset_pipeline.build.cache import ENTRY_AREAS, BuildCache, read_pack_indexes
from asset_pipeline.build.reuse import Previous
from asset_pipeline.build.scan import Scanner
from asset_pipeline.processors import ExtraOutput, ProcessorOutput
from asset_pipeline.refs import RawRef
from tests.asset_pipeline.build.test_cache_prune import entry_files
from tests.asset_pipeline.build_support import run, snapshot, write_tree


def test_a_cold_build_packs_its_entries_beside_one_refs_pack_and_no_shards(
    tmp_path: Path,
) -> None:
    """Every cache file is an inode, a rename and a journal write: on a tree of many
    small modules those cost more than all the compression. The processor outputs (with
    their references) and the siblings of small files share the build's pack and its
    index; the references of every scanned source share one more pack, and no area
    needs directories of its own."""
    modules = {
        f"js/m{i}.js": f"import {{ v{i + 1} }} from './m{i + 1}.js';\n"
        + "// a comment the minifier removes\n" * 20
        + f"export const v{i} = () => console.log('module {i}', v{i + 1});\n" * 30
        for i in range(10)
    }
    modules["js/m10.js"] = "export const v10 = 1;\n"
    write_tree(tmp_path / "src", modules)
    result = run(tmp_path)
    compressed = [e for e in result.manifest.files.values() if e.encodings]
    assert len(compressed) == 10
    files = entry_files(tmp_path / "cache")
    assert len(files) == 3
    assert "refs/pack" in files
    assert sorted(name.rpartition(".")[2] for name in files - {"refs/pack"}) == ["idx", "pack"]
    assert {p.parent for p in (tmp_path / "cache").rglob("*") if p.is_dir()} == {tmp_path / "cache"}


def _refs_for(tmp: Path) -> dict[str, list[RawRef] | None]:
    """What a fresh cache over ``tmp/cache`` holds for each source's references."""
    cache = BuildCache(tmp / "cache")
    return {
        path.name: cache.get_refs(Scanner._key(path.name, path.read_bytes()))
        for path in sorted((tmp / "src").rglob("*.js"))
    }


def test_the_refs_pack_is_reused_and_follows_the_sources(tmp_path: Path) -> None:
    """A rebuild reads the unchanged files' references from the pack instead of scanning
    them; the pack then holds exactly the records of the current sources."""
    write_tree(
        tmp_path / "src",
        {
            "js/a.js": "import { b } from './b.js';\nexport const a = b;\n",
            "js/b.js": "import { c } from './c.js';\nexport const b = c;\n",
            "js/c.js": "export const c = 1;\n",
        },
    )
    run(tmp_path)
    first = _refs_for(tmp_path)
    assert all(refs is not None for refs in first.values())
    assert [r.url for r in first["a.js"] or []] == ["./b.js"]
    old_c = (tmp_path / "src/js/c.js").read_bytes()
    (tmp_path / "src/js/c.js").write_text("export const c = 2;\n")
    scanned: list[str] = []
    real_scan_job = scan.scan_job

    def counting(name: str, data: bytes) -> list[RawRef]:
        scanned.append(name)
        return real_scan_job(name, data)

    with pytest.MonkeyPatch.context() as mp:  # jobs=1: the scan runs in this process
        mp.setattr(scan, "scan_job", counting)
        run(tmp_path)
    assert scanned == ["js/c.js"]
    assert _refs_for(tmp_path) == {**first, "c.js": []}
    stale = BuildCache(tmp_path / "cache").get_refs(Scanner._key("js/c.js", old_c))
    assert stale is None  # the pack holds what the last build used, nothing more


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_a_damaged_refs_pack_is_rescanned_and_rewritten(tmp_path: Path, damage: str) -> None:
    write_tree(
        tmp_path / "src",
        {
            "css/app.css": "body { background: url('../img/dot.svg'); }\n",
            "img/dot.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
            "js/app.js": "import { x } from './x.js';\nconsole.log(x);\n",
            "js/x.js": "export const x = 1;\n",
        },
    )
    first = run(tmp_path)
    built = snapshot(tmp_path / "dist")
    pack = tmp_path / "cache/refs/pack"
    raw = bytearray(pack.read_bytes())
    if damage == "flip":
        raw[-3] ^= 0xFF
    elif damage == "truncate":
        del raw[len(raw) // 2 :]
    else:
        raw = bytearray(b"\x00not a pack\n[1, 2")
    pack.write_bytes(bytes(raw))
    assert BuildCache(tmp_path / "cache").get_refs(next(iter(_keys(tmp_path)))) is None
    shutil.rmtree(tmp_path / "dist")  # not up to date: everything is looked up again
    again = run(tmp_path)
    assert again.manifest == first.manifest
    assert snapshot(tmp_path / "dist") == built
    assert again.stats.processed_cached == first.stats.processed  # other entries still hit
    assert all(refs is not None for refs in _refs_for(tmp_path).values())


def _keys(tmp: Path) -> list[str]:
    return [
        Scanner._key(p.relative_to(tmp / "src").as_posix(), p.read_bytes())
        for p in sorted((tmp / "src").rglob("*.js"))
    ]


def test_entries_of_the_sharded_format_are_pruned_with_their_directories(
    tmp_path: Path,
) -> None:
    shard = tmp_path / "cache/processed/ab"
    shard.mkdir(parents=True)
    (shard / ("ab" + "0" * 62)).write_bytes(b"an entry of an older format")
    write_tree(tmp_path / "src", {"js/a.js": "export const a = 1;\n"})
    result = run(tmp_path, cache_max_bytes=0)
    assert result.stats.pruned == 1
    assert not shard.exists()
    assert (tmp_path / "cache/processed").is_dir()


def test_entries_round_trip_and_a_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)
    webp = ExtraOutput(".w10.webp", b"RIFF" + bytes(range(256)), "image/webp", "webp", 10, 5)
    output = ProcessorOutput(
        data=b"\x89PNG" + bytes(300),
        suffix=".png",
        content_type="image/png",
        extras=(webp,),
        metadata={"width": 20, "height": 10},
    )
    refs = [RawRef("url", "a.png", 10, 15, 1, '"', None, (20, 25))]
    cache.put_output("a" * 64, output, refs)
    assert cache.get_output("a" * 64) == output
    assert cache.get_processed("a" * 64) == (output, refs)
    siblings = {"br": b"brotli bytes", "gzip": b"\x1f\x8bgzip bytes"}
    cache.put_encoded("b" * 64, siblings)
    assert cache.get_encoded("b" * 64) == siblings
    big = {"br": bytes(range(256)) * 300}  # above PACK_ENTRY_MAX: a file of its own
    cache.put_encoded("c" * 64, big)
    cache.flush()  # entries are written on a background thread
    assert cache.get_encoded("b" * 64) == siblings
    cache.close()
    fresh = BuildCache(tmp_path)  # reads the pack through its index
    assert fresh.get_processed("a" * 64) == (output, refs)
    assert fresh.get_encoded("b" * 64) == siblings
    assert fresh.get_encoded("c" * 64) == big
    fresh.close()
    (index,) = read_pack_indexes(str(tmp_path / "packs"))
    assert set(index.entries) == {"processed/" + "a" * 64, "encoded/" + "b" * 64}
    assert (tmp_path / "encoded" / ("c" * 64)).is_file()
    pack = tmp_path / "packs" / f"{index.name}.pack"
    raw = bytearray(pack.read_bytes())
    for offset, length in index.entries.values():
        raw[offset + length - 1] ^= 0xFF  # one flipped bit in each payload
    pack.write_bytes(bytes(raw))
    loose = tmp_path / "encoded" / ("c" * 64)
    loose.write_bytes(loose.read_bytes()[:-1] + b"!")
    damaged = BuildCache(tmp_path)
    assert damaged.get_output("a" * 64) is None
    assert damaged.get_encoded("b" * 64) is None
    assert damaged.get_encoded("c" * 64) is None
    damaged.close()
    loose.write_bytes(b"not an entry")
    assert BuildCache(tmp_path).get_encoded("c" * 64) is None


def test_output_and_cache_files_are_created_off_the_main_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating a file is system calls that release the GIL: on the main thread, on a
    tree of many small modules, they stall it while the workers wait for jobs."""
    creators: list[str] = []
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        if Path(dst).parent.name in ENTRY_AREAS:  # not the manifest or state
            creators.append(f"cache {threading.current_thread().name}")
        real_replace(src, dst)

    def open_output(file: str, mode: str = "r") -> IO[Any]:
        if "w" in mode:
            creators.append(f"output {threading.current_thread().name}")
        return open(file, mode)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(reuse, "open", open_output, raising=False)
    write_tree(
        tmp_path / "src",
        {f"js/m{i}.js": f"export const v{i} = '{'x' * 400}';\n" for i in range(5)},
    )
    run(tmp_path)
    assert {c.split()[0] for c in creators} == {"cache", "output"}
    assert [c for c in creators if c.endswith("MainThread")] == []


def test_an_output_file_that_cannot_be_written_fails_the_build_at_flush(tmp_path: Path) -> None:
    """Written on a thread, a full disk must still fail the build, not vanish."""
    (tmp_path / "not-a-dir").write_text("")
    previous = Previous(None, {}, {})
    previous.place(tmp_path / "not-a-dir", "js/a.js", b"var a;")
    with pytest.raises(OSError):
        previous.flush()

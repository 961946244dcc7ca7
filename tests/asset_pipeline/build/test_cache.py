"""The content-addressed build cache: what a build writes to it, and reading it back."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from asset_pipeline.build import reuse
from asset_pipeline.build.cache import ENTRY_AREAS, BuildCache
from asset_pipeline.build.reuse import Previous
from asset_pipeline.processors import ExtraOutput, ProcessorOutput
from asset_pipeline.refs import RawRef
from tests.asset_pipeline.build.test_cache_prune import entry_files
from tests.asset_pipeline.build_support import run, write_tree


def test_a_cold_build_writes_three_cache_files_per_processed_and_compressed_file(
    tmp_path: Path,
) -> None:
    """Every cache file is an inode, a rename and a journal write: on a tree of many
    small modules those cost more than all the compression. A minified, precompressed
    file needs three: its references, the processor output with the output's references,
    and its siblings (each entry holds its bytes, not pointers to more files)."""
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
    assert len(entry_files(tmp_path / "cache")) <= 3 * len(modules)


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
    cache.flush()  # entries are written on a background thread
    assert cache.get_encoded("b" * 64) == siblings
    for area, key in (("processed", "a" * 64), ("encoded", "b" * 64)):
        path = tmp_path / area / key[:2] / key
        raw = bytearray(path.read_bytes())
        raw[-1] ^= 0xFF  # one flipped bit in the payload
        path.write_bytes(bytes(raw))
    assert cache.get_output("a" * 64) is None
    assert cache.get_encoded("b" * 64) is None
    path.write_bytes(b"not an entry")
    assert cache.get_encoded("b" * 64) is None


def test_output_and_cache_files_are_created_off_the_main_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating a file is system calls that release the GIL: on the main thread, on a
    tree of many small modules, they stall it while the workers wait for jobs."""
    creators: list[str] = []
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        if Path(dst).parent.parent.name in ENTRY_AREAS:  # not the manifest or state
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

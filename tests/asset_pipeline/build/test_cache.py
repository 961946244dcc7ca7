"""The content-addressed build cache: what a build writes to it, and reading it back."""

from __future__ import annotations

from pathlib import Path

from asset_pipeline.build.cache import BuildCache
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
    for area, key in (("processed", "a" * 64), ("encoded", "b" * 64)):
        path = tmp_path / area / key[:2] / key
        raw = bytearray(path.read_bytes())
        raw[-1] ^= 0xFF  # one flipped bit in the payload
        path.write_bytes(bytes(raw))
    assert cache.get_output("a" * 64) is None
    assert cache.get_encoded("b" * 64) is None
    path.write_bytes(b"not an entry")
    assert cache.get_encoded("b" * 64) is None

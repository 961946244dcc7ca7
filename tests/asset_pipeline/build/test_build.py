from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from asset_pipeline import processors
from asset_pipeline.build import BuildError, BuildHooks, BuildPlan, build
from asset_pipeline.build.state import inputs_key
from asset_pipeline.config import BuildConfig, PrecompressConfig
from asset_pipeline.manifest import Manifest, load_manifest
from asset_pipeline.processors import ExtraOutput, ProcessContext, ProcessorOutput
from tests.asset_pipeline.build_support import SVG, output_text, run, snapshot, write_tree

APP_CSS = """/* url(commented.svg) is not a reference */
@import "base.css";
.logo { background: url(../img/logo.svg); }
.root { background: url(/static/img/logo.svg?v=2#frag); }
.str::before { content: "url(in-string.svg)"; }
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write_tree(
        tmp_path / "src",
        {
            "css/app.css": APP_CSS,
            "css/base.css": "body { margin: 0; }\n",
            "img/logo.svg": SVG,
            "js/app.js": "import { f } from './util.js';\nf();\n",
            "js/util.js": "export function f() { return 1; }\n",
            "robots.txt": "User-agent: *\n",
        },
    )
    return tmp_path


def test_build_rewrites_fingerprints_and_keeps_reference_styles(tree: Path) -> None:
    result = run(tree)
    m = result.manifest
    css = output_text(tree, m, "css/app.css")
    logo = m["img/logo.svg"].path
    assert logo.startswith("img/logo.")
    assert logo.endswith(".svg")
    assert len(logo) == len("img/logo.0123456789.svg")
    assert f"url(../{logo})" in css
    assert f"url(/static/{logo}?v=2#frag)" in css
    assert '"url(in-string.svg)"' in css
    assert f'@import "{m["css/base.css"].path.removeprefix("css/")}"' in css
    js = output_text(tree, m, "js/app.js")
    assert f"from'./{m['js/util.js'].path.removeprefix('js/')}'" in js
    assert m["css/app.css"].dependencies == ("css/base.css", "img/logo.svg")
    assert m["robots.txt"].path.startswith("robots.")
    assert m["robots.txt"].fingerprinted


def test_manifest_records_types_sri_hash_and_encodings(tree: Path) -> None:
    m = run(tree).manifest
    assert load_manifest(tree / "dist") == m
    entry = m["css/app.css"]
    data = (tree / "dist" / entry.path).read_bytes()
    assert entry.content_type == "text/css; charset=utf-8"
    assert m["js/app.js"].content_type == "text/javascript; charset=utf-8"
    assert m["img/logo.svg"].content_type == "image/svg+xml; charset=utf-8"
    assert entry.size == len(data)
    assert entry.integrity == "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    assert entry.path.split(".")[-2] == entry.hash[:10]
    for coding, variant in entry.encodings.items():
        sibling = (tree / "dist" / variant.path).read_bytes()
        assert variant.size == len(sibling)
        if coding == "gzip":
            assert gzip.decompress(sibling) == data


def test_precompressed_siblings_only_when_five_percent_smaller(tmp_path: Path) -> None:
    big = "".join(f".c{i} {{ color: #{i:06x}; }}\n" for i in range(300))
    write_tree(tmp_path / "src", {"big.css": big, "tiny.css": "a{b:c}"})
    m = run(tmp_path).manifest
    assert set(m["big.css"].encodings) == {"br", "gzip"}
    assert m["tiny.css"].encodings == {}
    assert not list((tmp_path / "dist").rglob("*.zst"))
    m3 = run(tmp_path, precompress=PrecompressConfig(zstd=True)).manifest
    assert set(m3["big.css"].encodings) == {"br", "zstd", "gzip"}
    m2 = run(tmp_path, precompress=PrecompressConfig(br=True, zstd=False, gzip=False)).manifest
    assert set(m2["big.css"].encodings) == {"br"}
    assert not list((tmp_path / "dist").rglob("*.gz"))


def test_changing_a_leaf_renames_every_dependent(tree: Path) -> None:
    before = run(tree).manifest
    (tree / "src/img/logo.svg").write_text(SVG.replace("<rect/>", "<circle/>"))
    after = run(tree).manifest
    assert after["img/logo.svg"].path != before["img/logo.svg"].path
    assert after["css/app.css"].path != before["css/app.css"].path
    assert after["css/base.css"].path == before["css/base.css"].path
    assert after["js/app.js"].path == before["js/app.js"].path
    assert not (tree / "dist" / before["css/app.css"].path).exists()


def test_cycle_is_an_error_naming_the_files(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "src",
        {"a.css": '@import "b.css";', "b.css": '@import "c.css";', "c.css": '@import "a.css";'},
    )
    with pytest.raises(BuildError, match=r"reference cycle: a\.css -> b\.css -> c\.css -> a\.css"):
        run(tmp_path)
    assert not (tmp_path / "dist").exists()


def test_missing_source_map_warns_and_strips_the_comment(tmp_path: Path) -> None:
    js = "var a = 1;\n//# sourceMappingURL=lib.js.map\n"
    css = "a{color:red}\n/*# sourceMappingURL=lib.css.map */\n"
    write_tree(
        tmp_path / "src",
        {
            "lib.js": js,
            "lib.css": css,
            "ok.css": css.replace("lib", "ok"),
            "ok.css.map": '{"version":3}',
        },
    )
    result = run(tmp_path)
    m = result.manifest
    assert "sourceMappingURL" not in output_text(tmp_path, m, "lib.js")
    assert "sourceMappingURL" not in output_text(tmp_path, m, "lib.css")
    assert f"sourceMappingURL={m['ok.css.map'].path}" in output_text(tmp_path, m, "ok.css")
    assert any("lib.js:2" in w and "lib.js.map" in w for w in result.warnings)


def test_missing_reference_is_an_error_with_file_line_and_target(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"css/a.css": "a{}\nb{background:url(gone.svg)}\n"})
    with pytest.raises(BuildError) as info:
        run(tmp_path)
    assert "css/a.css:2: reference to missing file 'gone.svg' (css/gone.svg)" in str(info.value)
    assert "HINT" in str(info.value)
    result = run(tmp_path, missing_reference="warn")
    assert "url(gone.svg)" in output_text(tmp_path, result.manifest, "css/a.css")
    assert result.warnings == ("css/a.css:2: reference to missing file 'gone.svg' (css/gone.svg)",)


def test_failed_build_leaves_previous_dist_byte_for_byte(tree: Path) -> None:
    run(tree)
    before = snapshot(tree / "dist")
    (tree / "src/css/broken.css").write_bytes(b"a { content: '\xff' }")
    with pytest.raises(BuildError, match=r"css/broken\.css: .*not valid UTF-8"):
        run(tree)
    assert snapshot(tree / "dist") == before
    assert sorted(p.name for p in tree.iterdir()) == ["cache", "dist", "src"]


def test_corrupt_web_fonts_fail_the_build_and_keep_dist(tree: Path) -> None:
    """A corrupt .woff2 used to be copied unchecked, then precached by the service worker."""
    from tests.asset_pipeline.processors.test_fonts import build_font, flavored

    woff2, woff = flavored(build_font(), "woff2"), flavored(build_font(), "woff")
    write_tree(tree / "src", {"fonts/good.woff2": woff2})
    run(tree)
    before = snapshot(tree / "dist")
    write_tree(
        tree / "src", {"fonts/cut.woff2": woff2[: len(woff2) // 2], "fonts/lone.woff": woff[:200]}
    )
    with pytest.raises(BuildError) as err:
        run(tree)
    assert {p.split(":")[0] for p in err.value.problems} == {"fonts/lone.woff", "fonts/cut.woff2"}
    assert all("corrupt WOFF" in p and "HINT" in p for p in err.value.problems)
    assert snapshot(tree / "dist") == before


def test_inputs_key_takes_any_file_name_a_plugin_reads(tmp_path: Path) -> None:
    """SRC names are checked to be UTF-8 up front; a plugin's inputs (font usage templates)
    are not, and must not crash the up-to-date check."""
    config = BuildConfig(root=tmp_path)
    bad = {"\0usage:/site/templates/caf\udce9.html": b"x"}
    assert inputs_key(config, bad, []) != inputs_key(config, {"\0usage:/a.html": b"x"}, [])


def test_noop_rebuild_runs_no_processor_and_one_change_runs_one(tree: Path) -> None:
    calls: list[tuple[str, str]] = []
    hooks = BuildHooks(on_process=[lambda name, kind: calls.append((name, kind))])
    first = run(tree, hooks=hooks)
    assert sorted(calls) == [
        ("css/app.css", "css"),
        ("css/base.css", "css"),
        ("js/app.js", "js"),
        ("js/util.js", "js"),
    ]
    assert first.stats.processed == 4
    calls.clear()
    again = run(tree, hooks=hooks)
    assert calls == []
    assert again.stats.up_to_date
    assert again.manifest == first.manifest
    # With an output missing the build takes the full path, still without processing.
    (tree / "dist" / first.manifest["css/base.css"].path).unlink()
    full = run(tree, hooks=hooks)
    assert calls == []
    assert not full.stats.up_to_date
    assert (full.stats.processed, full.stats.processed_cached) == (0, 4)
    assert full.stats.compressed == 0
    assert full.manifest == first.manifest
    assert (tree / "dist" / first.manifest["css/base.css"].path).is_file()
    (tree / "src/js/util.js").write_text("export function f() { return 2; }\n")
    third = run(tree, hooks=hooks)
    assert calls == [("js/util.js", "js")]
    assert third.manifest["js/app.js"].path != first.manifest["js/app.js"].path


def test_cache_key_includes_options(tree: Path) -> None:
    run(tree)
    config = {"css": {"rules": [{"glob": "css/base.css", "minify": False}]}}
    result = run(tree, processors=config)
    assert result.stats.processed == 1
    assert output_text(tree, result.manifest, "css/base.css") == "body { margin: 0; }\n"


def test_process_pool_gives_the_same_build(tree: Path) -> None:
    serial = run(tree, cache_dir=None).manifest
    pooled = run(tree, cache_dir=None, jobs=2).manifest
    assert pooled == serial


def test_bundler_hashed_names_are_kept_unless_rewriting_changed_them(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "src",
        {
            "assets/index-BfT4x2aQ.js": "import './chunk-3XKQ7ZPA.js';\n",
            "assets/chunk-3XKQ7ZPA.js": "export default 1;\n",
            "assets/uses-Ab3dEf9h.js": "import './plain.js';\n",
            "assets/plain.js": "export default 2;\n",
        },
    )
    m = run(tmp_path).manifest
    assert m["assets/index-BfT4x2aQ.js"].path == "assets/index-BfT4x2aQ.js"
    assert m["assets/chunk-3XKQ7ZPA.js"].path == "assets/chunk-3XKQ7ZPA.js"
    assert m["assets/index-BfT4x2aQ.js"].fingerprinted
    # Its import now names plain.<hash>.js, so the bundler's hash no longer matches.
    renamed = m["assets/uses-Ab3dEf9h.js"].path
    assert renamed.startswith("assets/uses-Ab3dEf9h.")
    assert renamed != "assets/uses-Ab3dEf9h.js"


def test_extra_manifest_formats_and_dry_run(tree: Path) -> None:
    run(tree, manifest_formats=("django", "vite"))
    import json

    django = json.loads((tree / "dist/staticfiles.json").read_text())
    assert django["paths"]["css/app.css"].startswith("css/app.")
    vite = json.loads((tree / "dist/.vite/manifest.json").read_text())
    assert vite["js/app.js"]["imports"] == ["js/util.js"]
    before = snapshot(tree / "dist")
    (tree / "src/new.txt").write_text("new")
    result = run(tree, manifest_formats=())
    assert "new.txt" in result.manifest
    (tree / "src/newer.txt").write_text("newer")
    from asset_pipeline.build import build

    config = BuildConfig(src=tree / "src", out=tree / "dist", cache_dir=tree / "cache", jobs=1)
    dry = build(config, dry_run=True)
    assert "newer.txt" in dry.manifest
    assert "newer.txt" not in load_manifest(tree / "dist")
    assert snapshot(tree / "dist") != before


def fake_font(data: bytes, ctx: ProcessContext) -> ProcessorOutput:
    return ProcessorOutput(
        data=b"wOF2" + data,
        suffix=".woff2",
        content_type="font/woff2",
        metadata={"unicode_range": "U+0-FF", "cps": sorted(ctx.used_codepoints or ())},
    )


def fake_image(data: bytes, ctx: ProcessContext) -> ProcessorOutput:
    webp = ExtraOutput(".w10.webp", b"RIFFwebp" + data, "image/webp", "webp", 10, 5)
    return ProcessorOutput(data=data, extras=(webp,), metadata={"width": 20, "height": 10})


@pytest.fixture
def fake_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    table = dict(processors._PROCESSOR_FUNCTIONS)
    table["fonts"] = "tests.asset_pipeline.build.test_build:fake_font"
    table["images"] = "tests.asset_pipeline.build.test_build:fake_image"
    monkeypatch.setattr(processors, "_PROCESSOR_FUNCTIONS", table)


@pytest.mark.usefixtures("fake_processors")
def test_suffix_rename_rewrites_references_and_format_hint(tmp_path: Path) -> None:
    css = '@font-face{font-family:X;src:url(../fonts/x.ttf) format("truetype")}\n'
    write_tree(tmp_path / "src", {"css/app.css": css, "fonts/x.ttf": b"\x00\x01ttf"})
    seen: list[BuildPlan] = []

    def usage(plan: BuildPlan) -> None:
        seen.append(plan)
        plan.used_codepoints["fonts/x.ttf"] = frozenset(map(ord, "AB"))

    m = run(tmp_path, hooks=BuildHooks(before_process=[usage])).manifest
    font = m["fonts/x.ttf"]
    assert font.path.startswith("fonts/x.")
    assert font.path.endswith(".woff2")
    assert font.content_type == "font/woff2"
    assert font.unicode_range == "U+0-FF"
    out = output_text(tmp_path, m, "css/app.css")
    assert f'url(../{font.path}) format("woff2")' in out
    assert seen[0].graph.deps["css/app.css"] == ("fonts/x.ttf",)


@pytest.mark.usefixtures("fake_processors")
def test_image_extras_are_fingerprinted_and_recorded_as_alternates(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"img/hero.png": b"\x89PNGdata"})
    entry = run(tmp_path).manifest["img/hero.png"]
    (alt,) = entry.alternates
    assert alt.path.startswith("img/hero.w10.")
    assert alt.path.endswith(".webp")
    assert (alt.format, alt.width, alt.height, alt.content_type) == ("webp", 10, 5, "image/webp")
    assert (tmp_path / "dist" / alt.path).read_bytes() == b"RIFFwebp\x89PNGdata"
    assert (entry.width, entry.height) == (20, 10)


def test_missing_processor_module_copies_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = dict(processors._PROCESSOR_FUNCTIONS)
    table["images"] = "asset_pipeline.processors.not_written_yet:process_image"
    monkeypatch.setattr(processors, "_PROCESSOR_FUNCTIONS", table)
    write_tree(tmp_path / "src", {"img/a.png": b"\x89PNG-not-really"})
    result = run(tmp_path)
    assert (
        tmp_path / "dist" / result.manifest["img/a.png"].path
    ).read_bytes() == b"\x89PNG-not-really"
    assert result.stats.copied == 1


def test_after_manifest_hook_gets_manifest_tempdir_and_config(tree: Path) -> None:
    def add_file(manifest: Manifest, out: Path, config: BuildConfig) -> Manifest:
        assert out != tree / "dist"
        assert (out / manifest["css/app.css"].path).is_file()
        (out / "sw.js").write_text("// sw")
        return manifest

    run(tree, hooks=BuildHooks(after_manifest=[add_file]))
    assert (tree / "dist/sw.js").read_text() == "// sw"


def test_output_inside_source_is_not_rebuilt_from_itself(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a.css": "a{}"})
    result = run(tmp_path, out=tmp_path / "src" / "dist")
    result = run(tmp_path, out=tmp_path / "src" / "dist")
    assert list(result.manifest) == ["a.css"]


def test_up_to_date_check_notices_config_and_dist_changes(tree: Path) -> None:
    first = run(tree)
    assert not first.stats.up_to_date
    assert run(tree).stats.up_to_date
    assert not run(tree, hash_length=12).stats.up_to_date
    assert run(tree, hash_length=12).stats.up_to_date
    (tree / "dist" / "manifest.json").write_text("{}")
    rebuilt = run(tree, hash_length=12)
    assert not rebuilt.stats.up_to_date
    assert load_manifest(tree / "dist") == rebuilt.manifest


def test_up_to_date_build_replays_warnings(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a.js": "var a;\n//# sourceMappingURL=a.js.map\n"})
    first = run(tmp_path)
    again = run(tmp_path)
    assert again.stats.up_to_date
    assert again.warnings == first.warnings
    assert len(first.warnings) == 1


def test_unchanged_outputs_are_hard_linked_from_the_previous_dist(tree: Path) -> None:
    first = run(tree)
    old = first.manifest
    inodes: dict[str, int] = {}

    def record_inodes(manifest: Manifest, out: Path, config: BuildConfig) -> None:
        for name in ("css/base.css", "js/app.js", "css/app.css"):
            inodes[name] = (out / manifest[name].path).stat().st_ino

    before = {n: (tree / "dist" / old[n].path).stat().st_ino for n in ("css/base.css", "js/app.js")}
    (tree / "src/css/app.css").write_text(APP_CSS + ".new { color: red }\n")
    result = run(tree, hooks=BuildHooks(after_manifest=[record_inodes]))
    assert result.stats.linked >= 2
    assert inodes["css/base.css"] == before["css/base.css"]
    assert inodes["js/app.js"] == before["js/app.js"]
    assert result.manifest["css/app.css"].path != old["css/app.css"].path
    assert ".new{color:red}" in output_text(tree, result.manifest, "css/app.css")


def test_leftovers_of_killed_builds_are_removed(tree: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tree / f".dist.tmp-{dead.pid}-abc"
    (stale / "css").mkdir(parents=True)
    live = tree / f".dist.tmp-{os.getpid()}-xyz"
    live.mkdir()
    run(tree)
    assert not stale.exists()
    assert live.exists()  # a running process might still be building there


def many_modules(tmp: Path, *, broken_root: bool = False) -> None:
    """Sixty small modules under one root that imports them all (so it is emitted last),
    a large stylesheet and a large module at the root too: the shape of a tree of ES
    modules, where compression overlaps the writing of the files."""
    files: dict[str, str | bytes] = {
        f"js/m{i}.js": f"export const v{i} = {i};\nexport function f{i}(a) {{ return a * {i}; }}\n"
        * (1 + i % 7)
        for i in range(60)
    }
    imports = "".join(f"import {{ v{i} }} from './m{i}.js';\n" for i in range(60))
    body = "".join(f"console.log('value', v{i}, {i} * 2);\n" for i in range(60)) * 40
    root = (imports + body).encode()
    files["js/main.js"] = root + (b"const bad = '\xff';\n" if broken_root else b"")
    files["css/site.css"] = "".join(
        f".c{i} {{ margin: {i}px; color: #{i:06x}; }}\n" for i in range(4000)
    )
    write_tree(tmp / "src", files)


def test_pooled_build_writes_the_same_bytes_as_a_serial_one(tmp_path: Path) -> None:
    """Compression starts while later files are still being written; every file, sibling
    and the manifest come out byte for byte as in a one-process build."""
    many_modules(tmp_path)
    progress: list[tuple[str, int, int]] = []
    pooled = build(
        BuildConfig(src=tmp_path / "src", out=tmp_path / "dist", root=tmp_path, jobs=2),
        progress=lambda phase, done, total: progress.append((phase, done, total)),
    )
    first = snapshot(tmp_path / "dist")
    run(tmp_path, cache_dir=None, jobs=1)
    assert snapshot(tmp_path / "dist") == first
    assert pooled.stats.compressed == 62  # the sixty modules, the root and the stylesheet
    compress = [(done, total) for phase, done, total in progress if phase == "precompress"]
    assert compress[-1] == (62, 62)
    assert [done for done, _ in compress] == sorted(done for done, _ in compress)
    assert pooled.manifest["js/main.js"].encodings["br"].size < 2000


def test_a_processor_error_in_the_file_written_last_fails_the_pooled_build(tmp_path: Path) -> None:
    many_modules(tmp_path)
    run(tmp_path, jobs=2)
    before = snapshot(tmp_path / "dist")
    many_modules(tmp_path, broken_root=True)
    with pytest.raises(BuildError, match=r"js/main\.js: .*not valid UTF-8"):
        run(tmp_path, jobs=2)
    assert snapshot(tmp_path / "dist") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "dist", "src"]


def test_manifest_is_one_entry_per_line_round_trips_and_is_byte_stable(tree: Path) -> None:
    first = run(tree, cache_dir=None)
    text = (tree / "dist/manifest.json").read_text(encoding="utf-8")
    assert load_manifest(tree / "dist") == first.manifest
    entries = [line for line in text.splitlines() if line.startswith('    "')]
    assert [line.split('"')[1] for line in entries] == sorted(first.manifest.files)
    for line in entries:  # each entry whole on its line
        ((name, entry),) = json.loads("{" + line.rstrip(",") + "}").items()
        assert entry == first.manifest[name].to_dict()
    shutil.rmtree(tree / "dist")
    run(tree, cache_dir=None)
    assert (tree / "dist/manifest.json").read_text(encoding="utf-8") == text

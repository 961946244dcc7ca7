"""Scanning a build directory into objects to publish: phases, headers, hashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from blake3 import blake3

from asset_pipeline.manifest import load_manifest
from asset_pipeline.upload.inventory import (
    PHASE_ENTRY,
    PHASE_HASHED,
    PHASE_MANIFEST,
    InventoryError,
    file_blake3,
    scan_build,
)
from asset_pipeline.upload.rules import IMMUTABLE, CacheRule, UploadRules
from tests.asset_pipeline.upload.helpers import make_build


def test_objects_come_in_upload_order_with_phases(tmp_path: Path) -> None:
    manifest = make_build(tmp_path)
    (tmp_path / ".vite").mkdir()
    (tmp_path / ".vite" / "manifest.json").write_text("{}")
    objects = scan_build(tmp_path, manifest, rules=UploadRules())
    rels = [o.rel for o in objects]
    assert set(rels) == manifest.output_paths() | {
        "sw.js",
        "sw.js.br",
        "index.html",
        "staticfiles.json",
        ".vite/manifest.json",
        "manifest.json",
    }
    phases = [o.phase for o in objects]
    assert phases == sorted(phases)
    assert rels[-3:] == ["staticfiles.json", ".vite/manifest.json", "manifest.json"]
    assert {o.phase for o in objects if o.rel in manifest.output_paths()} == {PHASE_HASHED}
    by_rel = {o.rel: o for o in objects}
    assert by_rel["sw.js"].phase == by_rel["index.html"].phase == PHASE_ENTRY
    assert by_rel["manifest.json"].phase == PHASE_MANIFEST


def test_headers_and_hashes_per_object(tmp_path: Path) -> None:
    manifest = make_build(tmp_path)
    by_rel = {o.rel: o for o in scan_build(tmp_path, manifest, rules=UploadRules())}
    js = manifest["js/main.js"]
    main = by_rel[js.path]
    assert (main.blake3, main.size) == (js.hash, js.size)
    assert main.cache_control == IMMUTABLE
    assert main.content_encoding is None
    br = by_rel[js.encodings["br"].path]
    assert (br.content_type, br.content_encoding) == ("text/javascript; charset=utf-8", "br")
    assert br.blake3 == blake3((tmp_path / br.rel).read_bytes()).hexdigest()
    sw_br = by_rel["sw.js.br"]  # a sibling the manifest does not list
    assert (sw_br.content_encoding, sw_br.cache_control) == ("br", "no-cache")
    assert sw_br.content_type == "text/javascript; charset=utf-8"


def test_rules_match_the_base_name_of_encoded_siblings(tmp_path: Path) -> None:
    manifest = make_build(tmp_path)
    rules = UploadRules(rules=(CacheRule("sw.js", "max-age=0"),))
    by_rel = {o.rel: o for o in scan_build(tmp_path, manifest, rules=rules)}
    assert by_rel["sw.js"].cache_control == by_rel["sw.js.br"].cache_control == "max-age=0"


def test_skip_mode_drops_every_precompressed_sibling(tmp_path: Path) -> None:
    manifest = make_build(tmp_path)
    objects = scan_build(tmp_path, manifest, rules=UploadRules(), precompressed="skip")
    assert objects
    assert all(o.content_encoding is None for o in objects)
    assert not [o for o in objects if o.rel.endswith((".br", ".gz"))]


def test_unrelated_gz_file_is_not_treated_as_a_sibling(tmp_path: Path) -> None:
    manifest = make_build(tmp_path)
    (tmp_path / "backup.tar.gz").write_bytes(b"\x1f\x8b archive")
    by_rel = {o.rel: o for o in scan_build(tmp_path, manifest, rules=UploadRules())}
    assert by_rel["backup.tar.gz"].content_encoding is None
    assert by_rel["backup.tar.gz"].phase == PHASE_ENTRY


def test_excluded_files_are_left_out(tmp_path: Path) -> None:
    manifest = make_build(tmp_path)
    (tmp_path / ".DS_Store").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    rels = {
        o.rel
        for o in scan_build(tmp_path, manifest, rules=UploadRules(), exclude=(".DS_Store", "*.txt"))
    }
    assert ".DS_Store" not in rels
    assert "notes.txt" not in rels


def test_a_dist_folder_named_like_the_state_dir_is_never_uploaded(tmp_path: Path) -> None:
    manifest = make_build(tmp_path)
    (tmp_path / ".asset-pipeline").mkdir()
    (tmp_path / ".asset-pipeline" / "index.json").write_text("{}")
    rels = {o.rel for o in scan_build(tmp_path, manifest, rules=UploadRules())}
    assert not [r for r in rels if r.startswith(".asset-pipeline/")]
    assert "manifest.json" in rels


def test_missing_file_named_by_the_manifest_is_an_error(tmp_path: Path) -> None:
    manifest = make_build(tmp_path)
    (tmp_path / manifest["js/util.js"].encodings["br"].path).unlink()
    with pytest.raises(InventoryError, match=r"util\..*\.js\.br.*HINT"):
        scan_build(tmp_path, manifest, rules=UploadRules())


def test_edited_output_is_an_error(tmp_path: Path) -> None:
    make_build(tmp_path)
    manifest = load_manifest(tmp_path)
    (tmp_path / manifest["css/app.css"].path).write_text("edited")
    with pytest.raises(InventoryError, match="does not match the manifest"):
        scan_build(tmp_path, manifest, rules=UploadRules())


def test_unknown_precompressed_mode_is_an_error(tmp_path: Path) -> None:
    manifest = make_build(tmp_path)
    with pytest.raises(InventoryError, match="HINT"):
        scan_build(tmp_path, manifest, rules=UploadRules(), precompressed="maybe")


def test_file_blake3_streams_large_files(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000
    (tmp_path / "big").write_bytes(data)
    assert file_blake3(tmp_path / "big") == blake3(data).hexdigest()

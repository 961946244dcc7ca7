"""RFC 9842 deltas written by the build: framing, history, reuse and the keep rule."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from asset_pipeline.build.dictionaries import DCZ_MAGIC, dcz_decode, dcz_encode, match_pattern
from asset_pipeline.config import BuildConfig
from asset_pipeline.config.load import config_from_mapping
from asset_pipeline.config.model import DictionaryConfig
from asset_pipeline.errors import ConfigError
from asset_pipeline.manifest import Manifest
from tests.asset_pipeline.build_support import dist_manifest, run, write_tree


def bundle(version: int, lines: int = 600) -> str:
    """A module big enough that a one-line change is a small fraction of it."""
    body = "\n".join(
        f"export function handler{i}(event) {{ return event.detail.value * {i} + {i % 7}; }}"
        for i in range(lines)
    )
    return f'export const VERSION = "{version}";\n{body}\n'


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def js(tmp: Path, manifest: Manifest, name: str = "js/app.js") -> bytes:
    return (tmp / "dist" / manifest[name].path).read_bytes()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write_tree(
        tmp_path / "src",
        {
            "js/app.js": bundle(1),
            "css/site.css": "body { color: #123456; margin: 0 auto; }\n" * 40,
            "img/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>\n',
        },
    )
    return tmp_path


def test_dcz_framing_follows_rfc_9842_section_5() -> None:
    old, new = bundle(1).encode(), bundle(2).encode()
    body = dcz_encode(old, new, 19)
    assert body[:8] == bytes([0x5E, 0x2A, 0x4D, 0x18, 0x20, 0x00, 0x00, 0x00]) == DCZ_MAGIC
    assert body[8:40] == hashlib.sha256(old).digest()
    assert dcz_decode(old, body) == new
    with pytest.raises(ValueError, match="another dictionary"):
        dcz_decode(new, body)
    with pytest.raises(ValueError, match="header is missing"):
        dcz_decode(old, body[8:])


def test_dcz_body_is_a_plain_zstd_stream_for_the_zstd_tool(tmp_path: Path) -> None:
    """The header is a skippable frame: the reference decoder with the old file as a
    dictionary restores the new file from the body as sent."""
    old, new = bundle(1).encode(), bundle(2).encode()
    (tmp_path / "dict").write_bytes(old)
    (tmp_path / "body.zst").write_bytes(dcz_encode(old, new, 19))
    out = subprocess.run(
        ["zstd", "-d", "-c", "-D", str(tmp_path / "dict"), str(tmp_path / "body.zst")],
        check=True,
        capture_output=True,
    ).stdout
    assert out == new


def test_match_pattern_escapes_url_pattern_syntax_and_percent_encodes() -> None:
    pattern = "{name}.{hash}{ext}"
    assert match_pattern("js/app.js", pattern) == "js/app.*.js"
    assert match_pattern("js/a(b)+c.js", pattern) == "js/a\\(b\\)\\+c.*.js"
    assert match_pattern("js/düsseldorf.js", pattern) == "js/d%C3%BCsseldorf.*.js"
    assert match_pattern("css/x.css", "{hash}/{name}{ext}") == "css/*/x.css"


def test_second_build_writes_a_delta_against_the_previous_version(tree: Path) -> None:
    first = run(tree).manifest
    v1 = js(tree, first)
    info1 = first["js/app.js"].dictionary
    assert info1 is not None
    assert (info1.sha256, info1.match, info1.match_dest) == (sha(v1), "js/app.*.js", ("script",))
    assert info1.history == ()
    assert dict(info1.deltas) == {}
    assert first["css/site.css"].dictionary is not None
    assert first["css/site.css"].dictionary.match_dest == ("style",)
    assert first["img/logo.svg"].dictionary is None  # not in the eligible globs

    (tree / "src" / "js" / "app.js").write_text(bundle(2))
    second = run(tree).manifest
    v2 = js(tree, second)
    info2 = second["js/app.js"].dictionary
    assert info2 is not None
    assert info2.history == (sha(v1),)
    variant = info2.deltas[sha(v1)]["dcz"]
    body = (tree / "dist" / variant.path).read_bytes()
    assert variant.size == len(body)
    assert dcz_decode(v1, body) == v2
    assert len(body) * 5 <= second["js/app.js"].encodings["br"].size
    assert variant.path in second.output_paths()
    # an unchanged file keeps its (empty) history and gets no delta
    assert second["css/site.css"].dictionary == first["css/site.css"].dictionary


def test_history_keeps_the_last_n_versions_and_rebuilds_reuse_deltas(tree: Path) -> None:
    versions: list[bytes] = []
    for v in range(1, 6):
        (tree / "src" / "js" / "app.js").write_text(bundle(v))
        result = run(tree, dictionaries=DictionaryConfig(versions=3))
        versions.append(js(tree, result.manifest))
    info = result.manifest["js/app.js"].dictionary
    assert info is not None
    assert info.history == tuple(sha(v) for v in reversed(versions[1:4]))
    assert set(info.deltas) == set(info.history)
    for old in versions[1:4]:
        body = (tree / "dist" / info.deltas[sha(old)]["dcz"].path).read_bytes()
        assert dcz_decode(old, body) == versions[-1]
    assert result.stats.deltas == 3

    # the same sources again: nothing to do at all
    again = run(tree, dictionaries=DictionaryConfig(versions=3))
    assert again.stats.up_to_date
    # another file changes: the JS deltas come from the cache; only the CSS one is new
    (tree / "src" / "css" / "site.css").write_text("body { color: red; }\n" * 40)
    other = run(tree, dictionaries=DictionaryConfig(versions=3))
    assert other.stats.deltas == 1
    assert other.stats.deltas_cached == 3
    assert other.manifest["js/app.js"].dictionary == info


def test_without_a_cache_the_previous_dist_provides_the_last_version(tree: Path) -> None:
    run(tree, cache_dir=None)
    v1 = js(tree, dist_manifest(tree))
    (tree / "src" / "js" / "app.js").write_text(bundle(2))
    run(tree, cache_dir=None)
    (tree / "src" / "js" / "app.js").write_text(bundle(3))
    third = run(tree, cache_dir=None).manifest
    info = third["js/app.js"].dictionary
    assert info is not None
    assert info.history[1] == sha(v1)
    # v1's bytes are gone (no cache, not in DIST): only the delta against v2 exists
    assert list(info.deltas) == [info.history[0]]


def test_the_cache_keeps_the_versions_dist_no_longer_holds(tree: Path) -> None:
    """The version a build replaces goes to the cache as it leaves DIST; with DIST wiped
    (only its manifest kept), the older version still gets a delta from the cache."""
    run(tree)
    v1 = js(tree, dist_manifest(tree))
    (tree / "src" / "js" / "app.js").write_text(bundle(2))
    run(tree)  # v1 leaves DIST here: kept in the cache
    manifest_v2 = (tree / "dist" / "manifest.json").read_bytes()
    shutil.rmtree(tree / "dist")
    (tree / "dist").mkdir()
    (tree / "dist" / "manifest.json").write_bytes(manifest_v2)  # only the manifest kept
    (tree / "src" / "js" / "app.js").write_text(bundle(3))
    info = run(tree).manifest["js/app.js"].dictionary
    assert info is not None
    assert info.history[1] == sha(v1)
    assert set(info.deltas) == {sha(v1)}  # v2 was in DIST only, and DIST is gone


def test_a_delta_not_clearly_smaller_than_brotli_is_dropped(tree: Path) -> None:
    run(tree)
    (tree / "src" / "js" / "app.js").write_text(bundle(2))
    strict = DictionaryConfig(min_saving=0.999)
    info = run(tree, dictionaries=strict).manifest["js/app.js"].dictionary
    assert info is not None
    assert len(info.history) == 1
    assert dict(info.deltas) == {}
    assert not list((tree / "dist").rglob("*.dcz"))


def test_turned_off_the_manifest_and_dist_are_as_before(tree: Path) -> None:
    off = DictionaryConfig(versions=0)
    run(tree, dictionaries=off)
    (tree / "src" / "js" / "app.js").write_text(bundle(2))
    manifest = run(tree, dictionaries=off).manifest
    assert all(e.dictionary is None for e in manifest.files.values())
    assert "dictionary" not in (tree / "dist" / "manifest.json").read_text()
    assert not list((tree / "dist").rglob("*.dcz"))


def test_a_previous_build_without_history_starts_one(tree: Path) -> None:
    run(tree, dictionaries=DictionaryConfig(versions=0))
    v1 = js(tree, dist_manifest(tree))
    (tree / "src" / "js" / "app.js").write_text(bundle(2))
    info = run(tree).manifest["js/app.js"].dictionary
    assert info is not None
    assert info.history == (sha(v1),)
    assert sha(v1) in info.deltas


def test_bundler_hashed_names_take_no_part(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"js/index-BfT4x2aQ.js": bundle(1)})
    manifest = run(tmp_path).manifest
    assert manifest["js/index-BfT4x2aQ.js"].dictionary is None


def test_config_table(tmp_path: Path) -> None:
    def load(value: object) -> BuildConfig:
        return config_from_mapping({"dictionaries": value}, root=tmp_path, source="t.toml")

    assert load(False).dictionaries.versions == 0
    assert load(True).dictionaries == DictionaryConfig()
    custom = load({"versions": 2, "globs": ["*.js"], "zstd_level": 15, "min_saving": 0.5})
    assert custom.dictionaries == DictionaryConfig(
        versions=2, globs=("*.js",), zstd_level=15, min_saving=0.5
    )
    with pytest.raises(ConfigError, match=r"unknown key\(s\).*: level.*HINT"):
        load({"level": 3})
    with pytest.raises(ConfigError, match=r"dictionaries\.versions must be 0 to 20"):
        load({"versions": -1})
    with pytest.raises(ConfigError, match=r"dictionaries\.globs"):
        load({"globs": "*.js"})
    with pytest.raises(ConfigError, match=r"dictionaries\.zstd_level"):
        load({"zstd_level": 30})
    with pytest.raises(ConfigError, match=r"dictionaries\.min_saving"):
        load({"min_saving": 1.5})
    with pytest.raises(ConfigError, match="dictionaries must be true/false or a table"):
        load(3)


def test_history_source_settings(tmp_path: Path) -> None:
    def load(value: object) -> BuildConfig:
        return config_from_mapping({"dictionaries": value}, root=tmp_path, source="t.toml")

    table = {
        "history_from": "s3://assets/static",
        "history_endpoint_url": "http://127.0.0.1:9000",
        "history_region": "eu-west-1",
        "history_addressing_style": "path",
    }
    assert load(table).dictionaries == DictionaryConfig(
        history_from="s3://assets/static",
        history_endpoint_url="http://127.0.0.1:9000",
        history_region="eu-west-1",
        history_addressing_style="path",
    )
    with pytest.raises(
        ConfigError, match=r"history_from: 'https://assets/x' is not an s3://.*HINT"
    ):
        load({"history_from": "https://assets/x"})
    with pytest.raises(ConfigError, match=r"history_from: 's3:///static' is not an s3://"):
        load({"history_from": "s3:///static"})
    with pytest.raises(ConfigError, match=r"dictionaries\.history_endpoint_url must be a string"):
        load({"history_endpoint_url": 9000})
    with pytest.raises(ConfigError, match=r"dictionaries\.history_addressing_style must be one of"):
        load({"history_addressing_style": "dns"})


def test_recorded_paths_never_read_outside_dist(tmp_path: Path) -> None:
    """A manifest from the bucket names where versions were published; a path that climbs
    out of DIST is not read, even when the file there has the recorded hash."""
    from asset_pipeline.build.cache import BuildCache
    from asset_pipeline.build.dictionaries import _Versions

    secret = b"outside the build\n"
    (tmp_path / "secret.txt").write_bytes(secret)
    (tmp_path / "dist" / "js").mkdir(parents=True)
    (tmp_path / "dist" / "js" / "app.1.js").write_bytes(secret)
    versions = _Versions(BuildCache(None), tmp_path / "dist", None, [])
    wanted = {sha(secret): "../secret.txt"}
    assert versions.find(wanted) == {}
    assert versions.find({sha(secret): str(tmp_path / "secret.txt")}) == {}
    assert versions.find({sha(secret): "js/app.1.js"}) == {sha(secret): secret}

"""The manifest schema: the one contract between the build and the runtime."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from asset_pipeline.manifest import (
    EncodedVariant,
    ImageAlternate,
    Manifest,
    ManifestEntry,
    ManifestError,
    load_manifest,
    manifest_from_dict,
    write_manifest,
)


def _manifest() -> Manifest:
    css = ManifestEntry(
        path="css/app.0123456789.css",
        size=120,
        content_type="text/css; charset=utf-8",
        hash="ab" * 32,
        integrity="sha384-xyz",
        fingerprinted=True,
        encodings={"br": EncodedVariant("css/app.0123456789.css.br", 40)},
        dependencies=("img/a.png", "js/app.js"),
    )
    img = ManifestEntry(
        path="img/a.9876543210.png",
        size=900,
        content_type="image/png",
        hash="cd" * 32,
        integrity="sha384-abc",
        fingerprinted=True,
        alternates=(ImageAlternate("webp", "image/webp", "img/a.1111111111.webp", 300, 64, 32),),
        width=64,
        height=32,
    )
    js = ManifestEntry(
        path="js/app.5555555555.js",
        size=10,
        content_type="text/javascript; charset=utf-8",
        hash="ef" * 32,
        integrity="sha384-def",
        fingerprinted=True,
        module=True,
    )
    return Manifest(files={"css/app.css": css, "img/a.png": img, "js/app.js": js}, build_id="b1")


def test_round_trip_through_disk_keeps_every_field(tmp_path: Path) -> None:
    original = _manifest()
    path = write_manifest(original, tmp_path)
    assert load_manifest(tmp_path) == original
    assert load_manifest(path) == original
    # readable by the web server's user, not only by the build's
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".manifest.")]


def test_output_paths_lists_every_file_the_build_wrote() -> None:
    assert _manifest().output_paths() == {
        "css/app.0123456789.css",
        "css/app.0123456789.css.br",
        "img/a.9876543210.png",
        "img/a.1111111111.webp",
        "js/app.5555555555.js",
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected a JSON object"),
        ({"version": 99, "files": {}}, "schema version 99 is not supported"),
        ({"version": 1}, "missing field 'files'"),
        ({"version": 1, "files": {"a.css": {"path": "a.css"}}}, "missing field 'size'"),
        (
            {
                "version": 1,
                "files": {
                    "a.css": {
                        "path": "a.css",
                        "size": True,
                        "content_type": "text/css",
                        "hash": "x",
                        "integrity": "y",
                        "fingerprinted": False,
                    }
                },
            },
            "'size' has the wrong type",
        ),
        (
            {
                "version": 1,
                "files": {
                    "a.js": {
                        "path": "a.js",
                        "size": 1,
                        "content_type": "text/javascript",
                        "hash": "x",
                        "integrity": "y",
                        "fingerprinted": False,
                        "module": "yes",
                    }
                },
            },
            "'module' has the wrong type",
        ),
    ],
)
def test_schema_violations_name_the_field(data: object, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        manifest_from_dict(data)


def test_missing_and_corrupt_files_give_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"no manifest.*HINT: run `asset-pipeline build"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(tmp_path)


def test_django_and_vite_shapes() -> None:
    manifest = _manifest()
    django = manifest.django_staticfiles()
    assert django["paths"]["css/app.css"] == "css/app.0123456789.css"
    assert django["version"] == "1.1"
    vite = manifest.vite_manifest()
    assert vite["css/app.css"] == {
        "file": "css/app.0123456789.css",
        "src": "css/app.css",
        "imports": ["js/app.js"],
    }
    json.dumps(vite)  # serialisable as written by the build
    assert json.loads(manifest.to_json())["files"]["img/a.png"]["alternates"][0]["width"] == 64


def test_dictionary_info_round_trips_and_lists_its_deltas() -> None:
    from asset_pipeline.manifest import DictionaryInfo, urlpattern_literal

    info = DictionaryInfo(
        sha256="ab" * 32,
        match="js/app.*.js",
        match_dest=("script",),
        history=("cd" * 32,),
        deltas={"cd" * 32: {"dcz": EncodedVariant("js/app.1.js.cdcdcdcdcdcdcdcd.dcz", 90)}},
        history_paths={"cd" * 32: "js/app.0.js"},
    )
    entry = ManifestEntry(
        path="js/app.1.js",
        size=10,
        content_type="text/javascript",
        hash="00",
        integrity="sha384-x",
        fingerprinted=True,
        dictionary=info,
    )
    manifest = Manifest(files={"js/app.js": entry})
    again = manifest_from_dict(json.loads(manifest.to_json()))
    assert again["js/app.js"].dictionary == info
    assert "js/app.1.js.cdcdcdcdcdcdcdcd.dcz" in again.output_paths()
    assert info.match_under("/static") == "/static/js/app.*.js"
    assert info.match_under("/") == "/js/app.*.js"
    assert info.path_of("cd" * 32, "js/app.1.js") == "js/app.0.js"
    assert info.path_of("ab" * 32, "js/app.1.js") == "js/app.1.js"
    assert info.path_of("ef" * 32, "js/app.1.js") is None
    assert urlpattern_literal("/a b/{x}(y)") == "/a%20b/%7Bx%7D\\(y\\)"
    bad = json.loads(manifest.to_json())
    bad["files"]["js/app.js"]["dictionary"]["deltas"] = ["x"]
    with pytest.raises(ManifestError, match="'deltas' must map a SHA-256"):
        manifest_from_dict(bad)
    bad["files"]["js/app.js"]["dictionary"] = {"sha256": "x", "match": "m", "history": "h"}
    with pytest.raises(ManifestError, match="'history' must be a list of strings"):
        manifest_from_dict(bad)
    bad["files"]["js/app.js"]["dictionary"] = {"sha256": "x", "match": "m", "history_paths": [1]}
    with pytest.raises(ManifestError, match="'history_paths' must map strings to strings"):
        manifest_from_dict(bad)
    bad["files"]["js/app.js"]["dictionary"] = "x"
    with pytest.raises(ManifestError, match="dictionary: expected an object"):
        manifest_from_dict(bad)


def test_an_empty_manifest_is_valid_json_with_its_header_fields() -> None:
    text = Manifest(files={}, build_id="b1", url_prefix="/s/").to_json()
    assert json.loads(text) == {
        "version": 1,
        "generator": "asset-pipeline",
        "build_id": "b1",
        "url_prefix": "/s/",
        "files": {},
    }
    assert text.endswith('  "files": {}\n}\n')

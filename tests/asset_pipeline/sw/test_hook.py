"""``asset-pipeline build`` writes sw.js when [tool.asset-pipeline.service-worker] enables it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from asset_pipeline.cli import main
from asset_pipeline.manifest import load_manifest
from tests.asset_pipeline.build_support import write_tree

SOURCES = {
    "css/app.css": "body { background: url(../img/dot.svg); color: #123456; }\n",
    "img/dot.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect/></svg>\n',
    "js/app.js": "export const answer = 42;\n",
    "offline.html": "<!doctype html><title>Offline</title><p>offline</p>\n",
}


def project(tmp_path: Path, table: str) -> Path:
    write_tree(tmp_path / "src", SOURCES)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.asset-pipeline]\nsrc = "src"\nout = "dist"\ncache_dir = false\njobs = 1\n\n'
        f"[tool.asset-pipeline.service-worker]\n{table}\n"
    )
    return pyproject


def worker_config(dist: Path) -> dict:
    source = (dist / "sw.js").read_text()
    start = re.search(r"const CONFIG ?= ?", source).end()
    data, _ = json.JSONDecoder().raw_decode(source, start)
    return data


def test_build_writes_the_worker_for_the_real_build(tmp_path: Path, capsys):
    pyproject = project(tmp_path, 'enabled = true\noffline_page = "offline.html"')
    assert main(["build", "--config", str(pyproject), "-q"]) == 0
    dist = tmp_path / "dist"
    manifest = load_manifest(dist)
    data = worker_config(dist)
    urls = {p["url"] for p in data["precache"]}
    assert urls == {
        "/static/" + manifest[name].path
        for name in ("css/app.css", "js/app.js", "offline.html", "sw-register.js")
    }
    assert data["offline"] == "/static/" + manifest["offline.html"].path
    assert "sw.js" not in {e.path for e in manifest.files.values()}  # unhashed, not an asset
    first = data["version"]
    # a rebuild with a changed stylesheet yields a new worker version
    (tmp_path / "src/css/app.css").write_text("body { color: #654321; }\n")
    assert main(["build", "--config", str(pyproject), "-q"]) == 0
    assert worker_config(dist)["version"] != first


def test_build_without_the_table_enabled_writes_no_worker(tmp_path: Path):
    pyproject = project(tmp_path, "enabled = false")
    assert main(["build", "--config", str(pyproject), "-q"]) == 0
    assert not (tmp_path / "dist/sw.js").exists()
    assert (tmp_path / "dist/manifest.json").exists()


def test_build_fails_clearly_when_a_precache_url_is_not_in_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    pyproject = project(tmp_path, 'enabled = true\nprecache = ["*.css", "js/missing.js"]')
    code = main(["build", "--config", str(pyproject), "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "js/missing.js" in err
    assert "/static/js/missing.js" in err
    assert "HINT:" in err
    assert "Traceback" not in err
    assert not (tmp_path / "dist").exists()  # a failed build leaves DIST untouched


def test_build_reports_a_bad_service_worker_table(tmp_path: Path, capsys):
    pyproject = project(tmp_path, 'enabled = true\nstrategy = "cache-first"')
    assert main(["build", "--config", str(pyproject), "-q"]) == 1
    err = capsys.readouterr().err
    assert "unknown key 'strategy'" in err
    assert "[tool.asset-pipeline.service-worker]" in err

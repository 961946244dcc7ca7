"""Whole-tree check: build a generated site plus the example app's static files, then
follow every reference in every output and require it to land on a built file."""

from __future__ import annotations

import posixpath
import shutil
from pathlib import Path
from urllib.parse import unquote

from asset_pipeline.build import build
from asset_pipeline.config import BuildConfig
from asset_pipeline.manifest import load_manifest
from asset_pipeline.refs import split_suffix
from asset_pipeline.refs.graph import resolve, scanner_for
from tests.asset_pipeline.build_support import SVG, write_tree

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "starlette_app" / "static"


def generated_site(root: Path, modules: int = 40) -> None:
    files: dict[str, str | bytes] = {}
    for i in range(modules):
        deps = [f"./m{j}.js" for j in (i * 3 + 1, i * 7 + 2) if j < modules]
        imports = "".join(f"import * as d{k} from '{d}';\n" for k, d in enumerate(deps))
        last = f"/static/gen/js/m{modules - 1}.js"
        lazy = f"export default () => import('{last}');\n" if i < modules - 1 else ""
        files[f"gen/js/m{i}.js"] = (
            f"{imports}const s = `import('./not-real-{i}.js')`;\n"
            f"export const icon = new URL('../img/i{i % 5}.svg', import.meta.url);\n{lazy}"
        )
    for i in range(5):
        files[f"gen/img/i{i}.svg"] = SVG.replace("<rect/>", f"<rect width='{i}'/>")
    files["gen/css/site.css"] = (
        '@import "parts/a.css" screen;\n'
        "/* url(nope.svg) */\n"
        ".a{background:image-set('../img/i0.svg' 1x, url(/static/gen/img/i1.svg) 2x)}\n"
        ".b{background:url(../img/i2.svg?x=1#f)}\n"
    )
    files["gen/css/parts/a.css"] = ".c{background:url('../../img/i3.svg')}\n"
    files["gen/css/parts/b.css"] = ".d{}\n/*# sourceMappingURL=b.css.map */\n"
    files["gen/css/parts/b.css.map"] = '{"version":3,"sources":[],"mappings":""}'
    write_tree(root, files)


def test_every_reference_in_the_built_tree_resolves(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(EXAMPLE, src)
    generated_site(src)
    config = BuildConfig(src=src, out=tmp_path / "dist", cache_dir=tmp_path / "cache", jobs=2)
    result = build(config)
    dist = tmp_path / "dist"
    manifest = load_manifest(dist)
    assert manifest == result.manifest
    built = manifest.output_paths()
    assert all((dist / p).is_file() for p in built)

    checked = 0
    for name, entry in manifest.files.items():
        if scanner_for(entry.path) is None:
            continue
        find = scanner_for(entry.path)
        assert find is not None
        text = (dist / entry.path).read_text(encoding="utf-8")
        for ref in find(text):
            res = resolve(ref, entry.path, manifest.url_prefix)
            if res is None:
                continue
            path, _ = split_suffix(ref.url)
            assert res.target in built, f"{name}: {ref.url!r} -> {res.target} not built"
            assert posixpath.basename(unquote(path)) == posixpath.basename(res.target)
            checked += 1
        for dep in entry.dependencies:
            assert dep in manifest.files
    assert checked > 100
    # The sourcemap survived with its hashed name; the comment in a string did not count.
    b_css = (dist / manifest["gen/css/parts/b.css"].path).read_text()
    assert manifest["gen/css/parts/b.css.map"].path.rsplit("/", 1)[-1] in b_css
    site = (dist / manifest["gen/css/site.css"].path).read_text()
    assert "url(nope.svg)" not in site  # minified away, not rewritten

"""End to end: a real build with photos, a logo, an icon font subset by usage, and CSS."""

from __future__ import annotations

import io
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import Image

from asset_pipeline.usage import ALWAYS_INCLUDED
from tests.asset_pipeline.build_support import output_text, run, write_tree
from tests.asset_pipeline.processors.test_fonts import ICON, build_font
from tests.asset_pipeline.processors.test_images import encode, logo, photo

CSS = """@font-face {
  font-family: "Icons";
  src: url("../fonts/icons.ttf") format("truetype");
  font-display: swap;
}
/* .unused:before { content: "\\f016"; } */
.home:before { font-family: Icons; content: "\\f015"; }
.hero { background: url(../img/hero.jpg) center / cover; }
.brand { background-image: url("../img/logo.png"); }
"""

PROCESSORS = {
    "images": {"widths": [100, 400], "rules": [{"glob": "img/logo.png", "formats": ["webp"]}]},
    "fonts": {
        "subset_by_usage": True,
        "content": ["templates/**/*.html"],
        "unicode_range_descriptor": True,
    },
}


def cmap(path: Path) -> set[int]:
    return set(TTFont(io.BytesIO(path.read_bytes())).getBestCmap())


def make_tree(tmp: Path, page: str = "<h1>Hello</h1>") -> None:
    write_tree(
        tmp,
        {
            "src/css/app.css": CSS,
            "src/img/hero.jpg": encode(photo((200, 100)), "JPEG", quality=90),
            "src/img/logo.png": encode(logo(), "PNG"),
            "src/fonts/icons.ttf": build_font(),
            "templates/index.html": page,
        },
    )


def test_build_with_images_font_and_css(tmp_path: Path) -> None:
    make_tree(tmp_path)
    result = run(tmp_path, processors=PROCESSORS)
    m = result.manifest
    dist = tmp_path / "dist"

    font = m["fonts/icons.ttf"]
    assert font.path.endswith(".woff2")
    assert font.content_type == "font/woff2"
    kept = cmap(dist / font.path)
    assert {ord(c) for c in "Helo"} | {ICON} <= kept  # template text + CSS content escape
    assert ALWAYS_INCLUDED & set(range(0x30, 0x3A)) <= kept
    assert ord("Z") not in kept
    assert 0xF016 not in kept  # only mentioned inside a CSS comment
    assert font.unicode_range is not None
    assert "U+F015" in font.unicode_range

    css = output_text(tmp_path, m, "css/app.css")
    woff2_name = font.path.rsplit("/", 1)[-1]
    assert woff2_name in css
    assert 'format("woff2")' in css
    assert f"unicode-range:{font.unicode_range}" in css
    assert ".ttf" not in css

    hero = m["img/hero.jpg"]
    assert (hero.width, hero.height) == (200, 100)
    assert hero.path.rsplit("/", 1)[-1] in css
    seen = {(a.format, a.width) for a in hero.alternates}
    assert {("jpeg", 100), ("webp", 200), ("webp", 100)} <= seen
    assert all(a.width < 400 for a in hero.alternates)  # never upscaled
    for alt in hero.alternates:
        data = (dist / alt.path).read_bytes()
        assert len(data) == alt.size
        assert Image.open(io.BytesIO(data)).size == (alt.width, alt.height)
        if alt.format in ("webp", "avif"):
            fallback = (
                hero.size
                if alt.width == 200
                else next(
                    a.size for a in hero.alternates if a.format == "jpeg" and a.width == alt.width
                )
            )
            assert alt.size < fallback
    assert {a.content_type for a in hero.alternates} <= {"image/webp", "image/avif", "image/jpeg"}

    brand = m["img/logo.png"]
    # the glob rule allows WebP only; an 80 px logo gets no 100/400 px variants
    assert [(a.format, a.width) for a in brand.alternates] == [("webp", 80)]


def test_rebuild_reuses_the_subset_until_the_content_changes(tmp_path: Path) -> None:
    make_tree(tmp_path)
    first = run(tmp_path, processors=PROCESSORS)
    again = run(tmp_path, processors=PROCESSORS)
    assert again.stats.processed == 0
    assert again.manifest["fonts/icons.ttf"].path == first.manifest["fonts/icons.ttf"].path

    (tmp_path / "templates" / "index.html").write_text("<h1>Hello Zoe</h1>", encoding="utf-8")
    changed = run(tmp_path, processors=PROCESSORS)
    font = changed.manifest["fonts/icons.ttf"]
    assert font.path != first.manifest["fonts/icons.ttf"].path
    assert {ord("Z"), ord("H")} <= cmap(tmp_path / "dist" / font.path)
    # the CSS that references the font changed name too (hash after rewriting)
    assert changed.manifest["css/app.css"].path != first.manifest["css/app.css"].path


def test_a_corrupt_image_fails_the_build_with_its_name(tmp_path: Path) -> None:
    import pytest

    from asset_pipeline.build import BuildError

    make_tree(tmp_path)
    (tmp_path / "src" / "img" / "hero.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(BuildError) as err:
        run(tmp_path, processors=PROCESSORS)
    assert "img/hero.jpg" in str(err.value)
    assert "HINT" in str(err.value)
    assert not (tmp_path / "dist").exists()


def test_woff_fallback_is_written_and_listed_in_font_face(tmp_path: Path) -> None:
    make_tree(tmp_path)
    result = run(tmp_path, processors={"fonts": {"woff_fallback": True}})
    font = result.manifest["fonts/icons.ttf"]
    (woff,) = font.alternates
    assert (woff.format, woff.content_type) == ("woff", "font/woff")
    assert (tmp_path / "dist" / woff.path).read_bytes()[:4] == b"wOFF"
    assert cmap(tmp_path / "dist" / font.path) == cmap(tmp_path / "dist" / woff.path)
    css = output_text(tmp_path, result.manifest, "css/app.css")
    woff2_name = font.path.rsplit("/", 1)[-1]
    woff_name = woff.path.rsplit("/", 1)[-1]
    assert f'{woff2_name}") format("woff2"), url("../fonts/{woff_name}") format("woff")' in css
    assert font.unicode_range is None  # not asked for
    assert "unicode-range" not in css


def test_process_pool_build_matches_the_serial_one(tmp_path: Path) -> None:
    serial, pooled = tmp_path / "serial", tmp_path / "pooled"
    for root in (serial, pooled):
        make_tree(root)
    a = run(serial, processors=PROCESSORS).manifest
    b = run(pooled, processors=PROCESSORS, jobs=2).manifest
    for name in ("fonts/icons.ttf", "img/hero.jpg", "img/logo.png", "css/app.css"):
        assert a[name].path == b[name].path  # same bytes, same fingerprints
        assert a[name].alternates == b[name].alternates
    assert a["fonts/icons.ttf"].unicode_range == b["fonts/icons.ttf"].unicode_range

"""Fonts inside the build: the usage-scan hook and the ``@font-face`` finishing step."""

from __future__ import annotations

from pathlib import Path

import pytest

from asset_pipeline.build import BuildError, BuildPlan
from asset_pipeline.config import BuildConfig
from asset_pipeline.font_build import FontFace, finish_font_faces, scan_usage
from asset_pipeline.graph import Graph
from asset_pipeline.usage import ALWAYS_INCLUDED

FACE = FontFace("icons.0123456789.woff2", "U+20-7E, U+F015", None)


def test_unicode_range_added_to_the_matching_block_only() -> None:
    css = (
        '@font-face { font-family: "Icons"; src: url("../fonts/icons.0123456789.woff2") '
        'format("woff2"); }\n'
        '@font-face { font-family: "Other"; src: url(other.woff2); }\n'
    )
    out = finish_font_faces(css, [FACE])
    first, second = out.split("\n")[:2]
    assert first.endswith('format("woff2");unicode-range:U+20-7E, U+F015 }')
    assert "unicode-range" not in second


def test_minified_block_without_trailing_semicolon() -> None:
    css = "@font-face{font-family:I;src:url(icons.0123456789.woff2)format(woff2)}a{b:c}"
    assert finish_font_faces(css, [FACE]) == (
        "@font-face{font-family:I;src:url(icons.0123456789.woff2)format(woff2)"
        ";unicode-range:U+20-7E, U+F015}a{b:c}"
    )


def test_comments_strings_and_existing_ranges_are_left_alone() -> None:
    css = (
        "/* @font-face { src: url(icons.0123456789.woff2) } */\n"
        '.x:before { content: "@font-face {"; }\n'
        "@font-face { src: url(icons.0123456789.woff2); unicode-range: U+0-FF; }\n"
    )
    assert finish_font_faces(css, [FACE]) == css


def test_woff_fallback_url_follows_the_woff2_one() -> None:
    face = FontFace("a.1111111111.woff2", None, "a.2222222222.woff")
    css = "@font-face{src:url('/static/f/a.1111111111.woff2') format('woff2');}"
    assert finish_font_faces(css, [face]) == (
        "@font-face{src:url('/static/f/a.1111111111.woff2') format('woff2'), "
        "url('/static/f/a.2222222222.woff') format(\"woff\");}"
    )


def plan_for(tmp: Path, fonts: dict[str, object], sources: dict[str, bytes]) -> BuildPlan:
    config = BuildConfig(src=tmp / "src", out=tmp / "dist", root=tmp, processors={"fonts": fonts})
    names = sorted(sources)
    return BuildPlan(config, tmp / "src", names, sources, {}, Graph({}, ()), names)


def test_scan_usage_combines_content_globs_and_the_builds_own_css(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text("<h1>Grüße</h1>", encoding="utf-8")
    sources = {
        "css/icons.css": b'.home:before { content: "\\f015"; }',
        "fonts/icons.ttf": b"",
        "fonts/text.ttf": b"",
    }
    plan = plan_for(
        tmp_path,
        {
            "subset_by_usage": True,
            "content": ["templates/**/*.html"],
            "rules": [{"glob": "fonts/text.ttf", "subset_by_usage": False}],
        },
        sources,
    )
    scan_usage(plan)
    assert set(plan.used_codepoints) == {"fonts/icons.ttf"}
    used = plan.used_codepoints["fonts/icons.ttf"]
    assert {ord(c) for c in "Grüße"} | {0xF015} | ALWAYS_INCLUDED <= used
    assert ord("Z") not in used


def test_scan_usage_reports_bad_globs_as_build_errors(tmp_path: Path) -> None:
    plan = plan_for(
        tmp_path,
        {"subset_by_usage": True, "content": ["nowhere/*.html"]},
        {"fonts/a.ttf": b""},
    )
    with pytest.raises(BuildError) as err:
        scan_usage(plan)
    assert err.value.problems[0].startswith("fonts/a.ttf: ")
    assert "match no file" in err.value.problems[0]
    plan = plan_for(tmp_path, {"subset_by_usage": True, "content": "x"}, {"fonts/a.ttf": b""})
    with pytest.raises(BuildError, match="must be a list of glob strings"):
        scan_usage(plan)


def test_usage_inputs_lists_the_content_files_for_the_up_to_date_check(tmp_path: Path) -> None:
    from asset_pipeline.font_build import usage_inputs

    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "a.html").write_text("<p>A</p>", encoding="utf-8")
    config = BuildConfig(
        root=tmp_path,
        processors={"fonts": {"subset_by_usage": True, "content": ["templates/*.html"]}},
    )
    found = usage_inputs(config, ["fonts/a.ttf", "css/app.css"])
    assert list(found.values()) == [b"<p>A</p>"]
    assert all(key.startswith("\0usage:") for key in found)  # cannot collide with SRC names
    assert usage_inputs(config, ["css/app.css"]) == {}  # no font, nothing to watch

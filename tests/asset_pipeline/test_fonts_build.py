"""Fonts inside the build: the usage-scan hook and the ``@font-face`` finishing step."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from asset_pipeline.build import BuildError, BuildPlan
from asset_pipeline.config import BuildConfig
from asset_pipeline.font_build import FontFace, finish_font_faces, scan_usage
from asset_pipeline.graph import Graph
from asset_pipeline.usage import ALWAYS_INCLUDED, UsageScanError, scan_paths
from tests.asset_pipeline.build_support import run, snapshot, write_tree
from tests.asset_pipeline.test_fonts import build_font

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


SECRET_PAGE = "<p>AWS_SECRET_ACCESS_KEY=do-not-read</p>"
USAGE_FONTS = {"subset_by_usage": True, "content": ["templates/**/*.html"]}


def usage_project(root: Path) -> Path:
    write_tree(
        root,
        {
            "src/fonts/icons.ttf": build_font(),
            "src/css/app.css": '@font-face { font-family: I; src: url("../fonts/icons.ttf"); }',
            "templates/index.html": "<h1>Hello</h1>",
        },
    )
    return root


def test_a_fifo_matching_the_content_globs_fails_the_build_instead_of_hanging_it(
    tmp_path: Path,
) -> None:
    usage_project(tmp_path)
    run(tmp_path, processors={"fonts": USAGE_FONTS})
    before = snapshot(tmp_path / "dist")
    fifo = tmp_path / "templates/pipe.html"
    os.mkfifo(fifo)
    unblock = threading.Timer(20, lambda: fifo.open("wb").close())  # a hang ends, as a failure
    unblock.daemon = True
    unblock.start()
    try:
        with pytest.raises(BuildError) as err:
            run(tmp_path, processors={"fonts": USAGE_FONTS})
    finally:
        unblock.cancel()
    [problem] = err.value.problems
    assert problem.startswith(f"{fifo}: a FIFO, not a regular file")
    assert snapshot(tmp_path / "dist") == before


def test_content_files_reached_through_links_out_of_the_project_are_refused(
    tmp_path: Path,
) -> None:
    project = usage_project(tmp_path / "project")
    write_tree(tmp_path / "elsewhere", {"leak.html": SECRET_PAGE, "pages/a.html": SECRET_PAGE})
    (project / "shared").mkdir()
    (project / "shared/footer.html").write_text("<p>Footer</p>")
    (project / "templates/footer.html").symlink_to("../shared/footer.html")  # inside: fine
    run(project, processors={"fonts": USAGE_FONTS})
    (project / "templates/leak.html").symlink_to(tmp_path / "elsewhere/leak.html")
    (project / "templates/more").symlink_to(tmp_path / "elsewhere/pages")
    fonts = {**USAGE_FONTS, "content": ["templates/**/*.html", "templates/*/*.html"]}
    with pytest.raises(BuildError) as err:
        run(project, processors={"fonts": fonts})
    text = "\n".join(err.value.problems)
    assert f"{project / 'templates/leak.html'}: symbolic link to " in text
    assert str(tmp_path / "elsewhere/leak.html") in text
    assert str(tmp_path / "elsewhere/pages") in text
    assert "allow_symlink_targets" in text
    allowed = (tmp_path / "elsewhere",)
    run(project, processors={"fonts": fonts}, allow_symlink_targets=allowed)


def test_scan_paths_refuses_special_files_and_links_out_of_root(tmp_path: Path) -> None:
    write_tree(tmp_path / "root", {"t/a.html": "<p>A</p>"})
    os.mkfifo(tmp_path / "root/t/pipe.html")
    (tmp_path / "root/t/env.html").symlink_to("/proc/self/environ")
    with pytest.raises(UsageScanError) as err:
        scan_paths(tmp_path / "root", ["t/*.html"])
    message = str(err.value)
    assert "pipe.html: a FIFO" in message
    assert "env.html: symbolic link to /proc/" in message

"""Fonts inside the build: the usage-scan hook and the ``@font-face`` finishing step."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from asset_pipeline.build import BuildError, BuildHooks, BuildPlan
from asset_pipeline.build.fonts import FontFace, finish_font_faces, scan_usage
from asset_pipeline.config import BuildConfig
from asset_pipeline.refs.graph import Graph
from asset_pipeline.usage import ALWAYS_INCLUDED, UsageScanError, scan_paths
from tests.asset_pipeline.build_support import output_text, run, snapshot, write_tree
from tests.asset_pipeline.processors.test_fonts import build_font

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
    from asset_pipeline.build.fonts import usage_inputs

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


def _font_tree(tmp_path: Path) -> dict[str, bytes]:
    """A package as font packages ship: the WOFF2 plus TTF/WOFF fallbacks of one font in
    one ``@font-face`` src list, and a TTF that has no WOFF2 beside it."""
    import io

    from fontTools.ttLib import TTFont

    from tests.asset_pipeline.processors.test_fonts import build_font

    ttf = build_font()
    flavoured: dict[str, bytes] = {}
    for flavor in ("woff", "woff2"):
        font = TTFont(io.BytesIO(ttf))
        font.flavor = flavor
        buf = io.BytesIO()
        font.save(buf)
        flavoured[flavor] = buf.getvalue()
    css = (
        '@font-face{font-family:Icons;src:url(../fonts/icons.woff2) format("woff2"),'
        'url(../fonts/icons.woff) format("woff"),url(../fonts/icons.ttf) format("truetype")}\n'
        '@font-face{font-family:Solo;src:url(../fonts/solo.ttf) format("truetype")}\n'
    )
    files = {
        "css/app.css": css.encode(),
        "fonts/icons.ttf": ttf,
        "fonts/icons.woff": flavoured["woff"],
        "fonts/icons.woff2": flavoured["woff2"],
        "fonts/solo.ttf": ttf,
    }
    write_tree(tmp_path / "src", dict(files))
    return files


def test_fallbacks_of_a_shipped_woff2_are_answered_by_it_not_converted(tmp_path: Path) -> None:
    """A TTF/WOFF whose WOFF2 already sits beside it is the fallback entry of a src list:
    converting it would only make the WOFF2 again. Its logical name maps to the shipped
    WOFF2, so every URL of the list names that one file and no fallback is published,
    while a TTF with no WOFF2 is still converted."""
    files = _font_tree(tmp_path)
    ran: list[str] = []
    hooks = BuildHooks(on_process=[lambda name, kind: ran.append(name)])
    m = run(tmp_path, hooks=hooks).manifest
    assert "fonts/solo.ttf" in ran
    assert "fonts/icons.ttf" not in ran
    assert "fonts/icons.woff" not in ran
    woff2 = m["fonts/icons.woff2"]
    assert (tmp_path / "dist" / woff2.path).read_bytes() == files["fonts/icons.woff2"]
    for name in ("fonts/icons.ttf", "fonts/icons.woff"):
        assert m[name].path == woff2.path
        assert m[name].content_type == "font/woff2"
    published = {p.name for p in (tmp_path / "dist" / "fonts").iterdir()}
    assert not [n for n in published if n.endswith((".ttf", ".woff"))]
    assert m["fonts/solo.ttf"].path.endswith(".woff2")
    css = output_text(tmp_path, m, "css/app.css")
    assert css.count(f'url(../{woff2.path}) format("woff2")') == 3


def test_fallbacks_are_still_converted_when_font_options_ask_for_work(tmp_path: Path) -> None:
    """Subsetting (or any font option) applies to every format of the font, as before."""
    _font_tree(tmp_path)
    ran: list[str] = []
    hooks = BuildHooks(on_process=[lambda name, kind: ran.append(name)])
    fonts = {"unicode_ranges": ["U+20-7E"]}
    m = run(tmp_path, hooks=hooks, processors={"fonts": fonts}).manifest
    assert {"fonts/icons.ttf", "fonts/icons.woff", "fonts/solo.ttf"} <= set(ran)
    assert m["fonts/icons.ttf"].path.endswith(".woff2")


def test_stylesheets_are_processed_before_the_usage_scan_and_fonts_after_it(
    tmp_path: Path,
) -> None:
    """With a pool, minifying starts right behind the scans, before the plan (and its
    ``before_process`` hooks) is complete; a usage-subset font waits for the code points
    the hooks collect, and comes out as it does in a one-process build."""
    usage_project(tmp_path)
    write_tree(tmp_path / "src", {"js/app.js": "export const greet = 'Hello';\n"})
    events: list[str] = []
    hooks = BuildHooks(
        before_process=[lambda plan: events.append("usage scan"), scan_usage],
        on_process=[lambda name, kind: events.append(name)],
    )
    pooled = run(tmp_path, hooks=hooks, cache_dir=None, jobs=2, processors={"fonts": USAGE_FONTS})
    assert events.index("css/app.css") < events.index("usage scan")
    assert events.index("js/app.js") < events.index("usage scan")
    assert events.index("usage scan") < events.index("fonts/icons.ttf")
    pooled_dist = snapshot(tmp_path / "dist")
    serial = run(tmp_path, cache_dir=None, jobs=1, processors={"fonts": USAGE_FONTS})
    assert serial.manifest == pooled.manifest
    assert snapshot(tmp_path / "dist") == pooled_dist
    font = TTFont(tmp_path / "dist" / pooled.manifest["fonts/icons.ttf"].path)
    kept = set(font.getBestCmap())
    assert {ord(c) for c in "Hello"} <= kept  # the page's text
    assert ord("Z") not in kept


def test_a_missing_reference_fails_the_build_before_a_processor_error_is_reported(
    tmp_path: Path,
) -> None:
    """Processing that started before the plan was complete reports nothing when the
    plan itself fails: the user sees the reference to fix, and DIST is left alone."""
    usage_project(tmp_path)
    run(tmp_path, jobs=2)
    before = snapshot(tmp_path / "dist")
    write_tree(
        tmp_path / "src",
        {"css/broken.css": b"a { content: '\xff' }", "css/more.css": "a { b: url(gone.svg) }"},
    )
    with pytest.raises(BuildError) as err:
        run(tmp_path, jobs=2)
    assert err.value.problems == [
        "css/more.css:1: reference to missing file 'gone.svg' (css/gone.svg). HINT: fix the "
        'path, add the file, or set missing_reference = "warn" in [tool.asset-pipeline].'
    ]
    assert snapshot(tmp_path / "dist") == before
    with pytest.raises(BuildError, match=r"css/broken\.css: .*not valid UTF-8"):
        run(tmp_path, jobs=2, missing_reference="warn")
    assert snapshot(tmp_path / "dist") == before

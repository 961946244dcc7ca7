from __future__ import annotations

from pathlib import Path

import pytest

from asset_pipeline.processors import ProcessContext, ProcessingError
from asset_pipeline.processors.css import process_css
from asset_pipeline.processors.js import process_js
from tests.asset_pipeline.golden_support import GOLDEN, check_golden

MINIFY = GOLDEN / "minify"
PROCESSORS = {".css": process_css, ".js": process_js}


@pytest.mark.parametrize(
    "source",
    sorted(p for p in MINIFY.iterdir() if ".min." not in p.name),
    ids=lambda p: p.name,
)
def test_minified_output_matches_golden(source: Path) -> None:
    out = PROCESSORS[source.suffix](source.read_bytes(), ProcessContext(source.name))
    check_golden(source.with_name(source.stem + ".min" + source.suffix), out.data.decode())


def test_css_minify_keeps_meaningful_whitespace_and_license() -> None:
    out = process_css((MINIFY / "edge.css").read_bytes(), ProcessContext("edge.css")).data
    text = out.decode()
    assert "/*! Deck theme v1 | MIT */" in text
    assert "gone.png" not in text
    assert "calc(100% - (2 * var(--gap)))" in text
    assert '"  two  spaces  "' in text
    assert len(out) < len((MINIFY / "edge.css").read_bytes())


def test_js_minify_keeps_template_literals_regexes_and_asi() -> None:
    text = process_js((MINIFY / "edge.js").read_bytes(), ProcessContext("edge.js")).data.decode()
    assert "`keep   these   spaces ${" in text
    assert "/  spaced  regex  /g" in text
    assert "return\n" in text  # `return` + newline must not swallow `42`
    assert "\n++b" in text
    assert "line comment" not in text


@pytest.mark.parametrize("proc", [process_css, process_js])
def test_minify_false_opts_out(proc: object) -> None:
    data = b"/* keep me */  a  =  1 ;"
    out = proc(data, ProcessContext("x", {"minify": False}))  # type: ignore[operator]
    assert out.data == data


def test_files_with_a_source_map_are_not_reminified() -> None:
    data = b"a {  color : red  }\n/*# sourceMappingURL=a.css.map */\n"
    assert process_css(data, ProcessContext("a.css")).data == data
    js = b"var  a = 1;\n//# sourceMappingURL=a.js.map\n"
    assert process_js(js, ProcessContext("a.js")).data == js


def test_invalid_utf8_and_bad_options_raise_processing_error_naming_the_file() -> None:
    with pytest.raises(ProcessingError, match=r"bad\.css: not valid UTF-8 at byte 2"):
        process_css(b"a{\xff}", ProcessContext("bad.css"))
    with pytest.raises(ProcessingError, match=r"x\.js: option minify = 'yes'.*HINT"):
        process_js(b"a", ProcessContext("x.js", {"minify": "yes"}))

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asset_pipeline.refs.js import find_references, is_local_specifier
from tests.asset_pipeline.golden_support import GOLDEN, rewrite_all


def test_lookalikes_in_strings_templates_comments_and_regexes_are_ignored() -> None:
    text = (GOLDEN / "js" / "lookalikes.js").read_text()
    urls = [r.url for r in find_references(text)]
    assert urls == ["./real-in-template.js", "./after-division.js", "./real.js"]


def test_static_forms_are_found_with_their_kinds() -> None:
    text = (GOLDEN / "js" / "imports.js").read_text()
    found = {(r.kind, r.url) for r in find_references(text)}
    assert ("module", "./side-effect.js") in found
    assert ("module", "./re-export.js") in found
    assert ("dynamic-import", "./lazy2.js") in found
    assert ("import-meta-url", "./worker.js") in found
    assert ("sourcemap", "imports.js.map") in found
    assert not any("dyn-" in url or "not-a-module" in url for _, url in found)


def test_bare_specifiers_are_left_to_the_import_map() -> None:
    assert not is_local_specifier("lodash-es")
    assert not is_local_specifier("node:fs")
    assert is_local_specifier("./a.js")
    assert is_local_specifier("/static/a.js")
    text = "import x from 'lodash-es';"
    assert rewrite_all(text, find_references(text), "js/app.js") == text


def test_string_escapes_are_decoded_in_the_url_but_span_the_raw_text() -> None:
    text = "import a from './a\\u002ejs';"
    (ref,) = find_references(text)
    assert ref.url == "./a.js"
    assert text[ref.start : ref.end] == "./a\\u002ejs"


def test_export_declaration_without_from_does_not_leak_into_later_code() -> None:
    text = "export const a = 1;\nconst from = 2; f(from, './x.js');"
    assert find_references(text) == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "import",
                " ",
                "from",
                "'./a.js'",
                '"',
                "'",
                "`",
                "${",
                "}",
                "{",
                "/",
                "*",
                "\n",
                "(",
                ")",
                "export",
                "//",
                "/*",
                "*/",
                "\\",
                "new URL(",
                "import.meta.url",
                "x",
            ]
        )
        | st.text(max_size=2)
    ).map("".join)
)
def test_scanner_never_crashes_and_spans_stay_in_bounds(text: str) -> None:
    for ref in find_references(text):
        assert 0 <= ref.start <= ref.end <= len(text)


def test_keyword_used_as_property_name_is_followed_by_division() -> None:
    text = "const q = a.return / 2; import('./after.js'); const r = 1 / 2;"
    assert [r.url for r in find_references(text)] == ["./after.js"]
    text2 = "function f() { return /'/.test(s) } import('./x.js');"
    assert [r.url for r in find_references(text2)] == ["./x.js"]


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ('export*from"./m.js"', "./m.js"),  # minified: no space around the keyword
        ('x=1;import("./lazy.js")', "./lazy.js"),
        ("import{a}from'./a.js'", "./a.js"),
        ("new URL('./w.js',import.meta.url)", "./w.js"),
        ("f()\n//# sourceMappingURL=f.js.map", "f.js.map"),
        ("/*# sourceMappingURL=g.js.map */", "g.js.map"),
    ],
)
def test_the_keyword_prefilter_keeps_every_form_including_minified(text: str, url: str) -> None:
    assert [r.url for r in find_references(text)] == [url]


def test_bundles_without_module_keywords_have_no_references() -> None:
    """The prefilter's other side: UMD words that merely contain the keywords."""
    text = 'module.exports=f;self.importScripts("./x.js");var reexport="./y.js";'
    assert find_references(text) == []

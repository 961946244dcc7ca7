"""References carried from a source's scan to its minified output (``refs.carry``): the
same spans scanning the output would give, or ``None`` when that is not certain."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asset_pipeline.processors import ProcessContext, load_processor
from asset_pipeline.refs import RawRef, has_trailing_sourcemap
from asset_pipeline.refs import css as css_refs
from asset_pipeline.refs import js as js_refs
from asset_pipeline.refs.carry import carry_refs
from tests.asset_pipeline.golden_support import GOLDEN


def minified(kind: str, text: str) -> str:
    name = f"a.{kind}"
    return load_processor(kind)(text.encode(), ProcessContext(name, {}, None)).data.decode()


def carried_and_scanned(kind: str, text: str) -> tuple[list[RawRef] | None, list[RawRef]]:
    find = css_refs.find_references if kind == "css" else js_refs.find_references
    out = minified(kind, text)
    assert out != text  # the minifier changed the offsets
    return carry_refs(text, find(text), out), find(out)


SOURCES = [
    p
    for p in sorted((GOLDEN / "css").glob("*.css")) + sorted((GOLDEN / "js").glob("*.js"))
    if ".rewritten." not in p.name
]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_every_golden_reference_lands_where_scanning_the_output_finds_it(path: Path) -> None:
    """Imports, dynamic import(), export-from, import.meta.url, url() quoted and not,
    @import, image-set(), format() hints, and lookalikes in comments and strings."""
    kind = path.suffix[1:]
    text = path.read_text()
    if has_trailing_sourcemap(text):  # such a file is kept as it is: give it a tail
        text += ".end { color: red }\n" if kind == "css" else "export const end = 1;\n"
    carried, scanned = carried_and_scanned(kind, text)
    assert scanned  # the file has references to carry
    assert carried == scanned


def test_js_forms_and_lookalike_strings_are_carried_in_order() -> None:
    text = (
        "/* header: import './a.js' lives in a comment */\n"
        "const s = './a.js';   // the same text, not a reference\n"
        "import   { a }   from   './a.js';\n"
        "import '../a.js';\n"
        'export   *   from   "./b.js";\n'
        "const lazy = import(   './c.js'   );\n"
        "const w = new URL( './w.js' , import.meta.url );\n"
        "import { a as again } from './a.js';\n"
    )
    carried, scanned = carried_and_scanned("js", text.replace("./a.js' lives", "x' lives"))
    assert [r.url for r in scanned] == [
        "./a.js", "../a.js", "./b.js", "./c.js", "./w.js", "./a.js",
    ]  # fmt: skip
    assert carried == scanned


def test_css_forms_are_carried() -> None:
    text = (
        '@import   url( "base.css" )   screen;\n'
        "@import 'print.css' print;\n"
        "/* url(in-comment.png) is no reference */\n"
        ".a { background: url(  img/a.png  ) ; }\n"
        '.b { background-image: image-set( "b.avif" type("image/avif"), "b.png" 1x ); }\n'
        '@font-face { src: url("f.woff2")   format( "woff2" ), url(f.woff)  format(woff); }\n'
    )
    carried, scanned = carried_and_scanned("css", text)
    assert [r.url for r in scanned] == [
        "base.css", "print.css", "img/a.png", "b.avif", "b.png", "f.woff2", "f.woff",
    ]  # fmt: skip
    assert carried == scanned
    assert [r.format_hint is not None for r in carried] == [False] * 5 + [True, True]


def test_a_copy_lost_with_a_comment_makes_the_caller_scan() -> None:
    """A reference's text inside a comment the minifier removes: the occurrences no
    longer pair up, so which one is the reference is not certain."""
    text = "// see './a.js'\nimport { a } from './a.js';\nexport default a;\n"
    out = minified("js", text)
    assert carry_refs(text, js_refs.find_references(text), out) is None


def test_a_source_map_comment_the_minifier_removed_is_dropped() -> None:
    text = "export const a = 1;\n//# sourceMappingURL=a.js.map\nexport const b = 2;\n"
    refs = js_refs.find_references(text)
    assert [r.kind for r in refs] == ["sourcemap"]
    out = minified("js", text)
    assert "sourceMappingURL" not in out
    assert carry_refs(text, refs, out) == js_refs.find_references(out) == []


def test_unchanged_output_keeps_the_source_references() -> None:
    text = "import './a.js';\n"
    refs = js_refs.find_references(text)
    assert carry_refs(text, refs, text) == refs
    assert carry_refs("x = 1;\n", [], "x=1;") == []


_PARTS = st.sampled_from(
    [
        "import {{ x{n} }} from './m{n}.js';\n",
        "import './m{n}.js';\n",
        "export * from '../m{n}.js';\n",
        "const d{n} = import( './m{n}.js' );\n",
        "const s{n} = './m{n}.js';\n",
        "/* import './m{n}.js' */\n",
        "// import './m{n}.js'\n",
        "const t{n} = `./m{n}.js ${{ './m{n}.js' }}`;\n",
        "const r{n} = /'.\\/m{n}.js'/;\n",
        "function f{n}() {{   return   {n} / 2;   }}\n",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_PARTS, st.integers(0, 3)), min_size=1, max_size=12))
def test_carried_references_match_a_scan_of_the_output(
    parts: list[tuple[str, int]],
) -> None:
    """Whenever carrying answers, it answers exactly what scanning the output gives."""
    text = "".join(p.format(n=n) for p, n in parts)
    out = minified("js", text)
    carried = carry_refs(text, js_refs.find_references(text), out)
    if carried is not None:
        assert carried == js_refs.find_references(out)

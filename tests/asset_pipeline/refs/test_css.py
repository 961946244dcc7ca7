from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asset_pipeline.refs import css as css_refs
from asset_pipeline.refs.css import find_references, tokenize, tokenized_references, unescape
from tests.asset_pipeline.golden_support import GOLDEN, rewrite_all


def test_url_inside_comment_and_string_is_not_a_reference() -> None:
    text = (GOLDEN / "css" / "comments_and_strings.css").read_text()
    urls = [r.url for r in find_references(text)]
    assert urls == ["real.png", "after-comment.svg#icon"]


def test_calc_and_custom_properties_survive_rewriting_untouched() -> None:
    text = ":root{--gap:calc(1rem + 0.5vw);--bg:url(a.png)}.a{width:calc(a + b)}"
    out = rewrite_all(text, find_references(text), "app.css")
    assert "calc(1rem + 0.5vw)" in out
    assert "calc(a + b)" in out
    assert "--bg:url(a.0123456789.png)" in out


def test_font_face_format_hint_follows_the_converted_file() -> None:
    text = '@font-face{src:url(f.ttf) format("truetype"),url(g.woff2) format("woff2")}'
    out = rewrite_all(text, find_references(text), "app.css")
    assert out == (
        '@font-face{src:url(f.0123456789.woff2) format("woff2"),'
        'url(g.0123456789.woff2) format("woff2")}'
    )


def test_import_with_media_query_keeps_the_condition() -> None:
    text = "@import 'theme.css' screen and (min-width: 40em);"
    (ref,) = find_references(text)
    assert (ref.kind, ref.url, ref.quote) == ("import", "theme.css", "'")
    out = rewrite_all(text, [ref], "app.css")
    assert out == "@import 'theme.0123456789.css' screen and (min-width: 40em);"


def test_line_numbers_count_from_one() -> None:
    refs = find_references("a{}\n\n.b{background:url(x.png)}")
    assert [r.line for r in refs] == [3]


def test_unescape_resolves_hex_and_literal_escapes() -> None:
    assert unescape(r"a\26 b\)c\"") == 'a&b)c"'
    assert unescape("plain") == "plain"


def test_bad_url_token_is_not_a_reference() -> None:
    # A quote inside an unquoted url() makes a bad-url token per CSS Syntax 3.
    tokens = [t.type for t in tokenize("a{b:url(x'y.png)}")]
    assert "bad-url" in tokens
    assert find_references("a{b:url(x'y.png)}") == []


def test_unterminated_comment_and_string_do_not_crash() -> None:
    assert find_references("a{} /* url(x.png)") == []
    assert find_references('a{content:"url(x.png)') == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "url(",
                '"',
                "'",
                ")",
                "(",
                "/*",
                "*/",
                "\\",
                " ",
                "@import",
                ";",
                "{",
                "}",
                "image-set(",
                "x.png",
                "\n",
                "format(",
                ",",
                "src:",
                "-",
                "1",
                "#",
                "\\26 ",
            ]
        )
        | st.text(max_size=2)
    ).map("".join)
)
def test_tokenizer_covers_every_character_and_spans_stay_in_bounds(text: str) -> None:
    tokens = list(tokenize(text))
    assert "".join(text[t.start : t.end] for t in tokens) == text
    for ref in find_references(text):
        assert 0 <= ref.start <= ref.end <= len(text)


FRAMEWORK = ".button.is-0\\.5{margin:0 auto!important;padding:calc(1em - 2px)}\n" * 2000


def test_a_stylesheet_that_cannot_reference_anything_is_not_tokenized(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A minified framework stylesheet spells none of url/src/image-set/import/
    sourceMappingURL, not even through an escaped letter: one regex search answers for
    it instead of a token-by-token scan of hundreds of kilobytes."""

    def no_tokenizing(text: str) -> None:
        raise AssertionError("tokenized")

    monkeypatch.setattr(css_refs, "tokenize", no_tokenizing)
    assert find_references(FRAMEWORK) == []


@pytest.mark.parametrize(
    "text",
    [
        ".a{background:URL(a.png)}",
        ".a{background:u\\72 l(a.png)}",
        ".a{background:\\75 rl(a.png)}",
        "@\\69 mport 'a.css';",
        "@IMPORT 'a.css';",
        ".a{background:image-set('a.png' 1x)}",
        ".a{background:sr\\63 ('a.png')}",
        "/*# sourceMappingURL=a.css.map */",
    ],
)
def test_references_spelled_with_escapes_or_capitals_are_still_found(text: str) -> None:
    assert len(find_references(FRAMEWORK + text)) == 1


def test_a_stylesheet_whose_only_reference_is_its_trailing_source_map_is_not_tokenized(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A framework's unminified build spells no reference keyword but the
    ``sourceMappingURL`` comment it ends with: that comment is found without a
    token-by-token scan, at the span and line the tokenizer gives."""
    text = '.a[data-x="/*"]{content:"\\"/*"}\n' + FRAMEWORK + "/*# sourceMappingURL=f.css.map */\n"
    expected = tokenized_references(text)
    assert [(r.kind, r.url, r.line) for r in expected] == [("sourcemap", "f.css.map", 2002)]

    def no_tokenizing(text: str) -> None:
        raise AssertionError("tokenized")

    monkeypatch.setattr(css_refs, "tokenize", no_tokenizing)
    assert find_references(text) == expected


@pytest.mark.parametrize(
    "prefix",
    [
        '.a{content:"',  # the comment is inside a string
        ".a{content:'x\\\n",  # a string continued by an escaped newline
        "/* an unclosed comment ",
        ".a\\",  # the "/" is escaped: an identifier, no comment
        "/* a */ .a{} /* b */",  # closed comments: the map is real
        '.a{content:"x"}',
    ],
)
def test_the_trailing_source_map_shortcut_agrees_with_the_tokenizer(prefix: str) -> None:
    text = prefix + "/*# sourceMappingURL=f.css.map */\n"
    assert find_references(text) == tokenized_references(text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(['"', "'", "/", "*", "/*", "*/", "\\", "\n", "a", " ", "{", "}", "\\2f"]),
        max_size=20,
    ).map("".join)
)
def test_any_text_before_a_trailing_source_map_is_read_as_the_tokenizer_reads_it(
    prefix: str,
) -> None:
    text = prefix + "/*# sourceMappingURL=f.css.map */"
    assert find_references(text) == tokenized_references(text)

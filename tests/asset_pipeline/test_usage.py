# ruff: noqa: RUF001  (non-ASCII text is what this module is about)
"""The usage scan: which code points the content shows, including icon-font CSS escapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asset_pipeline.usage import (
    ALWAYS_INCLUDED,
    UsageScanError,
    css_text_codepoints,
    format_unicode_range,
    parse_unicode_ranges,
    scan_paths,
    scan_text,
)


def chars(s: str) -> set[int]:
    return {ord(c) for c in s}


def test_always_included_is_digits_and_punctuation_not_letters() -> None:
    assert chars("0123456789 .,;:!?'\"()[]-–—…’“”") <= ALWAYS_INCLUDED
    assert not chars("aZé") & ALWAYS_INCLUDED


@pytest.mark.parametrize(
    ("css", "expected"),
    [
        ('.i-home:before { content: "\\f015"; }', "\uf015"),
        (".a::after{content:'\\f015 x'}", "\uf015x"),  # one space ends the escape
        ('.q { quotes: "«" "»"; }', "«»"),
        ('.a:before { content: "\\1F600"; }', "\U0001f600"),
        ('.a:before { content: "a\\"b"; }', 'a"b'),
        ('.a:before { content: "\\e9 t\\E9"; }', "ét"),
        ('li::marker { content: "→ " counter(x) ". "; }', "→ ."),
        ("@counter-style x { symbols: '✓' '✗'; suffix: ' '; }", "✓✗ "),
    ],
)
def test_css_text_properties_decode_escapes(css: str, expected: str) -> None:
    assert css_text_codepoints(css) == chars(expected)


def test_css_strings_outside_text_properties_and_comments_are_ignored() -> None:
    css = (
        '@font-face { font-family: "Ωmega"; src: url("ß.woff2"); }\n'
        '/* .x:before { content: "\\f099"; } */\n'
        'a[title="Ж"] { align-content: center; background: url("ü.png"); }\n'
        '.ok:before { content: "/* not a comment */"; }'
    )
    assert css_text_codepoints(css) == chars("/* not a comment */")


def test_html_text_attributes_and_jinja_literals() -> None:
    page = """<!doctype html>
    <html><head><title>Café</title>
    <style>.i:before { content: "\\f015"; }</style>
    <script>const msg = "Größe"; let n = 1;</script></head>
    <body data-x="ignored-Ж">
    <img alt="Ünïcode" src="ç.png">
    <input placeholder="Søk">
    {# a Jinja comment with Ω #}
    <p>{{ _("Привет") }} &amp; &eacute; {% if x %}naïve{% endif %}</p>
    <span style="content: '\\f016'"></span>
    </body></html>"""
    found = scan_text(page, ".html")
    assert chars("CaféÜnïcodeSøkПриветGröße&éve") <= found
    assert {0xF015, 0xF016} <= found
    assert not chars("ЖçΩ") & found
    assert not {c for c in found if c < 0x20}


def test_markdown_keeps_every_character_and_decodes_entities() -> None:
    found = scan_text("# Überschrift\n\n*kursiv* &mdash; 日本", ".md")
    assert chars("Überschriftkursiv—日本") <= found
    assert 0x0A not in found


def test_json_takes_string_values_not_keys() -> None:
    found = scan_text('{"greeting": "Hallå", "list": ["Ω", 3], "nested": {"k": "ß"}}', ".json")
    assert chars("HallåΩß") <= found
    assert not chars("gyt") & found


def test_invalid_json_names_the_file() -> None:
    with pytest.raises(UsageScanError, match=r"i18n/de\.json: not valid JSON.*HINT"):
        scan_text("{oops", ".json", source="i18n/de.json")


def test_scan_paths_walks_globs_and_adds_punctuation(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "a.html").write_text("<p>Zürich</p>", encoding="utf-8")
    (tmp_path / "templates" / "b.jinja").write_text("{{ 'Ω' }}", encoding="utf-8")
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "icons.css").write_text(".a:before{content:'\\f015'}")
    (tmp_path / "static" / "other.css").write_text(".a:before{content:'\\f099'}")
    found = scan_paths(tmp_path, ["templates/**/*", "static/icons.css"])
    assert chars("ZürichΩ") | {0xF015} | ALWAYS_INCLUDED <= found
    assert 0xF099 not in found
    assert 0x48 not in found  # "H" is nowhere


def test_scan_paths_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(UsageScanError, match="match no file"):
        scan_paths(tmp_path, ["templates/**/*.html"])
    with pytest.raises(UsageScanError, match=r"'/etc/\*': not a usable content glob.*HINT"):
        scan_paths(tmp_path, ["/etc/*"])
    (tmp_path / "latin1.html").write_bytes("<p>caf\xe9</p>".encode("latin-1"))
    with pytest.raises(UsageScanError, match=r"latin1\.html: not UTF-8.*HINT"):
        scan_paths(tmp_path, ["*.html"])


def test_unicode_ranges_parse_and_format() -> None:
    assert parse_unicode_ranges(["U+41-43, u+61", "U+4?"]) == set(range(0x40, 0x50)) | {0x61}
    assert format_unicode_range([0x41, 0x42, 0x43, 0x61, 0xF015]) == "U+41-43, U+61, U+F015"
    for bad in ["latin", "U+43-41", "U+110000", "U+4?-50"]:
        with pytest.raises(UsageScanError, match=r"HINT|range"):
            parse_unicode_ranges([bad])


@settings(max_examples=300, deadline=None)
@given(st.sets(st.integers(0, 0x10FFFF), max_size=60))
def test_unicode_range_round_trips(points: set[int]) -> None:
    text = format_unicode_range(points)
    assert parse_unicode_ranges([text] if text else []) == points


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'),
        max_size=20,
    )
)
def test_any_css_escaped_content_string_is_recovered(text: str) -> None:
    escaped = "".join(f"\\{ord(c):x} " for c in text)
    assert css_text_codepoints(f'.x:before {{ content: "{escaped}"; }}') == chars(text)
    assert css_text_codepoints(f'.x:before {{ content: "{text}"; }}') == chars(text)

"""The font processor on a font built in the test and on DejaVu Sans (real size)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont
from hypothesis import given, settings
from hypothesis import strategies as st

from asset_pipeline.processors import (
    PROCESSOR_KINDS,
    ProcessContext,
    ProcessingError,
    load_processor,
)
from asset_pipeline.processors.fonts import process_font
from asset_pipeline.usage import ALWAYS_INCLUDED

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
ICON = 0xF015  # a private-use icon, as icon fonts map them
CHARS = [
    *range(0x20, 0x7F),
    *(0xA0, 0xE9, 0xFC, 0x2013, 0x2014, 0x2019, 0x201C, 0x201D, 0x2026),
    *(ICON, 0xF016),
]


def _box(width: int) -> object:
    pen = TTGlyphPen(None)
    pen.moveTo((50, 0))
    pen.lineTo((50, 700))
    pen.lineTo((width, 700))
    pen.lineTo((width, 0))
    pen.closePath()
    return pen.glyph()


#: head.created/modified of the test fonts (seconds since 1904-01-01)
FONT_TIMESTAMP = 3_800_000_000


def build_font(chars: list[int] = CHARS, *, kern: bool = True) -> bytes:
    """A tiny TrueType font: one box glyph per character, a kern pair and a liga."""
    names = [".notdef"] + [f"uni{cp:04X}" for cp in chars] + ["f_i"]
    fb = FontBuilder(1000, isTTF=True)
    # fixed timestamps: two calls must give the same bytes (FontBuilder stamps "now", and
    # saving would restamp it), or builds compared byte for byte differ across a second
    fb.updateHead(created=FONT_TIMESTAMP, modified=FONT_TIMESTAMP)
    fb.font.recalcTimestamp = False
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({cp: f"uni{cp:04X}" for cp in chars})
    fb.setupGlyf({n: _box(300 + i % 200) for i, n in enumerate(names)})
    fb.setupHorizontalMetrics({n: (600, 50) for n in names})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "Tiny Test", "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    if kern:
        fb.addOpenTypeFeatures(
            """
            feature kern { pos uni0041 uni0056 -80; } kern;
            feature liga { sub uni0066 uni0069 by f_i; } liga;
            feature smcp { sub uni0061 by uni0041; } smcp;
            """
        )
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


def run(data: bytes, name: str = "fonts/tiny.ttf", used: frozenset[int] | None = None, **opts):
    return process_font(data, ProcessContext(name, opts, used_codepoints=used))


def cmap(woff2: bytes) -> set[int]:
    return set(TTFont(io.BytesIO(woff2)).getBestCmap())


def test_registered_for_ttf_otf_woff() -> None:
    assert load_processor("fonts") is process_font


def test_default_keeps_every_glyph_and_emits_woff2() -> None:
    data = build_font()
    out = run(data)
    assert out.suffix == ".woff2"
    assert out.content_type == "font/woff2"
    assert out.data[:4] == b"wOF2"
    font = TTFont(io.BytesIO(out.data))
    assert set(font.getBestCmap()) == set(CHARS)
    assert font.getGlyphOrder() == TTFont(io.BytesIO(data)).getGlyphOrder()
    assert out.metadata == {}
    assert out.extras == ()


def test_woff_source_is_accepted_and_woff_fallback_on_request() -> None:
    font = TTFont(io.BytesIO(build_font()))
    font.flavor = "woff"
    buf = io.BytesIO()
    font.save(buf)
    out = run(buf.getvalue(), "fonts/tiny.woff", woff_fallback=True)
    assert cmap(out.data) == set(CHARS)
    (woff,) = out.extras
    assert (woff.suffix, woff.content_type, woff.data[:4]) == (".woff", "font/woff", b"wOFF")
    assert cmap(woff.data) == set(CHARS)


def flavored(data: bytes, flavor: str) -> bytes:
    font = TTFont(io.BytesIO(data))
    font.flavor = flavor
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def test_a_woff2_source_is_validated_and_kept_as_it_is() -> None:
    woff2 = flavored(build_font(), "woff2")
    assert PROCESSOR_KINDS[".woff2"] == "fonts"
    out = run(woff2, "fonts/tiny.woff2", unicode_range_descriptor=True)
    assert out.data == woff2
    assert (out.suffix, out.content_type) == (None, "font/woff2")
    assert out.metadata["unicode_range"].startswith("U+20-7E")


@pytest.mark.parametrize("flavor", ["woff2", "woff"])
@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_corrupt_web_font_fails_with_name_and_reason(flavor: str, damage: str) -> None:
    data = flavored(build_font(), flavor)
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    else:
        data = data[:48] + bytes(range(256)) * (len(data) // 256)
    name = f"fonts/bad.{flavor}"
    with pytest.raises(ProcessingError, match=rf"corrupt {flavor.upper()} font .*HINT") as err:
        run(data, name)
    assert err.value.logical_name == name


@pytest.mark.parametrize(("flavor", "kind"), [("woff2", "WOFF2"), (None, "TrueType")])
def test_a_font_whose_tables_do_not_parse_fails(flavor: str | None, kind: str) -> None:
    """The container is intact but a table inside it is garbage (a conversion would have
    copied it as it is)."""
    font = TTFont(io.BytesIO(build_font()))
    font.flavor = flavor
    font["GSUB"].compile = lambda ttfont: b"\x00\x01\xff\xff" + b"\xee" * 8
    buf = io.BytesIO()
    font.save(buf)
    with pytest.raises(ProcessingError, match=rf"corrupt {kind} font \(table 'GSUB'"):
        run(buf.getvalue(), "fonts/bad.font")


def test_subset_by_text_and_ranges_keeps_them_plus_punctuation() -> None:
    out = run(build_font(), text="é", unicode_ranges=["U+41-43", "U+F015"])
    kept = cmap(out.data)
    assert {0xE9, 0x41, 0x42, 0x43, ICON} <= kept
    assert {ord(c) for c in "0123456789.,;:!?"} <= kept  # always included
    assert 0x44 not in kept  # D was neither requested nor punctuation
    assert 0xF016 not in kept


def test_subset_by_usage_keeps_every_used_code_point() -> None:
    used = frozenset({ord(c) for c in "Hello wörld"} | {ICON})
    out = run(build_font(), used=used, subset_by_usage=True, unicode_range_descriptor=True)
    kept = cmap(out.data)
    assert used - {0xF6} <= kept  # ö is not in the font: nothing to keep
    assert 0x5A not in kept  # Z unused
    assert out.metadata["unicode_range"].startswith("U+20-")
    assert "U+F015" in out.metadata["unicode_range"]


def test_layout_features_are_kept_by_default_and_configurable() -> None:
    data = build_font()
    used = frozenset(ord(c) for c in "AVfia")
    default = TTFont(io.BytesIO(run(data, used=used, subset_by_usage=True).data))
    feats = {r.FeatureTag for r in default["GSUB"].table.FeatureList.FeatureRecord}
    feats |= {r.FeatureTag for r in default["GPOS"].table.FeatureList.FeatureRecord}
    assert {"kern", "liga"} <= feats
    assert "smcp" not in feats
    # .notdef + one glyph per kept character + the f_i ligature the liga feature reaches
    assert len(default.getGlyphOrder()) == len(default.getBestCmap()) + 2
    custom = run(data, used=used, subset_by_usage=True, layout_features=["kern", "smcp"])
    font = TTFont(io.BytesIO(custom.data))
    assert {r.FeatureTag for r in font["GSUB"].table.FeatureList.FeatureRecord} == {"smcp"}
    assert len(font.getGlyphOrder()) == len(font.getBestCmap()) + 1


def test_usage_subset_without_a_scan_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(ProcessingError, match=r"fonts/tiny\.ttf: subset_by_usage .*HINT"):
        run(build_font(), subset_by_usage=True)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"not a font at all", "not a TTF/OTF/WOFF font"),
        (b"ttcf" + b"\0" * 40, "font collection"),
        (b"\x00\x01\x00\x00" + b"\xff" * 40, "corrupt TrueType font"),
    ],
)
def test_corrupt_fonts_fail_with_name_and_reason(data: bytes, needle: str) -> None:
    with pytest.raises(ProcessingError) as err:
        run(data, "fonts/bad.ttf")
    assert err.value.logical_name == "fonts/bad.ttf"
    assert needle in err.value.reason
    assert "HINT" in err.value.reason


def test_truncated_font_fails_clearly() -> None:
    data = build_font()
    with pytest.raises(ProcessingError, match=r"fonts/cut\.ttf: .*HINT"):
        run(data[: len(data) // 2], "fonts/cut.ttf")


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"unicode_ranges": ["latin"]}, "not a unicode range"),
        ({"unicode_ranges": "U+0-FF"}, "must be a list of strings"),
        ({"subset": True}, "unknown option 'subset'"),
        ({"text": 5}, "must be a string"),
    ],
)
def test_bad_font_options(options: dict[str, object], needle: str) -> None:
    with pytest.raises(ProcessingError) as err:
        run(build_font(), **options)
    assert needle in str(err.value)


@settings(max_examples=25, deadline=None)
@given(used=st.frozensets(st.sampled_from([*CHARS, 0x4E2D, 0x1F600]), max_size=30))
def test_a_subset_never_drops_a_used_character(used: frozenset[int]) -> None:
    out = run(FONT, used=used, subset_by_usage=True, unicode_range_descriptor=True)
    kept = cmap(out.data)
    assert (used | ALWAYS_INCLUDED) & set(CHARS) <= kept
    assert kept <= (used | ALWAYS_INCLUDED) & set(CHARS)  # and nothing unused
    assert 0x4E2D not in kept


FONT = build_font()


def test_dejavu_latin_page_subset_is_a_fraction_of_the_font() -> None:
    data = DEJAVU.read_bytes()
    page = "Ünïcödé café — “quoted” naïve résumé… 2024 £5 €10 © ½"
    used = frozenset(ord(c) for c in page + "The quick brown fox jumps over the lazy dog")
    out = run(data, "fonts/DejaVuSans.ttf", used=used, subset_by_usage=True)
    kept = cmap(out.data)
    assert used <= kept
    assert len(out.data) < len(data) // 10
    assert len(kept) < 200


def build_otf(chars: list[int]) -> bytes:
    """A tiny CFF-flavoured OpenType font (the .otf path)."""
    from fontTools.pens.t2CharStringPen import T2CharStringPen

    names = [".notdef"] + [f"uni{cp:04X}" for cp in chars]
    charstrings = {}
    for name in names:
        pen = T2CharStringPen(600, None)
        pen.moveTo((50, 0))
        pen.lineTo((50, 700))
        pen.lineTo((400, 700))
        pen.closePath()
        charstrings[name] = pen.getCharString()
    fb = FontBuilder(1000, isTTF=False)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({cp: f"uni{cp:04X}" for cp in chars})
    fb.setupCFF("TinyCFF", {"FullName": "Tiny CFF"}, charstrings, {})
    fb.setupHorizontalMetrics({n: (600, 50) for n in names})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "Tiny CFF", "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


def test_otf_cff_font_converts_and_subsets() -> None:
    chars = [*range(0x20, 0x7F), 0xE9]
    data = build_otf(chars)
    assert data[:4] == b"OTTO"
    full = run(data, "fonts/tiny.otf")
    assert cmap(full.data) == set(chars)
    assert "CFF " in TTFont(io.BytesIO(full.data))
    sub = run(data, "fonts/tiny.otf", text="é")
    assert cmap(sub.data) == ({0xE9} | ALWAYS_INCLUDED) & set(chars)

"""Font processor: TTF/OTF/WOFF/WOFF2 in, WOFF2 out, optionally subset to what the site uses.

Every source is validated first, the way images are decoded in full before encoding, so a
corrupt font fails the build instead of being precached by the service worker: its data
must decode to the declared sizes and every table must parse. The glyph outlines are
parsed by the conversion itself (the WOFF2 transform reads every glyph); a WOFF2 source
with nothing to change (no subset, no WOFF fallback) is already the output and is kept
byte for byte, its outlines unparsed: rebuilding ``glyf``/``loca`` from their WOFF2
transform costs more than the rest of the font.

With no subsetting configured every glyph and table is kept: a default build never drops
a character. A subset keeps the union of ``unicode_ranges``, ``text``, the code points
the build's usage scan found (``subset_by_usage``) and ``usage.ALWAYS_INCLUDED``; after
subsetting, every requested code point the source font maps is checked in the output
cmap, so a subset that drops a used character fails instead of shipping.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

from fontTools import subset as ft_subset
from fontTools.ttLib import TTFont, TTLibError

from asset_pipeline.processors._options import parse_options
from asset_pipeline.processors.base import (
    ExtraOutput,
    ProcessContext,
    ProcessingError,
    ProcessorOutput,
)
from asset_pipeline.usage import (
    ALWAYS_INCLUDED,
    UsageScanError,
    format_unicode_range,
    parse_unicode_ranges,
)

log = logging.getLogger(__name__)

_MAGIC = {
    b"\x00\x01\x00\x00": "TrueType",
    b"true": "TrueType",
    b"OTTO": "OpenType/CFF",
    b"wOFF": "WOFF",
    b"wOF2": "WOFF2",
}
#: fontTools' default layout features (kern, liga, calt, ccmp, locl, mark, mkmk, rlig,
#: the Arabic/Indic shaping features ...); "*" keeps every feature
DEFAULT_FEATURES: tuple[str, ...] = tuple(
    dict.fromkeys([*ft_subset.Options().layout_features, "kern", "liga", "clig", "calt"])
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FontOptions:
    """``[tool.asset-pipeline.fonts]`` and its per-glob rules."""

    unicode_ranges: tuple[str, ...] = ()  #: keep these (CSS unicode-range syntax)
    text: str = ""  #: keep these characters
    subset_by_usage: bool = False  #: keep what the build's content scan found
    content: tuple[str, ...] = ()  #: globs the build scans for subset_by_usage
    layout_features: tuple[str, ...] = DEFAULT_FEATURES  #: ["*"] keeps every feature
    hinting: bool = True  #: keep TrueType hinting in subsets (full conversions keep all)
    unicode_range_descriptor: bool = False  #: add unicode-range to @font-face
    woff_fallback: bool = False  #: also emit a .woff for very old browsers


def parse_font_options(ctx: ProcessContext) -> FontOptions:
    opts = parse_options(FontOptions, ctx.options, section="fonts", logical_name=ctx.logical_name)
    try:
        where = "[tool.asset-pipeline.fonts] unicode_ranges"
        parse_unicode_ranges(opts.unicode_ranges, where=where)
    except UsageScanError as exc:
        raise ProcessingError(ctx.logical_name, str(exc)) from None
    return opts


def _requested(opts: FontOptions, ctx: ProcessContext) -> set[int] | None:
    """The code points a subset must keep, or None for "keep the whole font"."""
    if not (opts.unicode_ranges or opts.text or opts.subset_by_usage):
        return None
    wanted = set(ALWAYS_INCLUDED) | {ord(c) for c in opts.text}
    wanted |= parse_unicode_ranges(opts.unicode_ranges)
    if opts.subset_by_usage:
        if ctx.used_codepoints is None:
            raise ProcessingError(
                ctx.logical_name,
                "subset_by_usage is on but the build supplied no usage scan. HINT: set "
                "[tool.asset-pipeline.fonts] content = ['templates/**/*.html', ...] globs.",
            )
        wanted |= ctx.used_codepoints
    return wanted


def _load(data: bytes, name: str) -> TTFont:
    kind = _MAGIC.get(data[:4])
    if kind is None:
        what = "a font collection (.ttc)" if data[:4] == b"ttcf" else "not a TTF/OTF/WOFF font"
        raise ProcessingError(
            name,
            f"{what} (starts with {data[:4]!r}). HINT: convert it to a single TTF/OTF first.",
        )
    try:
        # lazy: a full conversion then recompiles only glyf/loca (half the time)
        font = TTFont(io.BytesIO(data), recalcBBoxes=False, recalcTimestamp=False)
        if "cmap" not in font or not font.getBestCmap():
            raise TTLibError("the font has no usable Unicode cmap table")
        font["head"]  # decompiles the header, the first thing a corrupt file breaks
    except ProcessingError:
        raise
    except Exception as exc:  # fontTools raises many types on corrupt input
        raise ProcessingError(
            name, f"corrupt {kind} font ({type(exc).__name__}: {exc}). HINT: re-export it."
        ) from None
    return font


def _check_tables(data: bytes, name: str) -> None:
    """Parse every table but the glyph outlines, on a font object of its own: parsed tables
    are recompiled when saved, and a conversion copies the others as they are."""
    font = TTFont(io.BytesIO(data), recalcBBoxes=False, recalcTimestamp=False)
    kind = _MAGIC[data[:4]]
    tags: list[str] = font.keys()  # a TTFont is not iterable
    for tag in tags:
        if tag in ("GlyphOrder", "glyf", "loca"):
            continue
        try:
            font[tag]
        except Exception as exc:  # fontTools raises many types on corrupt input
            raise ProcessingError(
                name,
                f"corrupt {kind} font (table {tag!r}: {type(exc).__name__}: {exc}). "
                "HINT: re-export it.",
            ) from None


def _save(font: TTFont, flavor: str) -> bytes:
    font.flavor = flavor
    buf = io.BytesIO()
    font.save(buf, reorderTables=False)
    return buf.getvalue()


def _subset(font: TTFont, keep: set[int], opts: FontOptions) -> None:
    options = ft_subset.Options()
    options.layout_features = list(opts.layout_features)
    options.hinting = opts.hinting
    options.notdef_outline = True
    options.name_IDs = ["*"]  # names are tiny and licences live there
    options.name_legacy = True
    options.name_languages = ["*"]
    options.legacy_kern = True
    options.drop_tables = [t for t in options.drop_tables if t != "kern"] + ["FFTM"]
    subsetter = ft_subset.Subsetter(options=options)
    subsetter.populate(unicodes=sorted(keep))
    subsetter.subset(font)


def process_font(data: bytes, ctx: ProcessContext) -> ProcessorOutput:
    """Convert one font to WOFF2, subsetting it when the options ask for it."""
    opts = parse_font_options(ctx)
    name = ctx.logical_name
    font = _load(data, name)
    source_cmap: set[int] = set(font.getBestCmap() or {})
    wanted = _requested(opts, ctx)
    _check_tables(data, name)
    if data[:4] == b"wOF2" and wanted is None and not opts.woff_fallback:
        unchanged: dict[str, Any] = {}
        if opts.unicode_range_descriptor:
            unchanged["unicode_range"] = format_unicode_range(source_cmap)
        return ProcessorOutput(data=data, content_type="font/woff2", metadata=unchanged)
    try:
        if wanted is not None:
            _subset(font, wanted & source_cmap, opts)
        woff2 = _save(font, "woff2")
        woff = _save(font, "woff") if opts.woff_fallback else None
    except Exception as exc:
        raise ProcessingError(
            name, f"could not convert the font ({type(exc).__name__}: {exc}). HINT: re-export it."
        ) from None
    output_cmap = set(TTFont(io.BytesIO(woff2)).getBestCmap() or {})
    expected = source_cmap if wanted is None else wanted & source_cmap
    missing = expected - output_cmap
    if missing:  # the guarantee: never ship a font that lost a used character
        raise ProcessingError(
            name,
            f"the WOFF2 output lost {len(missing)} mapped characters "
            f"({format_unicode_range(sorted(missing)[:20])}). HINT: report this font.",
        )
    metadata: dict[str, Any] = {}
    if opts.unicode_range_descriptor:
        metadata["unicode_range"] = format_unicode_range(output_cmap)
    if wanted is not None:
        log.debug(
            "font subset file=%s kept=%d of=%d unmapped=%d",
            name,
            len(output_cmap),
            len(source_cmap),
            len(wanted - source_cmap),
        )
    extras: tuple[ExtraOutput, ...] = ()
    if woff is not None:
        extras = (ExtraOutput(".woff", woff, "font/woff", "woff", 0, 0),)
    return ProcessorOutput(
        data=woff2, suffix=".woff2", content_type="font/woff2", extras=extras, metadata=metadata
    )

"""Rewrite the references inside one processed CSS/JS file to their final output URLs.

Runs on the *processed* text (after minification), leaves first, so every target
already has its final name. Relative references stay relative, root-relative ones stay
root-relative, and ``?query#fragment`` parts are kept.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from asset_pipeline.refs import SOURCEMAP, RawRef, apply_edits
from asset_pipeline.refs.graph import resolve, url_for

#: Output extension -> the CSS ``format()`` keyword a browser expects for it.
FONT_FORMATS = {".woff2": "woff2", ".woff": "woff", ".ttf": "truetype", ".otf": "opentype"}
_REPLACEABLE_FORMATS = {"truetype", "opentype", "woff", "woff2", "embedded-opentype"}


@dataclass(frozen=True, slots=True)
class RewriteResult:
    text: str
    stripped_maps: tuple[str, ...]


def rewrite(
    text: str,
    refs: Sequence[RawRef],
    referrer: str,
    outputs: Mapping[str, str],
    renamed: Mapping[str, str],
    url_prefix: str,
) -> RewriteResult:
    """``outputs``: logical name -> output path for every emitted file; ``renamed``:
    logical name -> new extension for files a processor converted (``.ttf`` -> ``.woff2``).

    Missing source maps are stripped (comment and all); other missing targets were
    already reported from the source scan and are left as written.
    """
    edits: list[tuple[int, int, str]] = []
    stripped: list[str] = []
    for ref in refs:
        res = resolve(ref, referrer, url_prefix)
        if res is None:
            continue
        output = outputs.get(res.target)
        if output is None:
            if ref.kind == SOURCEMAP and ref.comment is not None:
                edits.append((ref.comment[0], ref.comment[1], ""))
                stripped.append(ref.url)
            continue
        new_url = url_for(output, referrer, res, url_prefix)
        if ref.quote:
            new_url = new_url.replace("\\", "\\\\").replace(ref.quote, "\\" + ref.quote)
        edits.append((ref.start, ref.end, new_url))
        new_ext = renamed.get(res.target)
        if new_ext and ref.format_hint is not None:
            hint = text[ref.format_hint[0] : ref.format_hint[1]]
            fmt = FONT_FORMATS.get(new_ext)
            if fmt and hint.strip().lower() in _REPLACEABLE_FORMATS:
                edits.append((ref.format_hint[0], ref.format_hint[1], fmt))
    return RewriteResult(apply_edits(text, edits), tuple(stripped))


def extension(name: str) -> str:
    return posixpath.splitext(name)[1].lower()

"""``<picture>`` markup from a manifest entry: modern-format ``<source>``s with width
descriptors, and an ``<img>`` fallback that reserves its box (``width``/``height``).
Pure string building, so it is tested without a template engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from markupsafe import escape

from asset_pipeline.manifest import ManifestEntry

__all__ = ["SOURCE_FORMATS", "default_sizes", "html_attrs", "render_picture"]

#: Formats that get a ``<source>`` (smallest first; this order breaks ties).
SOURCE_FORMATS = ("image/avif", "image/webp")


def html_attrs(items: Iterable[tuple[str, Any]]) -> str:
    """`` name="value"`` pairs: ``True`` -> bare attribute, ``False``/None -> omitted,
    ``class_`` -> ``class``, ``data_x`` -> ``data-x``; values are HTML-escaped.

    A name given twice keeps its first position and its last value: helpers list their
    defaults first and the caller's keywords after, so ``loading="eager"`` replaces the
    helper's ``loading="lazy"`` (and ``loading=None`` removes it) instead of adding a
    second attribute, which HTML parsers ignore (HTML, "attribute name state": a
    duplicate attribute is dropped, the first one wins).
    """
    merged: dict[str, Any] = {}
    for name, value in items:
        merged[name.rstrip("_").replace("_", "-")] = value
    out: list[str] = []
    for name, value in merged.items():
        if value is None or value is False:
            continue
        if value is True:
            out.append(f" {name}")
        else:
            out.append(f' {name}="{escape(str(value))}"')
    return "".join(out)


def default_sizes(width: int, *, lazy: bool) -> str:
    """``sizes`` when the template gave none. A lazy image is laid out before it loads, so
    ``auto`` lets the browser use its real rendered width (HTML, "sizes=auto"); the rest
    is the fallback for browsers without ``auto`` and for eager images: the viewport
    width, capped at the image's own width."""
    fallback = f"(max-width: {width}px) 100vw, {width}px"
    return f"auto, {fallback}" if lazy else fallback


def render_picture(
    entry: ManifestEntry,
    *,
    url_for: Callable[[str], str],
    alt: str,
    sizes: str | None = None,
    lazy: bool = True,
    priority: bool = False,
    attrs: Mapping[str, Any] | None = None,
) -> str:
    """The HTML of a ``<picture>`` for ``entry``; ``attrs`` go on the ``<img>`` and
    replace the helper's own values of the same name.

    A browser picks a ``<source>`` by type before it looks at widths, so a format offered
    only at small widths would be used for every slot, blurry on a large one: a format
    gets a ``<source>`` only when it has a rendition as wide as the widest the image has
    in any format.
    """
    attrs = attrs or {}
    by_type: dict[str, dict[int, str]] = {}
    for a in entry.alternates:
        by_type.setdefault(a.content_type, {})[a.width] = a.path
    own = by_type.setdefault(entry.content_type, {})
    if entry.width is not None:
        own[entry.width] = entry.path
    widest = max((w for widths in by_type.values() for w in widths), default=0)
    multi = any(len(widths) > 1 for widths in by_type.values())
    loading = attrs.get("loading", "lazy" if lazy and not priority else None)
    if multi and sizes is None and widest:
        sizes = default_sizes(widest, lazy=loading == "lazy")

    def srcset(widths: dict[int, str]) -> str:
        if not multi:
            return url_for(next(iter(widths.values())))
        return ", ".join(f"{url_for(p)} {w}w" for w, p in sorted(widths.items()))

    # A browser takes the first <source> it can decode, and every AVIF-capable browser
    # decodes WebP: so list the formats smallest first (by the full-size rendition).
    largest = {a.content_type: (a.width, -a.size) for a in entry.alternates}
    for a in entry.alternates:
        largest[a.content_type] = max(largest[a.content_type], (a.width, -a.size))
    formats = sorted(
        (
            m
            for m in SOURCE_FORMATS
            if m in by_type and m != entry.content_type and max(by_type[m]) >= widest
        ),
        key=lambda m: (-largest[m][1], SOURCE_FORMATS.index(m)),
    )
    parts = ["<picture>"]
    for media_type in formats:
        source: list[tuple[str, Any]] = [
            ("type", media_type),
            ("srcset", srcset(by_type[media_type])),
        ]
        source.append(("sizes", sizes if multi else None))
        parts.append(f"<source{html_attrs(source)}>")
    own_srcset = srcset(own) if multi and len(own) > 1 else None
    img_attrs: list[tuple[str, Any]] = [
        ("src", url_for(entry.path)),
        ("srcset", own_srcset),
        ("sizes", sizes if own_srcset else None),
        ("alt", alt),
        ("width", entry.width),
        ("height", entry.height),
        ("loading", loading),
        ("decoding", "async"),
        ("fetchpriority", "high" if priority else None),
        *attrs.items(),
    ]
    parts.append(f"<img{html_attrs(img_attrs)}>")
    parts.append("</picture>")
    return "".join(parts)

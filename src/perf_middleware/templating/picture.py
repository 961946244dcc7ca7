"""``<picture>`` markup from a manifest entry: modern-format ``<source>``s with width
descriptors, and an ``<img>`` fallback that reserves its box (``width``/``height``).
Pure string building, so it is tested without a template engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from markupsafe import escape

from asset_pipeline.manifest import ManifestEntry

__all__ = ["SOURCE_FORMATS", "html_attrs", "render_picture"]

#: Formats that get a ``<source>`` (smallest first; this order breaks ties).
SOURCE_FORMATS = ("image/avif", "image/webp")


def html_attrs(items: Iterable[tuple[str, Any]]) -> str:
    """`` name="value"`` pairs: ``True`` -> bare attribute, ``False``/None -> omitted,
    ``class_`` -> ``class``, ``data_x`` -> ``data-x``; values are HTML-escaped."""
    out: list[str] = []
    for name, value in items:
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        if value is True:
            out.append(f" {name}")
        else:
            out.append(f' {name}="{escape(str(value))}"')
    return "".join(out)


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
    """The HTML of a ``<picture>`` for ``entry``; ``attrs`` go on the ``<img>``."""
    attrs = attrs or {}
    by_type: dict[str, dict[int, str]] = {}
    for a in entry.alternates:
        by_type.setdefault(a.content_type, {})[a.width] = a.path
    own = by_type.setdefault(entry.content_type, {})
    if entry.width is not None:
        own[entry.width] = entry.path
    multi = any(len(widths) > 1 for widths in by_type.values())
    if multi and sizes is None and entry.width is not None:
        sizes = f"(max-width: {entry.width}px) 100vw, {entry.width}px"

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
        (m for m in SOURCE_FORMATS if m in by_type and m != entry.content_type),
        key=lambda m: (-largest[m][1], SOURCE_FORMATS.index(m)),
    )
    parts = ["<picture>"]
    for media_type in formats:
        widths = by_type[media_type]
        if widths:
            source: list[tuple[str, Any]] = [("type", media_type), ("srcset", srcset(widths))]
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
        ("loading", "lazy" if lazy and not priority else None),
        ("decoding", "async"),
        ("fetchpriority", "high" if priority else None),
        *attrs.items(),
    ]
    parts.append(f"<img{html_attrs(img_attrs)}>")
    parts.append("</picture>")
    return "".join(parts)

"""What a reference found in a CSS or JS file looks like, shared by both scanners.

Scanners report *spans* into the decoded text rather than rewritten text, so the build
can rewrite references after processing without re-implementing either grammar, and
so a reference's line number can be reported from the original source.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Reference kinds. CSS: "import", "url", "image-set", "sourcemap".
#: JS: "module" (static import/export from), "dynamic-import", "import-meta-url", "sourcemap".
SOURCEMAP = "sourcemap"
_TRAILING_SOURCEMAP = re.compile(r"/[/*][#@][ \t]+sourceMappingURL=[^\s*]+[ \t]*(?:\*/)?\s*\Z")


@dataclass(frozen=True, slots=True)
class RawRef:
    """One reference as written in a file.

    ``start``/``end`` delimit the raw URL text to replace (inside the quotes when quoted).
    ``comment`` is the span of the whole ``sourceMappingURL`` comment (so a missing map
    can be stripped); ``format_hint`` is the span of the string inside an adjacent
    ``format("…")`` in an ``@font-face`` ``src`` list.
    """

    kind: str
    url: str
    start: int
    end: int
    line: int
    quote: str = ""
    comment: tuple[int, int] | None = None
    format_hint: tuple[int, int] | None = None


class LineIndex:
    """Offset -> 1-based line number, built once per file."""

    __slots__ = ("_starts",)

    def __init__(self, text: str) -> None:
        starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self._starts = starts

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)


def is_external(url: str) -> bool:
    """True for URLs the build must leave alone (other origins, inline data, fragments)."""
    if not url or url.startswith(("#", "//")):
        return True
    lowered = url[:12].lower()
    if lowered.startswith(("data:", "http:", "https:", "mailto:", "blob:", "about:")):
        return True
    # Any other scheme ("chrome-extension:", "javascript:"): a colon before the first slash.
    colon = url.find(":")
    slash = url.find("/")
    return colon > 0 and (slash == -1 or colon < slash)


def split_suffix(url: str) -> tuple[str, str]:
    """Split ``a.png?v=1#x`` into ``("a.png", "?v=1#x")`` so the suffix survives rewriting."""
    cut = len(url)
    for sep in ("?", "#"):
        pos = url.find(sep)
        if pos != -1:
            cut = min(cut, pos)
    return url[:cut], url[cut:]


def apply_edits(text: str, edits: Iterable[tuple[int, int, str]]) -> str:
    """Replace non-overlapping ``(start, end, replacement)`` spans in one pass."""
    ordered: Sequence[tuple[int, int, str]] = sorted(edits)
    if not ordered:
        return text
    parts: list[str] = []
    pos = 0
    for start, end, replacement in ordered:
        if start < pos:
            raise ValueError(f"overlapping edits at offset {start}")
        parts.append(text[pos:start])
        parts.append(replacement)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def has_trailing_sourcemap(text: str) -> bool:
    """Whether the file ends with a ``sourceMappingURL`` comment (where browsers look).

    Only the tail is examined, so this stays cheap on megabyte-sized bundles.
    """
    return _TRAILING_SOURCEMAP.search(text[-2048:]) is not None

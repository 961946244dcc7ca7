"""Range requests (RFC 9110 §14): one byte range, ``If-Range``, ``Content-Range``.

Rules applied:

* Only the ``bytes`` unit is understood; any other unit, or a syntactically invalid
  header, means "ignore Range and send 200" (§14.2 lets a server ignore it).
* A single range is served as 206. Several ranges are also answered with a single 206 when
  they coalesce into one contiguous span (browsers' media elements do this); otherwise the
  header is ignored and the full body is sent — multipart/byteranges is rarely used, costs
  more than the full body for small files and is an amplification vector (§14.1.1 allows it).
* ``bytes=-N`` is the last N bytes; ``bytes=N-`` runs to the end; a last-pos past the end is
  clamped. A range whose first-pos is at or past the end is unsatisfiable (416), as is any
  range over an empty representation; ``bytes=-0`` is unsatisfiable.
* ``If-Range`` (§13.1.5): an entity-tag must *strongly* match (a weak tag never does); a date
  must equal the Last-Modified date exactly. Anything else, including an unparseable value,
  means "send the whole representation".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from perf_middleware.http._tokens import to_text
from perf_middleware.http.dates import parse_http_date

__all__ = [
    "UNSATISFIABLE",
    "ByteRange",
    "content_range",
    "if_range_allows",
    "parse_range",
    "unsatisfied_content_range",
]

_MAX_MEMBERS = 16  # more ranges than this is not a player seeking; ignore the header


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Half-open ``[start, stop)`` slice of the representation."""

    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


class _Unsatisfiable:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSATISFIABLE"


#: ``parse_range`` result for a syntactically valid range set that selects nothing (416).
UNSATISFIABLE: Final = _Unsatisfiable()


def _digits(text: str) -> int | None:
    if not text or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    return int(text)


def parse_range(value: str | bytes | None, size: int) -> ByteRange | _Unsatisfiable | None:
    """Range header -> the byte span to send, ``UNSATISFIABLE`` (416), or None (send 200)."""
    text = to_text(value).strip()
    unit, eq, spec = text.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    members = [m.strip() for m in spec.split(",")]
    members = [m for m in members if m]
    if not members or len(members) > _MAX_MEMBERS:
        return None
    spans: list[ByteRange] = []
    for member in members:
        first, dash, last = member.partition("-")
        first, last = first.strip(), last.strip()
        if not dash:
            return None
        if not first:  # suffix-range: the last N bytes
            n = _digits(last)
            if n is None:
                return None
            if n > 0 and size > 0:
                spans.append(ByteRange(max(0, size - n), size))
            continue
        start = _digits(first)
        if start is None:
            return None
        if last:
            end = _digits(last)
            if end is None or end < start:
                return None  # invalid range-spec: the whole header is ignored
            stop = min(end + 1, size)
        else:
            stop = size
        if start < size:
            spans.append(ByteRange(start, stop))
    if not spans:
        return UNSATISFIABLE
    spans.sort(key=lambda r: r.start)
    merged = spans[0]
    for span in spans[1:]:
        if span.start > merged.stop:
            return None  # disjoint ranges: send the whole body instead of multipart
        merged = ByteRange(merged.start, max(merged.stop, span.stop))
    return merged


def content_range(span: ByteRange, size: int) -> str:
    """``Content-Range`` of a 206: ``bytes 0-499/1234`` (last-pos inclusive)."""
    return f"bytes {span.start}-{span.stop - 1}/{size}"


def unsatisfied_content_range(size: int) -> str:
    """``Content-Range`` of a 416: ``bytes */1234``."""
    return f"bytes */{size}"


def if_range_allows(
    if_range: str | bytes | None, *, etag: str | None, last_modified: int | None
) -> bool:
    """True when the Range header may be honoured (no If-Range, or it still matches)."""
    text = to_text(if_range).strip()
    if not text:
        return True
    if text.startswith(('"', "W/", "w/")):
        if text[0] != '"' or etag is None or etag.startswith(("W/", "w/")):
            return False  # a weak validator never allows a partial response
        return text == etag
    when = parse_http_date(text)
    return when is not None and last_modified is not None and when == last_modified

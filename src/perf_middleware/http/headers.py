"""Helpers over ASGI raw header lists (``list[tuple[bytes, bytes]]``).

ASGI servers give lower-case request header names, but applications may send response
headers in any case (the spec only recommends lower case), so lookups compare
case-insensitively. These functions never raise on malformed items: a header list is data
from the application and must not turn into a 500 here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

RawHeaders = Sequence[tuple[bytes, bytes]]
MutableRawHeaders = list[tuple[bytes, bytes]]


def _same(a: bytes, name: bytes) -> bool:
    return a == name or (len(a) == len(name) and a.lower() == name)


def get_header(raw: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """First value of ``name`` (give it lower-case), or None."""
    for key, value in raw:
        if _same(key, name):
            return value
    return None


def get_all(raw: Iterable[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value for key, value in raw if _same(key, name)]


def get_joined(raw: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """All values of a list-valued header joined with ", " (RFC 9110 §5.3), or None."""
    values = get_all(raw, name)
    if not values:
        return None
    return values[0] if len(values) == 1 else b", ".join(values)


# request fields whose grammar is a comma-separated list (RFC 9110 §5.3): lines of one of
# these combine into one value that every reader agrees on
LIST_FIELDS = frozenset(
    {
        b"accept",
        b"accept-charset",
        b"accept-encoding",
        b"accept-language",
        b"cache-control",
        b"connection",
        b"cookie",
        b"expect",
        b"forwarded",
        b"if-match",
        b"if-none-match",
        b"pragma",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"via",
        b"x-forwarded-for",
    }
)
NO_FIELDS: frozenset[bytes] = frozenset()


def combine_fields(
    raw: Iterable[tuple[bytes, bytes]],
) -> tuple[dict[bytes, bytes], frozenset[bytes]]:
    """Request fields by lower-case name, each field's lines combined in order (RFC 9110
    §5.3: ", "; Cookie: "; ", RFC 9113 §8.2.3), and the names that came on several lines
    although their grammar has no list (Host, Authorization, If-Modified-Since, X-Tenant ...).

    ``dict(scope["headers"])`` keeps only the last line while most apps read the first; for
    a list field the combined value is what the field means, for the others no value is
    (an app may read either line), so nothing selected by them may come from a cache."""
    out: dict[bytes, bytes] = {}
    ambiguous: set[bytes] = set()
    for name, value in raw:
        name = name.lower()
        prior = out.get(name)
        if prior is None:
            out[name] = value
            continue
        if name not in LIST_FIELDS:
            ambiguous.add(name)
        out[name] = prior + (b"; " if name == b"cookie" else b", ") + value
    return out, frozenset(ambiguous) if ambiguous else NO_FIELDS


def has_header(raw: Iterable[tuple[bytes, bytes]], name: bytes) -> bool:
    return any(_same(key, name) for key, _ in raw)


def media_type(value: bytes | None) -> str:
    """A Content-Type value's media type (RFC 9110 §8.3.1), lower-case without parameters:
    ``text/HTML; charset=x`` -> ``text/html``; "" when absent."""
    if not value:
        return ""
    return value.split(b";", 1)[0].strip().lower().decode("latin-1")


def content_type(raw: Iterable[tuple[bytes, bytes]]) -> str:
    """The media type (lower-case, no parameters) or "" when absent."""
    return media_type(get_header(raw, b"content-type"))


def parse_length(value: bytes | None) -> int | None:
    """A Content-Length value as an int; None when absent or not a plain decimal."""
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def content_length(raw: Iterable[tuple[bytes, bytes]]) -> int | None:
    """Content-Length as an int, None when absent or not a plain non-negative integer."""
    return parse_length(get_header(raw, b"content-length"))

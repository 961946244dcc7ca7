"""Shared low-level helpers for the header parsers: decoding and list splitting.

Every parser in this package accepts ``str``, ``bytes`` or ``None`` and must never raise,
so the decoding and the quoted-string aware comma split live here once.
"""

from __future__ import annotations

import re

# delta-seconds larger than this are clamped to it (RFC 9111 §1.2.2).
DELTA_SECONDS_MAX = 2147483648


def to_text(value: str | bytes | bytearray | memoryview | None) -> str:
    """Header bytes are latin-1 on the wire; anything undecodable becomes an empty value."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return bytes(value).decode("latin-1")
    except (TypeError, ValueError):  # pragma: no cover - latin-1 decodes every byte
        return ""


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def is_token(text: str) -> bool:
    return _TOKEN.fullmatch(text) is not None


def split_list(text: str) -> list[str]:
    """Split a comma-separated header list, keeping commas inside quoted strings.

    Empty members (``a,,b``) are dropped, as RFC 9110 §5.6.1 tells recipients to do.
    """
    if '"' not in text:
        return [part.strip() for part in text.split(",") if part.strip()]
    parts: list[str] = []
    current: list[str] = []
    in_quotes = False
    escaped = False
    for ch in text:
        if in_quotes:
            current.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
            current.append(ch)
        elif ch == ",":
            member = "".join(current).strip()
            if member:
                parts.append(member)
            current = []
        else:
            current.append(ch)
    member = "".join(current).strip()
    if member:
        parts.append(member)
    return parts


def unquote(text: str) -> str | None:
    """Return the content of a quoted-string (backslash escapes removed), or None if the
    text is not a complete quoted-string."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return None
    inner = text[1:-1]
    if "\\" not in inner:
        return None if '"' in inner else inner
    out: list[str] = []
    escaped = False
    for ch in inner:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            return None
        else:
            out.append(ch)
    return None if escaped else "".join(out)


def parse_delta_seconds(text: str | None) -> int | None:
    """delta-seconds (RFC 9111 §1.2.2): digits only; huge values clamp, anything else is None.

    The quoted form (``max-age="60"``) is accepted because RFC 9111 §5.2 asks recipients to.
    """
    if text is None:
        return None
    if text.startswith('"'):
        inner = unquote(text)
        if inner is None:
            return None
        text = inner
    if not text or not text.isascii() or not text.isdigit():
        return None
    if len(text) > 10:
        return DELTA_SECONDS_MAX
    return min(int(text), DELTA_SECONDS_MAX)

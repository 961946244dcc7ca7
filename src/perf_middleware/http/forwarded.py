"""The client-facing origin a reverse proxy reports: ``Forwarded`` (RFC 7239) and the
de-facto ``X-Forwarded-Host`` / ``X-Forwarded-Proto``.

Only the host and the scheme are read: they name the resource (and so belong in a cache
key); ``for=``/``by=`` and ``X-Forwarded-For`` name the client and the proxy, not the
resource. A proxy that appends to these fields keeps whatever the client sent in front of
its own element, so only the LAST element (on the last line, repeated lines being combined
first to last) was written by the peer: that is the one read. Whether to believe it is the
caller's decision (the peer must be a trusted proxy).
"""

from __future__ import annotations

from collections.abc import Mapping

#: the fields :func:`forwarded_origin` reads, as raw header names
ORIGIN_FIELDS = (b"forwarded", b"x-forwarded-host", b"x-forwarded-proto")

_SCHEMES = frozenset({"http", "https"})


def _last(value: bytes) -> str:
    return value.decode("latin-1").rsplit(",", 1)[-1].strip()


def _forwarded_pairs(value: bytes) -> dict[str, str]:
    """``host``/``proto`` of the last element of a ``Forwarded`` field (RFC 7239 §4):
    ``for=..., for=192.0.2.60;proto=https;host="example.com"``."""
    pairs: dict[str, str] = {}
    element = _last(value)  # quoted commas do not occur in host/proto values
    for part in element.split(";"):
        name, sep, raw = part.partition("=")
        if not sep:
            continue
        text = raw.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        pairs[name.strip().lower()] = text
    return pairs


def forwarded_origin(headers: Mapping[bytes, bytes]) -> tuple[bytes | None, str | None]:
    """(host, scheme) a proxy reports, each None when absent or unusable.

    ``Forwarded`` wins over the ``X-Forwarded-*`` fields when both are present (it is the
    standard form); a scheme other than http/https is ignored.
    """
    host: str | None = None
    scheme: str | None = None
    forwarded = headers.get(b"forwarded")
    if forwarded is not None:
        pairs = _forwarded_pairs(forwarded)
        host = pairs.get("host") or None
        scheme = pairs.get("proto") or None
    if host is None:
        raw = headers.get(b"x-forwarded-host")
        host = _last(raw) or None if raw is not None else None
    if scheme is None:
        raw = headers.get(b"x-forwarded-proto")
        scheme = _last(raw) or None if raw is not None else None
    if scheme is not None:
        scheme = scheme.lower()
        if scheme not in _SCHEMES:
            scheme = None
    return (host.encode("latin-1") if host is not None else None), scheme

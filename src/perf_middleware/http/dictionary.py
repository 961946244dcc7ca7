"""Compression Dictionary Transport (RFC 9842): the header rules, as pure functions.

* ``Available-Dictionary`` (section 2.2) is a Structured Field Byte Sequence holding the
  SHA-256 of the one dictionary the client offers: ``:<base64 of 32 bytes>:``.
* ``Use-As-Dictionary`` (section 2.1) is a Structured Field Dictionary; ``match`` is a
  String holding a URL Pattern, ``match-dest`` an Inner List of Strings.
* A dictionary-compressed answer needs the client to name the coding itself
  (section 6.1: clients send ``dcz``/``dcb`` only when they offer a dictionary), so a
  ``*`` in ``Accept-Encoding`` never selects one.
* Section 8.4 (Server Responsibility): for a cross-origin request in ``cors`` mode the
  response must be readable by the requesting origin (``Access-Control-Allow-Origin``
  is ``*`` or that origin); any other cross-origin, non-navigation request gets no
  dictionary compression, so its size cannot reveal a dictionary the page could not read.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from perf_middleware.http.accept_encoding import parse_accept_encoding

SHA256_SIZE = 32


def parse_available_dictionary(value: bytes | None) -> bytes | None:
    """The 32-byte SHA-256 an ``Available-Dictionary`` value names, or None when the
    value is absent or not a well-formed Byte Sequence of that length."""
    if value is None:
        return None
    text = value.strip(b" \t")
    if len(text) < 2 or text[:1] != b":" or text[-1:] != b":":
        return None
    try:
        digest = base64.b64decode(text[1:-1], validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == SHA256_SIZE else None


def accepts_coding(accept_encoding: bytes | None, coding: str) -> bool:
    """True when the client named ``coding`` (``dcz``/``dcb``) with a non-zero weight."""
    if accept_encoding is None:
        return False
    return parse_accept_encoding(accept_encoding).get(coding, 0.0) > 0.0


def _sf_string(text: str) -> str:
    if not all(0x20 <= ord(ch) <= 0x7E for ch in text):
        raise ValueError(
            f"Use-As-Dictionary value {text!r} is not printable ASCII. "
            "HINT: percent-encode the URL pattern (asset_pipeline.manifest.urlpattern_literal)."
        )
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def use_as_dictionary(match: str, match_dest: Sequence[str] = ()) -> str:
    """The ``Use-As-Dictionary`` value for a URL Pattern and optional destinations."""
    value = f"match={_sf_string(match)}"
    if match_dest:
        value += ", match-dest=(" + " ".join(_sf_string(d) for d in match_dest) + ")"
    return value


def dictionary_allowed(
    *,
    sec_fetch_site: bytes | None,
    sec_fetch_mode: bytes | None,
    origin: bytes | None,
    allow_origin: str | None,
) -> bool:
    """RFC 9842 section 8.4: may this request get a dictionary-compressed response?"""
    if sec_fetch_site is None or sec_fetch_site.strip() == b"same-origin":
        return True
    if sec_fetch_mode is None:
        return True
    mode = sec_fetch_mode.strip()
    if mode in (b"navigate", b"same-origin"):
        return True
    if mode == b"cors" and allow_origin is not None and origin is not None:
        return allow_origin == "*" or allow_origin.encode("latin-1") == origin.strip()
    return False


#: The request fields ``dictionary_request`` reads, lower-case.
_DICTIONARY_FIELDS = frozenset(
    (b"available-dictionary", b"accept-encoding", b"sec-fetch-site", b"sec-fetch-mode", b"origin")
)


def dictionary_request(raw_headers: Sequence[tuple[bytes, bytes]] | None, sha256: bytes) -> bool:
    """Whether a request (its raw ASGI header list) may get a response compressed with the
    dictionary whose SHA-256 is ``sha256``: ``Available-Dictionary`` names that very
    dictionary (section 2.2), ``dcz`` is named in ``Accept-Encoding`` (section 6.1) and the
    section 8.4 rule allows it. A response compressed here carries no
    ``Access-Control-Allow-Origin``, so a cross-origin ``cors`` request never qualifies."""
    fields: dict[bytes, bytes] = {}
    for name, value in raw_headers or ():
        if name in _DICTIONARY_FIELDS:
            prior = fields.get(name)
            fields[name] = value if prior is None else prior + b", " + value
    offered = fields.get(b"available-dictionary")
    if offered is None or parse_available_dictionary(offered) != sha256:
        return False
    return accepts_coding(fields.get(b"accept-encoding"), "dcz") and dictionary_allowed(
        sec_fetch_site=fields.get(b"sec-fetch-site"),
        sec_fetch_mode=fields.get(b"sec-fetch-mode"),
        origin=fields.get(b"origin"),
        allow_origin=None,
    )

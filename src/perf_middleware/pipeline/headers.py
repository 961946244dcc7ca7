"""Pure helpers that shape response headers for the pipeline and for a cache stage.

Kept apart from the per-request ``Responder`` so the cache can build the same 304s and
encoded-variant headers from stored responses, and so each piece is testable on its own.
Everything works on raw ASGI header lists and never raises on odd header values.
"""

from __future__ import annotations

from typing import Any

from perf_middleware.http.etag import encoding_etag
from perf_middleware.http.headers import MutableRawHeaders, RawHeaders
from perf_middleware.http.vary import merge_vary

# Fields a 304 carries (RFC 9110 §15.4.5): enough for a cache to refresh its stored response.
NOT_MODIFIED_KEEP = frozenset(
    {b"etag", b"cache-control", b"content-location", b"date", b"expires", b"vary"}
)


def not_modified_headers(headers: MutableRawHeaders) -> MutableRawHeaders:
    """The headers of the 304 answering a request for a response with ``headers``."""
    return [(k, v) for k, v in headers if k.lower() in NOT_MODIFIED_KEEP]


_SCANNED = {
    b"content-type": "content_type",
    b"content-encoding": "content_encoding",
    b"cache-control": "cache_control",
    b"etag": "etag",
    b"last-modified": "last_modified",
    b"content-length": "content_length",
    b"vary": "vary",
    b"set-cookie": "set_cookie",
}


class ResponseFields:
    """The raw values of the response fields the pipeline reads, None when absent."""

    __slots__ = (
        "cache_control",
        "content_encoding",
        "content_length",
        "content_type",
        "etag",
        "last_modified",
        "set_cookie",
        "vary",
    )

    def __init__(self) -> None:
        self.content_type: bytes | None = None
        self.content_encoding: bytes | None = None
        self.cache_control: bytes | None = None
        self.etag: bytes | None = None
        self.last_modified: bytes | None = None
        self.content_length: bytes | None = None
        self.vary: bytes | None = None
        self.set_cookie: bytes | None = None

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in _SCANNED.values())
        return f"ResponseFields({values})"


def scan(headers: RawHeaders) -> ResponseFields:
    """One pass over response headers: the first value of each field the pipeline reads,
    names compared case-insensitively; Vary lines are combined (RFC 9110 §12.5.5)."""
    found = ResponseFields()
    for key, value in headers:
        attribute = _SCANNED.get(key.lower())
        if attribute is None:
            continue
        prior = getattr(found, attribute)
        if prior is None:
            setattr(found, attribute, value)
        elif attribute == "vary":
            found.vary = prior + b", " + value
    return found


def app_headers(raw: Any) -> MutableRawHeaders:
    """A new list of the app's raw response headers as ``(bytes, bytes)`` tuples. ASGI lets
    an app send any iterable of two-item iterables of byte strings (``[name, value]`` lists,
    bytearray values); the header helpers here take tuples of bytes."""
    headers: MutableRawHeaders = []
    for pair in raw or ():
        if bytes_pair(pair):
            headers.append(pair)
        else:
            name, value = pair
            headers.append((bytes(name), bytes(value)))
    return headers


def bytes_pair(pair: Any) -> bool:
    """Whether ``pair`` is a ``(bytes, bytes)`` tuple: the one header shape the pipeline's
    helpers take as it is (ASGI allows others)."""
    return (
        type(pair) is tuple and len(pair) == 2 and type(pair[0]) is bytes and type(pair[1]) is bytes
    )


def _encoding_etag(value: bytes, coding: str) -> bytes:
    if value[:1] == b'"':  # the usual strong tag: weaken without a parse
        return b"W/" + value
    return encoding_etag(value.decode("latin-1"), coding).encode("latin-1")


def _append_vary(
    out: MutableRawHeaders, lines: list[bytes], *, accept_encoding: bool, dictionary: bool = False
) -> None:
    """The response's Vary lines as one field (RFC 9110 §5.3), with Accept-Encoding (and, for
    a response the site dictionary may compress, Available-Dictionary: RFC 9842 section 6)
    merged in if asked (``http.vary.merge_vary``)."""
    if accept_encoding:
        fields = ("Accept-Encoding", "Available-Dictionary") if dictionary else ("Accept-Encoding",)
        if not lines:
            out.append((b"vary", ", ".join(fields).encode("latin-1")))
        else:
            merged = merge_vary(b", ".join(lines), *fields)
            out.append((b"vary", merged.encode("latin-1")))
    elif lines:
        out.append((b"vary", b", ".join(lines)))


def not_modified_from(
    headers: MutableRawHeaders, coding: str | None, *, vary: bool, dictionary: bool = False
) -> MutableRawHeaders:
    """One pass: the 304 headers for a response with ``headers`` that would have been sent
    with ``coding`` (ETag weakened for a real coding) and, if ``vary``, Vary: Accept-Encoding
    (and Available-Dictionary with ``dictionary``)."""
    encoded = coding is not None and coding != "identity"
    out: MutableRawHeaders = []
    vary_lines: list[bytes] = []
    for key, value in headers:
        name = key if key.islower() else key.lower()
        if name not in NOT_MODIFIED_KEEP:
            continue
        if name == b"vary":
            vary_lines.append(value)
            continue
        if encoded and name == b"etag":
            assert coding is not None
            value = _encoding_etag(value, coding)
        out.append((key, value))
    _append_vary(out, vary_lines, accept_encoding=vary, dictionary=dictionary)
    return out


def mark_encoded(
    headers: MutableRawHeaders, coding: str | None, *, vary: bool = True, dictionary: bool = False
) -> None:
    """Vary: Accept-Encoding merged once (with Available-Dictionary when ``dictionary``); for a
    real coding, Content-Encoding set, Content-Length dropped (the caller sets the new one)
    and a strong ETag weakened (``encoding_etag``)."""
    out: MutableRawHeaders = []
    vary_lines: list[bytes] = []
    for key, value in headers:
        name = key.lower()
        if name == b"vary":
            vary_lines.append(value)
            continue
        if coding is not None and coding != "identity":
            if name == b"content-length":
                continue
            if name == b"etag":
                value = _encoding_etag(value, coding)
        out.append((key, value))
    _append_vary(out, vary_lines, accept_encoding=vary, dictionary=dictionary)
    if coding is not None and coding != "identity":
        out.append((b"content-encoding", coding.encode("latin-1")))
    headers[:] = out

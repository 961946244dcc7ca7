"""Pure helpers that shape response headers for the pipeline and for a cache stage.

Kept apart from the per-request ``Responder`` so the cache can build the same 304s and
encoded-variant headers from stored responses, and so each piece is testable on its own.
Everything works on raw ASGI header lists and never raises on odd header values.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from perf_middleware.compression import CompressionConfig, compressible_response
from perf_middleware.http.etag import encoding_etag
from perf_middleware.http.headers import MutableRawHeaders, content_type, get_header
from perf_middleware.http.vary import merge_vary

if TYPE_CHECKING:
    from perf_middleware.pipeline import Pipeline

# Fields a 304 carries (RFC 9110 §15.4.5): enough for a cache to refresh its stored response.
NOT_MODIFIED_KEEP: Final = frozenset(
    {b"etag", b"cache-control", b"content-location", b"date", b"expires", b"vary"}
)


def not_modified_headers(headers: MutableRawHeaders) -> MutableRawHeaders:
    """The headers of the 304 answering a request for a response with ``headers``."""
    return [(k, v) for k, v in headers if k.lower() in NOT_MODIFIED_KEEP]


# indexes into what ``scan`` returns (Final: compiled code inlines them)
CT: Final = 0
CE: Final = 1
CC: Final = 2
ETAG: Final = 3
LM: Final = 4
CL: Final = 5
VARY: Final = 6
_FIELDS: Final = {
    b"content-type": CT,
    b"content-encoding": CE,
    b"cache-control": CC,
    b"etag": ETAG,
    b"last-modified": LM,
    b"content-length": CL,
    b"vary": VARY,
}


def bytes_pair(pair: Any) -> bool:
    """Whether ``pair`` is a ``(bytes, bytes)`` tuple: the one header shape the pipeline's
    helpers take as it is (ASGI allows others)."""
    return (
        type(pair) is tuple and len(pair) == 2 and type(pair[0]) is bytes and type(pair[1]) is bytes
    )


def app_headers(raw: Any) -> MutableRawHeaders:
    """A new list of the app's raw response headers as ``(bytes, bytes)`` tuples. ASGI lets
    an app send any iterable of two-item iterables of byte strings (``[name, value]`` lists,
    bytearray values); the pipeline's helpers, compiled, insist on the declared type."""
    headers: MutableRawHeaders = []
    for pair in raw or ():
        if bytes_pair(pair):
            headers.append(pair)
        else:
            name, value = pair
            headers.append((bytes(name), bytes(value)))
    return headers


def scan(headers: MutableRawHeaders) -> list[bytes | None]:
    """One pass over response headers (an app's, through ``app_headers``): the first value of
    each field the pipeline reads (Vary values joined). Indexes: ``CT CE CC ETAG LM CL VARY``."""
    found: list[bytes | None] = [None, None, None, None, None, None, None]
    for key, value in headers:
        index = _FIELDS.get(key)
        if index is None:
            if key.islower():
                continue
            index = _FIELDS.get(key.lower())
            if index is None:
                continue
        prior = found[index]
        if prior is None:
            found[index] = value
        elif index == VARY:
            found[index] = prior + b", " + value
    return found


@lru_cache(maxsize=256)
def media_type(value: bytes | None) -> str:
    """``text/HTML; charset=x`` -> ``text/html``; "" when absent."""
    if not value:
        return ""
    return value.split(b";", 1)[0].strip().lower().decode("latin-1")


def parse_length(value: bytes | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def compressible(config: CompressionConfig, status: int, found: list[bytes | None]) -> bool:
    return compressible_response(config, status, media_type(found[CT]), found[CE], found[CC])


def would_compress(
    pipeline: Pipeline, status: int, headers: MutableRawHeaders, size: int | None
) -> bool:
    """Whether this response is subject to negotiation (it then varies on Accept-Encoding)."""
    config = pipeline.compression
    if config is None or (size is not None and size < config.minimum_size):
        return False
    return compressible_response(
        config,
        status,
        content_type(headers),
        get_header(headers, b"content-encoding"),
        get_header(headers, b"cache-control"),
    )


def _encoding_etag(value: bytes, coding: str) -> bytes:
    if value[:1] == b'"':  # the usual strong tag: weaken without a parse
        return b"W/" + value
    return encoding_etag(value.decode("latin-1"), coding).encode("latin-1")


def _vary_accept_encoding(existing: bytes | None) -> bytes:
    if existing is None:
        return b"Accept-Encoding"
    return merge_vary(existing, "Accept-Encoding").encode("latin-1")


def not_modified_from(
    headers: MutableRawHeaders, coding: str | None, *, vary: bool
) -> MutableRawHeaders:
    """One pass: the 304 headers for a response with ``headers`` that would have been sent
    with ``coding`` (ETag weakened for a real coding) and, if ``vary``, Vary: Accept-Encoding."""
    encoded = coding is not None and coding != "identity"
    out: MutableRawHeaders = []
    vary_value: bytes | None = None
    for key, value in headers:
        name = key if key.islower() else key.lower()
        if name not in NOT_MODIFIED_KEEP:
            continue
        if name == b"vary":
            vary_value = value if vary_value is None else vary_value + b", " + value
            continue
        if encoded and name == b"etag":
            assert coding is not None
            value = _encoding_etag(value, coding)
        out.append((key, value))
    if vary:
        out.append((b"vary", _vary_accept_encoding(vary_value)))
    elif vary_value is not None:
        out.append((b"vary", vary_value))
    return out


def mark_encoded(headers: MutableRawHeaders, coding: str | None, *, vary: bool = True) -> None:
    """Vary: Accept-Encoding merged once; for a real coding, Content-Encoding set, Content-Length
    dropped (the caller sets the new one) and a strong ETag weakened (``encoding_etag``)."""
    out: MutableRawHeaders = []
    vary_value: bytes | None = None
    for key, value in headers:
        name = key.lower()
        if name == b"vary":
            vary_value = value if vary_value is None else vary_value + b", " + value
            continue
        if coding is not None and coding != "identity":
            if name == b"content-length":
                continue
            if name == b"etag":
                value = _encoding_etag(value, coding)
        out.append((key, value))
    if vary:
        out.append((b"vary", _vary_accept_encoding(vary_value)))
    elif vary_value is not None:
        out.append((b"vary", vary_value))
    if coding is not None and coding != "identity":
        out.append((b"content-encoding", coding.encode("latin-1")))
    headers[:] = out

"""The request side of static serving: headers read in one pass, representation chosen.

Selection order: image format (``Accept``, only alternates the client names explicitly),
then a delta against the dictionary the client offers (RFC 9842), then content coding
(``Accept-Encoding``, the smallest acceptable precompressed sibling).
A request with ``Range`` gets an uncompressed representation, so byte offsets mean what
media players and download managers expect.
"""

from __future__ import annotations

from perf_middleware.http.accept import choose_image_format
from perf_middleware.http.accept_encoding import choose_encoding
from perf_middleware.http.dictionary import (
    accepts_coding,
    dictionary_allowed,
    parse_available_dictionary,
)
from perf_middleware.static.files import Representation, StaticFile

__all__ = ["StaticRequest", "select"]


class StaticRequest:
    """The request headers static serving looks at, read in one pass."""

    __slots__ = (
        "accept",
        "accept_encoding",
        "available_dictionary",
        "if_match",
        "if_modified_since",
        "if_none_match",
        "if_range",
        "if_unmodified_since",
        "origin",
        "range",
        "sec_fetch_mode",
        "sec_fetch_site",
    )

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.accept: bytes | None = None
        self.accept_encoding: bytes | None = None
        self.if_match: bytes | None = None
        self.if_modified_since: bytes | None = None
        self.if_none_match: bytes | None = None
        self.if_range: bytes | None = None
        self.if_unmodified_since: bytes | None = None
        self.range: bytes | None = None
        self.available_dictionary: bytes | None = None
        self.sec_fetch_site: bytes | None = None
        self.sec_fetch_mode: bytes | None = None
        self.origin: bytes | None = None
        for key, value in raw:
            if key == b"accept-encoding":
                self.accept_encoding = _combined(self.accept_encoding, value)
            elif key == b"if-none-match":
                self.if_none_match = value
            elif key == b"accept":
                self.accept = value
            elif key == b"if-modified-since":
                self.if_modified_since = value
            elif key == b"range":
                self.range = value
            elif key == b"if-range":
                self.if_range = value
            elif key == b"if-match":
                self.if_match = value
            elif key == b"if-unmodified-since":
                self.if_unmodified_since = value
            elif key == b"available-dictionary":
                self.available_dictionary = _combined(self.available_dictionary, value)
            elif key == b"sec-fetch-site":
                self.sec_fetch_site = _combined(self.sec_fetch_site, value)
            elif key == b"sec-fetch-mode":
                self.sec_fetch_mode = _combined(self.sec_fetch_mode, value)
            elif key == b"origin":
                self.origin = _combined(self.origin, value)


def _combined(prior: bytes | None, value: bytes) -> bytes:
    """A field sent on several lines is their comma-joined value (RFC 9110 section 5.3):
    two ``Accept-Encoding`` lines are one list, two ``Available-Dictionary`` lines name no
    dictionary and two ``Sec-Fetch-*`` lines no single mode or site, so a repeat never
    picks the one line that allows a delta."""
    return value if prior is None else prior + b", " + value


def delta_for(
    file: StaticFile, request: StaticRequest, allow_origin: str | None
) -> Representation | None:
    """The RFC 9842 delta this request asked for, if the build made one: the client named
    a dictionary we have a delta against, listed ``dcz`` itself, and may read the
    response (``http.dictionary.dictionary_allowed``)."""
    digest = parse_available_dictionary(request.available_dictionary)
    rep = file.deltas.get(digest) if digest is not None else None
    if rep is None or not accepts_coding(request.accept_encoding, rep.coding):
        return None
    allowed = dictionary_allowed(
        sec_fetch_site=request.sec_fetch_site,
        sec_fetch_mode=request.sec_fetch_mode,
        origin=request.origin,
        allow_origin=allow_origin,
    )
    return rep if allowed else None


def select(
    file: StaticFile, request: StaticRequest, *, allow_origin: str | None = None
) -> Representation:
    """The representation of ``file`` this request gets (image format, then a delta
    against the client's dictionary, then coding). ``allow_origin`` is the
    ``Access-Control-Allow-Origin`` the response carries (for cross-origin deltas)."""
    if file.image_candidates:
        chosen = choose_image_format(
            request.accept, file.image_candidates, original=(file.media_type, file.identity.size)
        )
        if chosen != file.media_type:
            return file.images[chosen]
    if file.deltas and request.available_dictionary is not None and request.range is None:
        delta = delta_for(file, request, allow_origin)
        if delta is not None:
            return delta
    if file.codings and request.range is None:
        coding = choose_encoding(request.accept_encoding, file.codings)
        if coding is not None and coding != "identity":
            return file.encoded[coding]
    return file.identity

"""The request side of static serving: headers read in one pass, representation chosen.

Selection order: image format (``Accept``, only alternates the client names explicitly),
then content coding (``Accept-Encoding``, the smallest acceptable precompressed sibling).
A request with ``Range`` gets an uncompressed representation, so byte offsets mean what
media players and download managers expect.
"""

from __future__ import annotations

from perf_middleware.http.accept import choose_image_format
from perf_middleware.http.accept_encoding import choose_encoding
from perf_middleware.static.files import Representation, StaticFile

__all__ = ["StaticRequest", "select"]


class StaticRequest:
    """The request headers static serving looks at, read in one pass."""

    __slots__ = (
        "accept",
        "accept_encoding",
        "if_match",
        "if_modified_since",
        "if_none_match",
        "if_range",
        "if_unmodified_since",
        "range",
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
        for key, value in raw:
            if key == b"accept-encoding":
                self.accept_encoding = value
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


def select(file: StaticFile, request: StaticRequest) -> Representation:
    """The representation of ``file`` this request gets (image format, then coding)."""
    if file.image_candidates:
        chosen = choose_image_format(
            request.accept, file.image_candidates, original=(file.media_type, file.identity.size)
        )
        if chosen != file.media_type:
            return file.images[chosen]
    if file.codings and request.range is None:
        coding = choose_encoding(request.accept_encoding, file.codings)
        if coding is not None and coding != "identity":
            return file.encoded[coding]
    return file.identity

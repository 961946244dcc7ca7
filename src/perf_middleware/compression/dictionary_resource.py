"""The site dictionary's own URL: ``GET {url_prefix}/{sha-256 hex}.dict``.

The response carries ``Use-As-Dictionary`` (RFC 9842 section 2.1), which makes the browser
keep the bytes as a dictionary for the pages its ``match`` pattern covers; the URL names the
content's hash, so it is cached for ``max_age`` as immutable. Every representation is
worked out once at start-up (the dictionary never changes while the process runs): the
identity bytes and brotli / zstd at their slowest levels, each kept only when smaller.
"""

from __future__ import annotations

from perf_middleware.compression.codecs import compress_body
from perf_middleware.compression.site_dictionary import SiteDictionary
from perf_middleware.http.accept_encoding import choose_encoding
from perf_middleware.http.etag import etag_matches_any
from perf_middleware.types import Receive, Scope, Send

__all__ = ["DictionaryResource"]

#: Codings of the dictionary download, in server preference, at their slowest level.
_LEVELS = (("br", 11), ("zstd", 19))
#: Fields of a 304 (RFC 9110 section 15.4.5), with the one that refreshes the dictionary.
_NOT_MODIFIED_KEEP = frozenset((b"etag", b"cache-control", b"vary", b"use-as-dictionary"))


class DictionaryResource:
    """Answers the dictionary's URL (``matches``); one per middleware."""

    __slots__ = ("_bodies", "_codings", "_headers", "etag", "url")

    def __init__(self, dictionary: SiteDictionary) -> None:
        config = dictionary.config
        self.url = dictionary.url
        self.etag = f'"{dictionary.sha256.hex()}"'
        common = [
            (b"content-type", b"application/octet-stream"),
            (b"use-as-dictionary", dictionary.use_as),
            (b"cache-control", b"public, max-age=%d, immutable" % config.max_age),
            (b"vary", b"Accept-Encoding"),
        ]
        self._bodies: dict[str, bytes] = {"identity": dictionary.data}
        for coding, level in _LEVELS:
            packed = compress_body(dictionary.data, coding, level)
            if len(packed) < len(dictionary.data):
                self._bodies[coding] = packed
        self._codings = tuple(c for c in self._bodies if c != "identity")
        self._headers: dict[str, list[tuple[bytes, bytes]]] = {}
        for coding, body in self._bodies.items():
            headers = list(common)
            if coding == "identity":
                headers.append((b"etag", self.etag.encode("latin-1")))
            else:
                headers.append((b"etag", b"W/" + self.etag.encode("latin-1")))
                headers.append((b"content-encoding", coding.encode("latin-1")))
            headers.append((b"content-length", b"%d" % len(body)))
            self._headers[coding] = headers

    def matches(self, path: str) -> bool:
        return path == self.url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _send(send, 405, [(b"allow", b"GET, HEAD"), (b"content-length", b"0")], b"")
            return
        accept: bytes | None = None
        if_none_match: bytes | None = None
        for name, value in scope.get("headers") or ():
            if name == b"accept-encoding":
                accept = value if accept is None else accept + b", " + value
            elif name == b"if-none-match":
                if_none_match = value if if_none_match is None else if_none_match + b", " + value
        coding = choose_encoding(accept, self._codings) or "identity"
        headers = self._headers[coding]
        if if_none_match is not None and etag_matches_any(if_none_match, self.etag):
            kept = [(k, v) for k, v in headers if k in _NOT_MODIFIED_KEEP]
            await _send(send, 304, kept, b"")
            return
        await _send(send, 200, headers, b"" if method == "HEAD" else self._bodies[coding])


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

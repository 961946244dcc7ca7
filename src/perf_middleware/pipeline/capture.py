"""What a cache stage records of a response while the pipeline sends it.

The ``Responder`` fills a ``Capture`` with the identity response after policy and ETag (before
conditional evaluation and compression): what the cache stores and serves again.
"""

from __future__ import annotations

from perf_middleware.http.headers import MutableRawHeaders

__all__ = ["Capture"]


class Capture:
    """What the app answered, for a cache: status, headers after policy and ETag, the identity
    body (up to ``limit`` bytes; ``overflow`` once exceeded) and whether it completed."""

    __slots__ = ("body", "complete", "headers", "limit", "overflow", "status", "streamed")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.status = 0
        self.headers: MutableRawHeaders = []
        self.body = bytearray()
        self.complete = False
        self.overflow = False
        self.streamed = False

    def add(self, chunk: bytes) -> None:
        if self.overflow:
            return
        if len(self.body) + len(chunk) > self.limit:
            self.overflow = True
            self.body = bytearray()
        else:
            self.body += chunk

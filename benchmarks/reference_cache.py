"""The reference response cache: the least a correct shared cache must do on a hit.

One dict lookup keyed by path, query and the chosen content coding; a start message built
once at store time (Content-Type, Cache-Control, Content-Length, Content-Encoding, Vary,
ETag) whose header list gets ``Age`` (computed per hit, RFC 9111 §5.1) and ``Cache-Status``
(RFC 9211, ``ttl`` from the response's ``max-age``) appended; two ``send`` calls.  A stored
response is used only while it is fresh (RFC 9111 §4: a cache MUST NOT use a stale one
without permission); past its lifetime the request goes to the app, which stores it again.
Every coding is compressed once, at store time, at the levels a build step would use.  It
has no Vary support beyond Accept-Encoding, no invalidation, no conditional requests and no
size bound: it is a cost floor, not a cache.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import time
from typing import Any

import brotli
import zstandard

CODINGS = ((b"zstd", lambda b: zstandard.ZstdCompressor(level=19).compress(b)),
           (b"br", lambda b: brotli.compress(b, quality=11)),
           (b"gzip", lambda b: gzip.compress(b, 9)))  # fmt: skip
KEPT = (b"content-type", b"cache-control")


class ReferenceCache:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.store: dict[tuple[str, bytes, bytes], tuple[list[Any], bytes, float, int]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        accept = b""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value
        coding = next((c for c, _ in CODINGS if c in accept), b"identity")
        hit = self.store.get((scope["path"], scope["query_string"], coding))
        if hit is not None:
            headers, body, stored_at, lifetime = hit
            age = int(time.time() - stored_at)
            if age < lifetime:  # fresh (RFC 9111 §4.2); a stale entry goes to the app
                extra = [
                    (b"age", b"%d" % age),
                    (b"cache-status", b"ref; hit; ttl=%d" % (lifetime - age)),
                ]
                await send(
                    {"type": "http.response.start", "status": 200, "headers": headers + extra}
                )
                await send({"type": "http.response.body", "body": body})
                return
        parts: list[Any] = []

        async def capture(message: Any) -> None:
            parts.append(message)
            await send(message)

        await self.app(scope, receive, capture)
        start, body = parts[0], b"".join(m.get("body", b"") for m in parts[1:])
        if start["status"] != 200:
            return
        kept = [(k, v) for k, v in start["headers"] if k in KEPT]
        found = re.search(rb"max-age=(\d+)", dict(kept).get(b"cache-control", b""))
        if found is None:
            return
        lifetime = int(found.group(1))
        tag = hashlib.blake2b(body, digest_size=16).hexdigest().encode()
        now = time.time()
        for name, compress in ((b"identity", bytes), *CODINGS):
            data = compress(body)
            headers = [*kept, (b"content-length", b"%d" % len(data)), (b"vary", b"Accept-Encoding")]
            if name != b"identity":
                headers += [(b"content-encoding", name), (b"etag", b'W/"' + tag + b'"')]
            else:
                headers.append((b"etag", b'"' + tag + b'"'))
            self.store[(scope["path"], scope["query_string"], name)] = (
                headers,
                data,
                now,
                lifetime,
            )

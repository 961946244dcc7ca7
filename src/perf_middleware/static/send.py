"""The response side of static serving: fixed error responses, ranges, disk reads.

In-memory bodies go out in one ``send``; files on disk are read in large chunks in a
worker thread (ServeStatic's 8 KiB reads through a fresh thread pool per request are what
make it slow on large files).
"""

from __future__ import annotations

import logging

import anyio

from perf_middleware.http.ranges import ByteRange, content_range
from perf_middleware.static.files import Representation
from perf_middleware.types import MutableRawHeaders, Receive, Send

logger = logging.getLogger("perf_middleware.static")


NOT_FOUND_HEADERS: MutableRawHeaders = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"9"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]
NOT_ALLOWED_HEADERS: MutableRawHeaders = [
    (b"allow", b"GET, HEAD"),
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", b"18"),
    (b"x-content-type-options", b"nosniff"),
]


async def send_simple(send: Send, status: int, headers: MutableRawHeaders, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_partial(
    send: Send, rep: Representation, span: ByteRange, *, head: bool, chunk_size: int
) -> None:
    """206 for ``span`` of an uncompressed representation, from memory or from disk."""
    headers = [(k, v) for k, v in rep.headers if k != b"content-length"]
    headers.append((b"content-length", str(span.length).encode()))
    headers.append((b"content-range", content_range(span, rep.size).encode()))
    if head or rep.body is not None:
        body = b"" if head or rep.body is None else rep.body[span.start : span.stop]
        await send({"type": "http.response.start", "status": 206, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    else:
        await send_file(send, rep, 206, headers, span.start, span.stop, chunk_size)


async def send_file(
    send: Send,
    rep: Representation,
    status: int,
    headers: MutableRawHeaders,
    start: int,
    stop: int,
    chunk_size: int,
) -> None:
    """Big reads in a worker thread. The file was checked at start-up but can vanish
    under a running server (a bad deploy): before the headers that is a 404, after
    them the body ends early and the server closes the connection."""
    chunk = chunk_size
    remaining = stop - start
    try:
        fh = await anyio.open_file(rep.path, "rb")
    except OSError as exc:
        logger.error("static file unreadable path=%s error=%s", rep.path, exc)
        await send_simple(send, 404, NOT_FOUND_HEADERS, b"Not Found")
        return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    try:
        async with fh:
            if start:
                await fh.seek(start)
            while remaining > 0:
                data = await fh.read(min(chunk, remaining))
                if not data:
                    break
                remaining -= len(data)
                await send({"type": "http.response.body", "body": data, "more_body": remaining > 0})
    except OSError as exc:
        logger.error("static file read failed path=%s error=%s", rep.path, exc)
    if remaining > 0:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def not_http(kind: str, receive: Receive, send: Send) -> None:
    """Lifespan is acknowledged (the app is usable on its own); websockets are refused."""
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif kind == "websocket":
        await send({"type": "websocket.close", "code": 1008})

"""End to end through a real uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import brotli
import httpx
import pytest
import zstandard
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Route

from perf_middleware.middleware import PerformanceMiddleware
from tests.support.servers import UvicornServer


def incremental_decoder(coding: str) -> Callable[[bytes], bytes]:
    if coding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress
    if coding == "br":
        return brotli.Decompressor().process
    return zlib.decompressobj(31).decompress


class Gate:
    """Lets the test release the server's next event only after it has decoded the last one:
    if anything buffered the stream, the client would never see the first event and the
    read would time out."""

    def __init__(self) -> None:
        self.released = threading.Semaphore(0)

    def release(self) -> None:
        self.released.release()

    async def wait(self) -> None:
        ok = await asyncio.to_thread(self.released.acquire, True, 10)
        if not ok:
            raise TimeoutError("client never acknowledged the previous event")


GATE = Gate()
EVENTS = 4


async def sse(request: Request) -> StreamingResponse:
    async def stream() -> AsyncIterator[str]:
        for i in range(EVENTS):
            if i:
                await GATE.wait()
            yield f"id: {i}\ndata: {'event payload ' * 4}{i}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>deck</title>" + "<p>measure first</p>" * 200)


@pytest.fixture(scope="module")
def server() -> Iterator[UvicornServer]:
    app = Starlette(routes=[Route("/sse", sse), Route("/", page)])
    with UvicornServer(PerformanceMiddleware(app)) as srv:
        yield srv


@pytest.mark.parametrize("coding", ["zstd", "br", "gzip"])
def test_sse_chunks_arrive_compressed_before_the_stream_ends(
    server: UvicornServer, coding: str
) -> None:
    decode = incremental_decoder(coding)
    received = b""
    seen = 0
    with (
        httpx.Client(timeout=5) as client,
        client.stream("GET", f"{server.url}/sse", headers={"accept-encoding": coding}) as res,
    ):
        assert res.headers["content-encoding"] == coding
        assert "content-length" not in res.headers
        assert res.headers["vary"] == "Accept-Encoding"
        for raw in res.iter_raw():
            received += decode(raw)
            while f"data: {'event payload ' * 4}{seen}\n\n".encode() in received:
                seen += 1
                if seen < EVENTS:
                    GATE.release()  # the server sends event n+1 only now
    assert seen == EVENTS


def test_304_round_trip_with_either_validator(server: UvicornServer) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        plain = client.get("/", headers={"accept-encoding": "identity"})
        assert plain.status_code == 200
        strong = plain.headers["etag"]
        assert not strong.startswith("W/")
        compressed = client.get("/", headers={"accept-encoding": "gzip, deflate, br, zstd"})
        assert compressed.headers["content-encoding"] == "zstd"
        assert compressed.content == plain.content
        weak = compressed.headers["etag"]
        assert weak == "W/" + strong
        for held in (strong, weak):
            res = client.get("/", headers={"if-none-match": held, "accept-encoding": "br"})
            assert res.status_code == 304
            assert res.content == b""
            assert res.headers["etag"] == weak
            assert res.headers["cache-control"] == "no-cache"
        changed = client.get("/", headers={"if-none-match": '"other"'})
        assert changed.status_code == 200


def test_get_and_head_negotiate_the_same_representation(server: UvicornServer) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        page = client.get("/", headers={"accept-encoding": "br"})
        assert page.headers["content-encoding"] == "br"
        assert page.text.count("<p>measure first</p>") == 200
        head = client.head("/", headers={"accept-encoding": "br"})
        assert head.headers["content-encoding"] == "br"
        assert head.headers["vary"] == page.headers["vary"]
        assert head.headers["cache-control"] == page.headers["cache-control"]
        assert head.content == b""
        # Starlette sends the body on HEAD too: the ETag is made from it, exactly as for GET
        assert page.headers["etag"].startswith('W/"')
        assert head.headers["etag"] == page.headers["etag"]
        plain_get = client.get("/", headers={"accept-encoding": "identity"})
        plain_head = client.head("/", headers={"accept-encoding": "identity"})
        assert plain_get.headers["etag"].startswith('"')
        assert plain_head.headers["etag"] == plain_get.headers["etag"]
        assert plain_head.headers["content-length"] == plain_get.headers["content-length"]
        # and a HEAD revalidation with either validator is answered 304
        for held, coding in ((plain_get.headers["etag"], "identity"), (page.headers["etag"], "br")):
            again = client.head("/", headers={"accept-encoding": coding, "if-none-match": held})
            assert again.status_code == 304
            assert again.headers["etag"] == held


def test_large_json_through_uvicorn(server: UvicornServer) -> None:
    async def big(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b'{"rows":[' + b",".join(b'{"id":%d,"v":"abcdef"}' % i for i in range(30000)) + b"]}"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    with UvicornServer(PerformanceMiddleware(big)) as srv, httpx.Client(timeout=10) as client:
        res = client.get(srv.url, headers={"accept-encoding": "gzip"})
        assert res.headers["content-encoding"] == "gzip"
        assert len(res.json()["rows"]) == 30000
        raw = client.get(srv.url, headers={"accept-encoding": "gzip"}, follow_redirects=False)
        assert int(raw.headers["content-length"]) < len(raw.content) / 5


def raw_get(server: UvicornServer, *header_lines: str) -> tuple[str, dict[str, str]]:
    """A GET written as raw request lines (httpx would merge repeated header lines itself):
    the status line and the response headers, lower-cased names."""
    lines = ["GET / HTTP/1.1", f"Host: 127.0.0.1:{server.port}", *header_lines, "Connection: close"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head = received.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return head[0], headers


def test_repeated_request_header_lines_are_read_as_one_list(server: UvicornServer) -> None:
    """RFC 9110 §5.3: repeated lines of a field are one comma-separated list, so a matching
    tag on the first of two If-None-Match lines still answers 304, and a coding offered on
    the first Accept-Encoding line is still chosen (the last line alone would refuse both)."""
    status, headers = raw_get(server, "Accept-Encoding: identity")
    assert status.endswith("200 OK")
    etag = headers["etag"]
    status, headers = raw_get(server, f"If-None-Match: {etag}", 'If-None-Match: "other"')
    assert status.endswith("304 Not Modified")
    status, headers = raw_get(server, "Accept-Encoding: gzip", "Accept-Encoding: identity")
    assert status.endswith("200 OK")
    assert headers["content-encoding"] == "gzip"

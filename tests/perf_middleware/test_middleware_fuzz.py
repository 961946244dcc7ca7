"""Garbage in every header the middleware reads, on both sides: never a 500, never an
exception, and a 200 always decodes to the app's body."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from perf_middleware.middleware import PerformanceMiddleware
from tests.perf_middleware.asgi_driver import call, decode, make_app

BODY = b"<html>" + b"fuzzing is fun " * 300 + b"</html>"
MW_CACHE: dict[tuple[tuple[bytes, bytes], ...], PerformanceMiddleware] = {}

PIECES = st.sampled_from(
    [
        b",",
        b";",
        b"=",
        b'"',
        b"\\",
        b" ",
        b"*",
        b"W/",
        b"q=",
        b"0.5",
        b"1",
        b"gzip",
        b"br",
        b"zstd",
        b"identity",
        b"no-transform",
        b"GMT",
        b"Nov",
        b"1994",
        b"\x00",
        b"\xff",
        b"\r",
        b"max-age",
        b"text/html",
        b"Sun, 06 Nov 1994 08:49:37 GMT",
        b"x-gzip",
        b"-1",
    ]
)
GARBAGE = st.one_of(st.binary(max_size=60), st.lists(PIECES, max_size=10).map(b"".join))
REQUEST_NAMES = [
    b"accept-encoding",
    b"if-none-match",
    b"if-match",
    b"if-modified-since",
    b"if-unmodified-since",
    b"cache-control",
    b"range",
]
RESPONSE_NAMES = [
    b"etag",
    b"cache-control",
    b"vary",
    b"content-type",
    b"content-encoding",
    b"last-modified",
    b"content-length",
    b"set-cookie",
]


@settings(max_examples=300, deadline=None)
@given(
    request_headers=st.lists(st.tuples(st.sampled_from(REQUEST_NAMES), GARBAGE), max_size=6),
    response_headers=st.lists(st.tuples(st.sampled_from(RESPONSE_NAMES), GARBAGE), max_size=5),
    method=st.sampled_from(["GET", "HEAD", "POST"]),
    streamed=st.booleans(),
)
async def test_garbage_headers_never_break_the_response(
    request_headers: list[tuple[bytes, bytes]],
    response_headers: list[tuple[bytes, bytes]],
    method: str,
    streamed: bool,
) -> None:
    # the app's own Content-Length must stay truthful for the comparison below
    response_headers = [(k, v) for k, v in response_headers if k != b"content-length"]
    body: bytes | list[bytes] = [BODY[:1000], BODY[1000:]] if streamed else BODY
    app = make_app(body, headers=response_headers, content_type=None, content_length=False)
    res = await call(PerformanceMiddleware(app), method=method, headers=request_headers)
    assert res.status in (200, 304, 412)
    if res.status == 200 and method != "HEAD":
        codings = [v for k, v in res.raw_headers if k == b"content-encoding"]
        app_coding = any(k == b"content-encoding" for k, _ in response_headers)
        if not app_coding:
            coding = codings[0].decode() if codings else None
            assert decode(res.body, coding) == BODY
    if res.status in (304, 412):
        assert res.body == b""

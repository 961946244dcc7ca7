from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest
import zstandard
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from perf_middleware.compression.codecs import CompressionConfig
from perf_middleware.http.dates import format_http_date
from perf_middleware.http.etag import make_etag
from perf_middleware.middleware import PerformanceMiddleware
from perf_middleware.policy import Policy, Rule
from tests.perf_middleware.asgi_driver import call, decode, make_app

HTML = b"<!doctype html><title>t</title>" + b"<p>some paragraph text here</p>\n" * 200
AE = ("accept-encoding", "gzip, deflate, br, zstd")


# -- pass-through and mounts ------------------------------------------------------------


async def test_non_http_scopes_pass_through_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": "lifespan.startup.complete"})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await PerformanceMiddleware(app)(scope, receive, send)
    assert seen == [scope]
    assert sent == [{"type": "lifespan.startup.complete"}]


class TinyStatic:
    prefix = "/static"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = f"static:{scope['path']}".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def test_static_prefix_is_dispatched_before_the_pipeline() -> None:
    mw = PerformanceMiddleware(make_app(HTML), static=TinyStatic())
    res = await call(mw, "/static/app.css")
    assert res.body == b"static:/static/app.css"
    assert res.header("etag") is None  # the pipeline did not run
    res = await call(mw, "/static")
    assert res.body == b"static:/static"
    res = await call(mw, "/staticky")
    assert res.body == HTML


def test_static_without_prefix_is_a_clear_error() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    with pytest.raises(TypeError, match=r"prefix.*HINT"):
        PerformanceMiddleware(make_app(), static=app)


def test_bad_options_have_hints() -> None:
    with pytest.raises(TypeError, match="HINT"):
        PerformanceMiddleware(make_app(), compression="zstd")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="HINT"):
        PerformanceMiddleware(make_app(), policy={"/": "no-cache"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="HINT"):
        PerformanceMiddleware(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="HINT"):
        PerformanceMiddleware(make_app(), etag_max_bytes=-1)


# -- validators -------------------------------------------------------------------------


async def test_strong_etag_added_to_buffered_200() -> None:
    res = await call(PerformanceMiddleware(make_app(HTML), compression=None))
    assert res.header("etag") == make_etag(HTML)
    assert res.body == HTML


async def test_app_etag_is_never_replaced() -> None:
    app = make_app(HTML, headers=[(b"etag", b'"app-v1"')])
    res = await call(PerformanceMiddleware(app, compression=None))
    assert res.header("etag") == '"app-v1"'
    assert res.header_count("etag") == 1


@pytest.mark.parametrize(
    ("kwargs", "method", "status"),
    [
        ({"etag": False}, "GET", 200),
        ({}, "POST", 200),
        ({}, "GET", 201),
        ({}, "GET", 404),
        ({"etag_max_bytes": 100}, "GET", 200),
    ],
)
async def test_no_etag_when_not_applicable(
    kwargs: dict[str, Any], method: str, status: int
) -> None:
    mw = PerformanceMiddleware(make_app(HTML, status=status), compression=None, **kwargs)
    res = await call(mw, method=method)
    assert res.header("etag") is None
    assert res.status == status


async def test_no_etag_on_streamed_responses() -> None:
    res = await call(PerformanceMiddleware(make_app([b"a", b"b"]), compression=None))
    assert res.header("etag") is None
    assert res.body == b"ab"


# -- conditional requests ---------------------------------------------------------------


async def test_if_none_match_304_keeps_only_the_rfc_headers() -> None:
    app = make_app(
        HTML,
        headers=[
            (b"cache-control", b"max-age=60"),
            (b"expires", b"Thu, 01 Jan 2037 00:00:00 GMT"),
            (b"content-location", b"/index.html"),
            (b"x-custom", b"1"),
            (b"set-cookie", b"a=b"),
            (b"last-modified", format_http_date(1_700_000_000).encode()),
        ],
    )
    mw = PerformanceMiddleware(app, compression=None)
    etag = (await call(mw)).header("etag")
    res = await call(mw, headers=[("if-none-match", f'"zzz", {etag}')])
    assert res.status == 304
    assert res.body == b""
    names = {k.lower() for k, _ in res.raw_headers}
    assert names == {b"etag", b"cache-control", b"expires", b"content-location"}
    assert res.header("etag") == etag


async def test_if_none_match_mismatch_never_falls_back_to_the_date() -> None:
    app = make_app(HTML, headers=[(b"last-modified", format_http_date(1_000).encode())])
    mw = PerformanceMiddleware(app, compression=None)
    res = await call(
        mw,
        headers=[("if-none-match", '"stale"'), ("if-modified-since", format_http_date(2_000))],
    )
    assert res.status == 200
    assert res.body == HTML


async def test_if_modified_since_alone() -> None:
    app = make_app(HTML, headers=[(b"last-modified", format_http_date(1_000).encode())])
    mw = PerformanceMiddleware(app, compression=None)
    ok = await call(mw, headers=[("if-modified-since", format_http_date(1_000))])
    assert ok.status == 304
    older = await call(mw, headers=[("if-modified-since", format_http_date(999))])
    assert older.status == 200


async def test_star_and_weak_comparison() -> None:
    mw = PerformanceMiddleware(make_app(HTML, headers=[(b"etag", b'"v9"')]), compression=None)
    assert (await call(mw, headers=[("if-none-match", "*")])).status == 304
    assert (await call(mw, headers=[("if-none-match", 'W/"v9"')])).status == 304
    assert (await call(mw, method="HEAD", headers=[("if-none-match", '"v9"')])).status == 304


async def test_only_2xx_are_turned_into_304() -> None:
    app = make_app(HTML, status=404, headers=[(b"etag", b'"v9"')])
    res = await call(
        PerformanceMiddleware(app, compression=None), headers=[("if-none-match", '"v9"')]
    )
    assert res.status == 404
    assert res.body == HTML


async def test_if_match_failure_is_412_and_unsafe_methods_are_not_evaluated() -> None:
    mw = PerformanceMiddleware(make_app(HTML, headers=[(b"etag", b'"v9"')]), compression=None)
    res = await call(mw, headers=[("if-match", '"other"')])
    assert res.status == 412
    assert res.body == b""
    post = await call(mw, method="POST", headers=[("if-none-match", '"v9"')])
    assert post.status == 200


async def test_conditional_off() -> None:
    mw = PerformanceMiddleware(make_app(HTML, headers=[(b"etag", b'"v9"')]), conditional=False)
    assert (await call(mw, headers=[("if-none-match", '"v9"')])).status == 200


async def test_streamed_response_with_app_etag_gets_304_and_body_is_dropped() -> None:
    app = make_app([b"chunk1", b"chunk2"], headers=[(b"etag", b'"s1"')])
    res = await call(PerformanceMiddleware(app), headers=[("if-none-match", '"s1"'), AE])
    assert res.status == 304
    assert res.body == b""
    assert sum(1 for m in res.messages if m["type"] == "http.response.start") == 1


# -- compression ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip, deflate, br", "br"),
        ("gzip", "gzip"),
        ("gzip;q=0, br;q=0.5", "br"),
        ("br;q=0.1, gzip;q=0.9", "gzip"),
    ],
)
async def test_negotiated_compression(accept: str, expected: str) -> None:
    res = await call(PerformanceMiddleware(make_app(HTML)), headers=[("accept-encoding", accept)])
    assert res.header("content-encoding") == expected
    assert decode(res.body, expected) == HTML
    assert res.header("content-length") == str(len(res.body))
    assert res.header("vary") == "Accept-Encoding"


async def test_server_preference_is_configurable() -> None:
    mw = PerformanceMiddleware(
        make_app(HTML), compression=CompressionConfig(preference=("gzip", "br"))
    )
    res = await call(mw, headers=[AE])
    assert res.header("content-encoding") == "gzip"


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", ""])
async def test_identity_when_not_acceptable_but_still_varies(accept: str | None) -> None:
    headers = [("accept-encoding", accept)] if accept is not None else []
    res = await call(PerformanceMiddleware(make_app(HTML)), headers=headers)
    assert res.header("content-encoding") is None
    assert res.body == HTML
    assert res.header("content-length") == str(len(HTML))
    assert res.header("vary") == "Accept-Encoding"


async def test_vary_is_merged_once() -> None:
    app = make_app(HTML, headers=[(b"vary", b"Cookie"), (b"Vary", b"accept-encoding")])
    res = await call(PerformanceMiddleware(app), headers=[AE])
    assert res.header_count("vary") == 1
    assert res.header("vary") == "Cookie, accept-encoding"


async def test_compressed_body_never_carries_the_strong_etag() -> None:
    mw = PerformanceMiddleware(make_app(HTML))
    identity = await call(mw)
    compressed = await call(mw, headers=[AE])
    strong = identity.header("etag")
    assert strong == make_etag(HTML)
    assert compressed.header("etag") == "W/" + strong


async def test_client_holding_either_validator_gets_304() -> None:
    mw = PerformanceMiddleware(make_app(HTML))
    strong = (await call(mw)).header("etag")
    weak = (await call(mw, headers=[AE])).header("etag")
    assert strong is not None
    assert weak is not None
    for held in (strong, weak):
        for accept in ("gzip, br, zstd", "identity"):
            res = await call(mw, headers=[("if-none-match", held), ("accept-encoding", accept)])
            assert res.status == 304
            assert res.body == b""
            assert res.header("vary") == "Accept-Encoding"
    res = await call(mw, headers=[("if-none-match", weak), AE])
    assert res.header("etag") == weak


@pytest.mark.parametrize(
    ("app_kwargs", "reason"),
    [
        ({"body": b"tiny"}, "below minimum size"),
        ({"body": HTML, "headers": [(b"content-encoding", b"br")]}, "already encoded"),
        ({"body": HTML, "headers": [(b"cache-control", b"no-transform")]}, "no-transform"),
        ({"body": HTML, "content_type": b"image/png"}, "not compressible"),
        ({"body": HTML, "content_type": None}, "no content type"),
        ({"body": HTML, "status": 206}, "partial content"),
    ],
)
async def test_compression_skipped(app_kwargs: dict[str, Any], reason: str) -> None:
    res = await call(PerformanceMiddleware(make_app(**app_kwargs)), headers=[AE])
    original = app_kwargs["body"]
    assert res.body == original, reason
    encoding = res.header("content-encoding")
    assert encoding in (None, "br"), reason
    if encoding is None:
        assert res.header("vary") is None, reason


async def test_incompressible_body_is_sent_as_identity() -> None:
    import os

    noise = os.urandom(4000)
    res = await call(
        PerformanceMiddleware(make_app(noise, content_type=b"text/plain")), headers=[AE]
    )
    assert res.header("content-encoding") is None
    assert res.body == noise
    assert res.header("vary") == "Accept-Encoding"


async def test_compression_off() -> None:
    res = await call(PerformanceMiddleware(make_app(HTML), compression=None), headers=[AE])
    assert res.header("content-encoding") is None
    assert res.body == HTML


async def test_large_body_is_compressed_off_loop_and_correct() -> None:
    big = b'{"k": "' + b"0123456789abcdef" * 40000 + b'"}'
    app = make_app(big, content_type=b"application/json")
    res = await call(PerformanceMiddleware(app), headers=[AE])
    assert res.header("content-encoding") == "zstd"
    assert decode(res.body, "zstd") == big


async def test_wrong_app_content_length_is_corrected() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"image/png"), (b"content-length", b"999")],
            }
        )
        await send({"type": "http.response.body", "body": b"12345"})

    res = await call(PerformanceMiddleware(app))
    assert res.header("content-length") == "5"


# -- streaming --------------------------------------------------------------------------


async def test_stream_is_compressed_chunk_by_chunk() -> None:
    events = [f"data: {i}\n\n".encode() for i in range(6)]
    app = make_app(events, content_type=b"text/event-stream")
    res = await call(PerformanceMiddleware(app), headers=[AE])
    assert res.header("content-encoding") == "zstd"
    assert res.header("content-length") is None
    bodies = [m for m in res.messages if m["type"] == "http.response.body"]
    assert len(bodies) == len(events)  # one message out per message in: nothing held back
    dec = zstandard.ZstdDecompressor().decompressobj()
    received = b""
    for message, event in zip(bodies, events, strict=True):
        received += dec.decompress(message["body"])
        assert received.endswith(event)
    assert bodies[-1]["more_body"] is False


async def test_stream_of_incompressible_type_passes_through() -> None:
    app = make_app([b"a", b"b", b"c"], content_type=b"application/octet-stream")
    res = await call(PerformanceMiddleware(app), headers=[AE])
    assert res.chunks == [b"a", b"b", b"c"]
    assert res.header("content-encoding") is None


async def test_stream_with_small_declared_length_is_not_compressed() -> None:
    app = make_app([b"ab", b"cd"], headers=[(b"content-length", b"4")])
    res = await call(PerformanceMiddleware(app), headers=[AE])
    assert res.chunks == [b"ab", b"cd"]
    assert res.header("content-length") == "4"


async def test_head_keeps_the_headers_get_would_have() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html"), (b"content-length", str(len(HTML)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": HTML if scope["method"] == "GET" else b""}
        )

    mw = PerformanceMiddleware(app)
    get = await call(mw, headers=[AE])
    head = await call(mw, method="HEAD", headers=[AE])
    assert head.body == b""
    assert head.header("content-encoding") == get.header("content-encoding") == "zstd"
    assert head.header("vary") == get.header("vary")
    assert head.header("cache-control") == get.header("cache-control") == "no-cache"


async def test_policy_applies_and_can_be_switched_off() -> None:
    res = await call(PerformanceMiddleware(make_app(HTML)))
    assert res.header("cache-control") == "no-cache"
    res = await call(PerformanceMiddleware(make_app(HTML), policy=None))
    assert res.header("cache-control") is None
    custom = Policy(rules=(Rule(path="/p", cache_control="max-age=9"),))
    res = await call(PerformanceMiddleware(make_app(HTML), policy=custom), "/p")
    assert res.header("cache-control") == "max-age=9"


async def test_app_exception_before_start_propagates() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await call(PerformanceMiddleware(app))


async def test_start_without_body_is_flushed() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})

    res = await call(PerformanceMiddleware(app))
    assert res.status == 204
    assert res.body == b""


# -- through a real framework and httpx -------------------------------------------------


def starlette_app() -> Starlette:
    async def page(request: Any) -> PlainTextResponse:
        return PlainTextResponse(HTML.decode(), media_type="text/html")

    async def data(request: Any) -> JSONResponse:
        return JSONResponse({"items": list(range(500))})

    async def stream(request: Any) -> StreamingResponse:
        async def gen() -> Any:
            for i in range(3):
                yield f"data: {i}\n\n"

        return StreamingResponse(gen(), media_type="text/event-stream")

    return Starlette(routes=[Route("/", page), Route("/data", data), Route("/sse", stream)])


async def test_httpx_asgi_transport_round_trip() -> None:
    app = PerformanceMiddleware(starlette_app())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        page = await client.get("/", headers={"accept-encoding": "br"})
        assert page.headers["content-encoding"] == "br"
        assert page.content == HTML
        etag = page.headers["etag"]
        again = await client.get("/", headers={"accept-encoding": "br", "if-none-match": etag})
        assert again.status_code == 304
        data = await client.get("/data", headers={"accept-encoding": "gzip"})
        assert data.headers["content-encoding"] == "gzip"
        assert data.json() == {"items": list(range(500))}
        sse = await client.get("/sse", headers={"accept-encoding": "gzip"})
        assert sse.headers["content-encoding"] == "gzip"
        assert sse.text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"


async def test_multi_megabyte_body_gets_the_same_etag_when_hashed_off_loop() -> None:
    big = b"<p>" + b"x" * (2 << 20) + b"</p>"
    res = await call(PerformanceMiddleware(make_app(big), compression=None))
    assert res.header("etag") == make_etag(big)
    assert res.body == big
    own = await call(
        PerformanceMiddleware(make_app(big, headers=[(b"etag", b'"mine"')]), compression=None)
    )
    assert own.header("etag") == '"mine"'


def test_the_admin_stack_is_not_imported_when_the_admin_api_is_off():
    """Prometheus exposition and the admin app are most of the package's import time; an app
    that does not enable the admin API must not pay for them (a fresh interpreter)."""
    code = (
        "import sys\n"
        "from perf_middleware import MemoryBackend, Metrics, PerformanceMiddleware\n"
        "async def app(scope, receive, send): pass\n"
        "PerformanceMiddleware(app, cache=MemoryBackend(), metrics=Metrics())\n"
        "print(sorted(m for m in sys.modules\n"
        "             if m.startswith(('prometheus_client', 'perf_middleware.admin.app',\n"
        "                              'perf_middleware.admin.dashboard',\n"
        "                              'perf_middleware.admin.beacon',\n"
        "                              'perf_middleware.admin.web'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

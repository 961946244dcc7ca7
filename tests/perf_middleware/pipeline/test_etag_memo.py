"""The ETag memo: a body object sent again is not hashed again; everything else is."""

from __future__ import annotations

from typing import Any

import pytest

from perf_middleware.http.etag import make_etag
from perf_middleware.middleware import PerformanceMiddleware
from perf_middleware.pipeline import settings as pipeline
from perf_middleware.pipeline.settings import ETAG_MEMO_ENTRIES, ETAG_MEMO_MAX_BODY
from tests.perf_middleware.asgi_driver import call


def sending(bodies: list[Any]) -> Any:
    """An app answering each request with the next body object of ``bodies``."""
    queue = iter(bodies)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = next(queue)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every body the pipeline actually hashes: its ETag function is wrapped (a global of
    the pipeline module, from the uncompiled ETag module, so looked up at call time by the
    sources and by the compiled build alike)."""
    seen: list[bytes] = []
    real = pipeline.etag_bytes

    def counting(body: bytes) -> bytes:
        seen.append(bytes(body))
        return real(body)

    monkeypatch.setattr(pipeline, "etag_bytes", counting)
    return seen


async def test_the_same_body_object_is_hashed_once(hashed: list[bytes]) -> None:
    body = b'{"constant": true}' * 10
    app = PerformanceMiddleware(sending([body, body, body]), compression=None)
    etags = [(await call(app)).header("etag") for _ in range(3)]
    assert etags == [make_etag(body)] * 3
    assert hashed == [body]


async def test_an_equal_but_new_body_object_is_hashed_again(hashed: list[bytes]) -> None:
    first = b"x" * 100
    second = bytes(bytearray(first))  # equal content, another object
    assert first is not second
    app = PerformanceMiddleware(sending([first, second]), compression=None)
    etags = [(await call(app)).header("etag") for _ in range(2)]
    assert etags[0] == etags[1] == make_etag(first)
    assert len(hashed) == 2


async def test_a_mutable_body_is_never_memoised(hashed: list[bytes]) -> None:
    body = bytearray(b"a" * 100)
    app = PerformanceMiddleware(sending([body, body]), compression=None)
    first = (await call(app)).header("etag")
    body[:] = b"b" * 100  # the same object, new content
    second = (await call(app)).header("etag")
    assert first == make_etag(b"a" * 100)
    assert second == make_etag(b"b" * 100)
    assert len(hashed) == 2


async def test_the_memo_stays_bounded() -> None:
    small = [b"%d" % i * 10 for i in range(ETAG_MEMO_ENTRIES + 10)]
    large = b"L" * (ETAG_MEMO_MAX_BODY + 1)
    app = PerformanceMiddleware(sending([*small, large]), compression=None)
    for body in small:
        assert (await call(app)).header("etag") == make_etag(body)
    assert (await call(app)).header("etag") == make_etag(large)
    memo = app.pipeline.etag_memo
    assert len(memo) == ETAG_MEMO_ENTRIES
    assert id(large) not in memo
    assert {entry[0] for entry in memo.values()} == set(small[-ETAG_MEMO_ENTRIES:])

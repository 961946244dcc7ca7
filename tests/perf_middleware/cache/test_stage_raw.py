"""The cache stage through a real uvicorn server, with request lines written byte for byte
(repeated fields, percent-encoded paths, odd Host values), on both backends."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.backends.redis import RedisBackend
from perf_middleware.cache.config import CacheConfig
from perf_middleware.middleware import PerformanceMiddleware
from tests.support.raw_http import raw_request
from tests.support.servers import UvicornServer

_namespaces = itertools.count()


@pytest.fixture(params=["memory", "redis"])
def make_backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A factory of fresh backends (Redis: a namespace of its own per call); built here, used
    on uvicorn's loop (the Redis client connects lazily there)."""
    made: list[RedisBackend] = []

    def factory() -> Any:
        if request.param == "memory":
            return MemoryBackend(max_bytes=8 * 2**20)
        store = RedisBackend(
            request.getfixturevalue("redis_url"), namespace=f"raw{next(_namespaces)}"
        )
        made.append(store)
        return store

    yield factory
    for store in made:
        try:
            asyncio.run(store.close())
        except RuntimeError:
            pass  # its connections belonged to uvicorn's (closed) loop


class Calls:
    def __init__(self) -> None:
        self.count = 0


def greeting_app(calls: Calls) -> Starlette:
    """The issue's reproduction: a view that reads the first Accept-Language line."""

    async def greeting(request: Request) -> Response:
        calls.count += 1
        return PlainTextResponse(
            f"greeting rendered for {request.headers.get('accept-language')}",
            headers={"cache-control": "public, max-age=600", "vary": "Accept-Language"},
        )

    return Starlette(routes=[Route("/greeting", greeting)])


def serve(app: Any, backend: Any, **config: Any) -> UvicornServer:
    return UvicornServer(
        PerformanceMiddleware(app, cache=backend, cache_config=CacheConfig(**config))
    )


def test_repeated_vary_field_lines_cannot_poison_another_variant(make_backend: Any) -> None:
    """Accept-Language on two lines is the combined list (RFC 9110 §5.3), not its last
    line: the attacker's response never answers a client that sent only ``en``."""
    calls = Calls()
    with serve(greeting_app(calls), make_backend()) as server:
        attack = raw_request(
            server.port,
            "/greeting",
            [("Host", "site.test"), ("Accept-Language", "xx-attacker"), ("Accept-Language", "en")],
        )
        assert attack.body == b"greeting rendered for xx-attacker"
        for _ in range(2):
            victim = raw_request(
                server.port, "/greeting", [("Host", "site.test"), ("Accept-Language", "en")]
            )
            assert victim.body == b"greeting rendered for en", victim.header("cache-status")
        assert calls.count == 2  # the attacker's and the victim's variant; the second is a hit
        assert "hit" in (victim.header("cache-status") or "")


def test_repeated_cache_control_lines_keep_every_directive(make_backend: Any) -> None:
    """``Cache-Control: no-store`` then ``Cache-Control: x-foo``: the first line's directive
    still counts (it was lost to the last line before)."""
    calls = Calls()
    with serve(greeting_app(calls), make_backend()) as server:
        first = raw_request(
            server.port,
            "/greeting",
            [("Host", "site.test"), ("Cache-Control", "no-store"), ("Cache-Control", "x-foo")],
        )
        assert "fwd=request" in (first.header("cache-status") or "")
        second = raw_request(server.port, "/greeting", [("Host", "site.test")])
        assert "hit" not in (second.header("cache-status") or "")  # nothing was stored
        assert calls.count == 2


def tenant_app(calls: Calls) -> Starlette:
    """Varies on a field whose grammar has no list; reads its first line."""

    async def page(request: Request) -> Response:
        calls.count += 1
        return PlainTextResponse(
            f"page of tenant {request.headers.get('x-tenant')}",
            headers={"cache-control": "public, max-age=600", "vary": "X-Tenant"},
        )

    return Starlette(routes=[Route("/page", page)])


def test_vary_field_without_list_on_two_lines_is_neither_stored_nor_served(
    make_backend: Any,
) -> None:
    """``X-Tenant: a`` + ``X-Tenant: b`` has no agreed value (the app read ``a``, the
    combined value reads ``a, b``): the response is not stored, and a stored ``a, b`` variant
    is not served to it."""
    calls = Calls()
    two_lines = [("Host", "site.test"), ("X-Tenant", "a"), ("X-Tenant", "b")]
    with serve(tenant_app(calls), make_backend()) as server:
        first = raw_request(server.port, "/page", two_lines)
        assert first.body == b"page of tenant a"
        assert "ambiguous-request-field:x-tenant" in (first.header("cache-status") or "")
        one_line = raw_request(server.port, "/page", [("Host", "site.test"), ("X-Tenant", "a, b")])
        assert one_line.body == b"page of tenant a, b"  # not the two-line answer
        assert "stored" in (one_line.header("cache-status") or "")
        again = raw_request(server.port, "/page", two_lines)
        assert again.body == b"page of tenant a"  # not the stored single-line variant
        assert calls.count == 3

"""The cache stage through a real uvicorn server, with request lines written byte for byte
(repeated fields, percent-encoded paths, odd Host values), on both backends."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from perf_middleware.cache import stage as stage_module
from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.backends.redis import RedisBackend
from perf_middleware.cache.config import CacheConfig
from perf_middleware.middleware import PerformanceMiddleware
from tests.perf_middleware.asgi_driver import call
from tests.perf_middleware.cache.raw_http import Raw, raw_request
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


def reflecting_app(calls: Calls, field: str, delay: float = 0.0) -> Starlette:
    """A cacheable ``/page`` that varies on ``field`` and reflects its first line, as
    Starlette's ``request.headers[...]`` reads it (the issue's reproduction)."""

    async def page(request: Request) -> Response:
        calls.count += 1
        await asyncio.sleep(delay)
        return PlainTextResponse(
            f"rendered for {request.headers.get(field)}",
            headers={"cache-control": "public, max-age=600", "vary": field},
        )

    return Starlette(routes=[Route("/page", page)])


def serve(app: Any, backend: Any, **config: Any) -> UvicornServer:
    return UvicornServer(
        PerformanceMiddleware(app, cache=backend, cache_config=CacheConfig(**config))
    )


def test_repeated_vary_field_lines_cannot_poison_another_variant(make_backend: Any) -> None:
    """Accept-Language on two lines is the combined list (RFC 9110 §5.3), not its last
    line: the attacker's response never answers a client that sent only ``en``."""
    calls = Calls()
    with serve(reflecting_app(calls, "Accept-Language"), make_backend()) as server:
        attack = raw_request(
            server.port,
            "/page",
            [("Host", "site.test"), ("Accept-Language", "xx-attacker"), ("Accept-Language", "en")],
        )
        assert attack.body == b"rendered for xx-attacker"
        for _ in range(2):
            victim = raw_request(
                server.port, "/page", [("Host", "site.test"), ("Accept-Language", "en")]
            )
            assert victim.body == b"rendered for en", victim.header("cache-status")
        assert calls.count == 2  # the attacker's and the victim's variant; the second is a hit
        assert "hit" in (victim.header("cache-status") or "")


def test_repeated_cache_control_lines_keep_every_directive(make_backend: Any) -> None:
    """``Cache-Control: no-store`` then ``Cache-Control: x-foo``: the first line's directive
    still counts (it was lost to the last line before)."""
    calls = Calls()
    with serve(reflecting_app(calls, "Accept-Language"), make_backend()) as server:
        first = raw_request(
            server.port,
            "/page",
            [("Host", "site.test"), ("Cache-Control", "no-store"), ("Cache-Control", "x-foo")],
        )
        assert "stored" not in (first.header("cache-status") or "")
        second = raw_request(server.port, "/page", [("Host", "site.test")])
        assert "hit" not in (second.header("cache-status") or "")  # nothing was stored
        assert calls.count == 2


def test_vary_field_without_list_on_two_lines_is_neither_stored_nor_served(
    make_backend: Any,
) -> None:
    """``X-Tenant: a`` + ``X-Tenant: b`` has no agreed value (the app read ``a``, the
    combined value reads ``a, b``): the response is not stored, and a stored ``a, b`` variant
    is not served to it."""
    calls = Calls()
    two_lines = [("Host", "site.test"), ("X-Tenant", "a"), ("X-Tenant", "b")]
    with serve(reflecting_app(calls, "X-Tenant"), make_backend()) as server:
        first = raw_request(server.port, "/page", two_lines)
        assert first.body == b"rendered for a"
        assert "ambiguous-request-field:x-tenant" in (first.header("cache-status") or "")
        one_line = raw_request(server.port, "/page", [("Host", "site.test"), ("X-Tenant", "a, b")])
        assert one_line.body == b"rendered for a, b"  # not the two-line answer
        assert "stored" in (one_line.header("cache-status") or "")
        again = raw_request(server.port, "/page", two_lines)
        assert again.body == b"rendered for a"  # not the stored single-line variant
        assert calls.count == 3


def echo_app(calls: Calls) -> Starlette:
    """Every path is a cacheable page naming the host and the path the app saw; ``/x``
    varies on Accept-Language."""

    async def page(request: Request) -> Response:
        calls.count += 1
        host = request.headers.get("host")
        headers = {"cache-control": "public, max-age=600"}
        if request.scope["path"] == "/x":
            headers["vary"] = "Accept-Language"
        return PlainTextResponse(f"{host} {request.scope['path']!r}", headers=headers)

    return Starlette(routes=[Route("/{rest:path}", page)])


def test_host_with_a_path_is_not_a_key_of_another_url(make_backend: Any) -> None:
    """``Host: 127.0.0.1/page`` + ``GET /other`` used to be stored under the key of
    ``GET /page/other``; a Host that is not host[:port] bypasses the cache."""
    calls = Calls()
    with serve(echo_app(calls), make_backend()) as server:
        forged = raw_request(server.port, "/other", [("Host", "127.0.0.1/page")])
        assert "stored" not in (forged.header("cache-status") or "")
        real = raw_request(server.port, "/page/other", [("Host", "127.0.0.1")])
        assert real.body == b"127.0.0.1 '/page/other'"


@pytest.mark.parametrize(
    "hosts",
    [
        ["a.test", "b.test"],  # two lines: which one the app reads is anybody's guess
        ["a.test, b.test"],
        ["a.test@b.test"],
        ["a.test\tx"],
        ["[::1"],
        [""],
    ],
)
def test_invalid_host_values_bypass_the_cache(make_backend: Any, hosts: list[str]) -> None:
    calls = Calls()
    with serve(echo_app(calls), make_backend()) as server:
        for _ in range(2):
            answer = raw_request(server.port, "/x", [("Host", h) for h in hosts])
            assert answer.status == 200
            assert "fwd=bypass" in (answer.header("cache-status") or ""), hosts


def test_percent_encoded_question_mark_is_not_the_query(make_backend: Any) -> None:
    """``/page/about%3Fx=1`` is the path ``/page/about?x=1``; it used to share the key of
    ``/page/about`` with the query ``x=1``."""
    calls = Calls()
    with serve(echo_app(calls), make_backend()) as server:
        encoded = raw_request(server.port, "/page/about%3Fx=1", [("Host", "site.test")])
        assert encoded.body == b"site.test '/page/about?x=1'"
        query = raw_request(server.port, "/page/about?x=1", [("Host", "site.test")])
        assert query.body == b"site.test '/page/about'"
        assert calls.count == 2


def test_control_character_in_path_cannot_reach_a_vary_variant(make_backend: Any) -> None:
    """``%1F`` decodes to the separator of primary and secondary keys: ``/x%1F=en`` used to
    address the ``Accept-Language: en`` variant of ``/x`` (memory backend)."""
    calls = Calls()
    with serve(echo_app(calls), make_backend()) as server:
        victim = [("Host", "site.test"), ("Accept-Language", "en")]
        assert raw_request(server.port, "/x", victim).body == b"site.test '/x'"
        other = raw_request(server.port, "/x%1F=en", [("Host", "site.test")])
        assert other.body == b"site.test '/x\\x1f=en'"
        again = raw_request(server.port, "/x", victim)
        assert again.body == b"site.test '/x'"
        assert "hit" in (again.header("cache-status") or "")


@pytest.mark.parametrize(
    "directive",
    [
        [("Cache-Control", "no-cache")],
        [("Cache-Control", "max-age=0")],
        [("Pragma", "no-cache")],
        [("Cache-Control", "no-store")],
        [("Cache-Control", "x-foo"), ("Cache-Control", "no-cache")],
    ],
)
def test_clients_cannot_force_the_app_to_run_by_default(
    make_backend: Any, directive: list[tuple[str, str]]
) -> None:
    """The cache shields the app: a client's no-cache / max-age=0 / Pragma / no-store is
    answered from a fresh stored response (RFC 9111 §5.2.1 lets a shared cache do so)."""
    calls = Calls()
    host = [("Host", "site.test")]
    with serve(echo_app(calls), make_backend()) as server:
        raw_request(server.port, "/page", host)
        forcing = raw_request(server.port, "/page", host + directive)
        assert "hit" in (forcing.header("cache-status") or "")
        assert calls.count == 1


def test_min_fresh_and_only_if_cached_are_still_honoured(make_backend: Any) -> None:
    calls = Calls()
    host = [("Host", "site.test")]
    with serve(echo_app(calls), make_backend()) as server:
        cold = raw_request(server.port, "/cold", [*host, ("Cache-Control", "only-if-cached")])
        assert cold.status == 504
        raw_request(server.port, "/page", host)
        picky = raw_request(server.port, "/page", [*host, ("Cache-Control", "min-fresh=6000")])
        assert "hit" not in (picky.header("cache-status") or "")
        assert calls.count == 2


def test_honor_request_no_cache_lets_clients_revalidate(make_backend: Any) -> None:
    calls = Calls()
    host = [("Host", "site.test")]
    with serve(echo_app(calls), make_backend(), honor_request_no_cache=True) as server:
        raw_request(server.port, "/page", host)
        for directive in [("Cache-Control", "no-cache"), ("Pragma", "no-cache")]:
            forced = raw_request(server.port, "/page", [*host, directive])
            assert "hit" not in (forced.header("cache-status") or "")
        assert calls.count == 3


def methods_app(calls: Calls) -> Starlette:
    """GET returns a cacheable page counting the app's calls; any other method succeeds."""

    async def page(request: Request) -> Response:
        if request.method != "GET":
            return PlainTextResponse("done")
        calls.count += 1
        return PlainTextResponse(
            f"version {calls.count}", headers={"cache-control": "public, max-age=600"}
        )

    methods = ["GET", "PURGE", "M-SEARCH", "PROPPATCH", "MKCOL", "OPTIONS", "TRACE"]
    return Starlette(routes=[Route("/{rest:path}", page, methods=methods)])


@pytest.mark.parametrize("method", ["PURGE", "M-SEARCH", "PROPPATCH", "MKCOL"])
def test_methods_of_unknown_safety_invalidate(make_backend: Any, method: str) -> None:
    """RFC 9111 §4.4: a non-error response to any method but GET, HEAD, OPTIONS and TRACE
    invalidates the target URI."""
    calls = Calls()
    host = [("Host", "site.test")]
    with serve(methods_app(calls), make_backend()) as server:
        assert raw_request(server.port, "/page", host).body == b"version 1"
        assert raw_request(server.port, "/page", host, method=method).status == 200
        assert raw_request(server.port, "/page", host).body == b"version 2"


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE"])
def test_safe_methods_do_not_invalidate(make_backend: Any, method: str) -> None:
    calls = Calls()
    host = [("Host", "site.test")]
    with serve(methods_app(calls), make_backend()) as server:
        raw_request(server.port, "/page", host)
        raw_request(server.port, "/page", host, method=method)
        assert raw_request(server.port, "/page", host).body == b"version 1"


async def test_primary_key_memo_stays_bounded_under_a_flood_of_urls() -> None:
    """The stage memoises each request target's primary key: clients choose the targets,
    so the memo must not grow with them."""
    calls = Calls()
    app = PerformanceMiddleware(echo_app(calls), cache=MemoryBackend(max_bytes=64 * 2**20))
    limit = stage_module._TARGET_LIMIT
    for n in range(limit + 100):
        await call(app, f"/p{n}", headers=[("host", "site.test")])
    assert app.cache_stage.counts["stored"] == limit + 100
    assert 0 < len(app.cache_stage._primaries) <= limit


def leader_and_follower(
    port: int, leader: list[tuple[str, str]], follower: list[tuple[str, str]]
) -> tuple[Raw, Raw]:
    """``follower`` sent while ``leader``'s app call is still running (single-flight)."""
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(raw_request, port, "/page", leader)
        time.sleep(0.2)
        second = pool.submit(raw_request, port, "/page", follower)
        return first.result(), second.result()


def test_follower_with_an_ambiguous_vary_field_is_not_collapsed(make_backend: Any) -> None:
    calls = Calls()
    with serve(reflecting_app(calls, "X-Tenant", delay=0.6), make_backend()) as server:
        _, follower = leader_and_follower(
            server.port,
            [("Host", "site.test"), ("X-Tenant", "a, b")],
            [("Host", "site.test"), ("X-Tenant", "a"), ("X-Tenant", "b")],
        )
    assert follower.body == b"rendered for a"
    assert "collapsed" not in (follower.header("cache-status") or "")
    assert calls.count == 2


@pytest.mark.parametrize(("honor", "collapsed"), [(False, True), (True, False)])
def test_follower_asking_for_no_cache_is_shielded_unless_configured(
    make_backend: Any, honor: bool, collapsed: bool
) -> None:
    calls = Calls()
    app = reflecting_app(calls, "Accept-Language", delay=0.6)
    with serve(app, make_backend(), honor_request_no_cache=honor) as server:
        _, follower = leader_and_follower(
            server.port,
            [("Host", "site.test")],
            [("Host", "site.test"), ("Cache-Control", "no-cache")],
        )
    assert ("collapsed" in (follower.header("cache-status") or "")) is collapsed
    assert calls.count == (1 if collapsed else 2)


def test_equivalent_percent_encodings_share_one_key(make_backend: Any) -> None:
    """``/p%61ge`` is ``/page`` (RFC 3986 §6.2.2): one entry, and one invalidation drops it."""
    calls = Calls()
    host = [("Host", "site.test")]
    with serve(methods_app(calls), make_backend()) as server:
        assert raw_request(server.port, "/page", host).body == b"version 1"
        encoded = raw_request(server.port, "/p%61ge", host)
        assert encoded.body == b"version 1"
        assert "hit" in (encoded.header("cache-status") or "")
        raw_request(server.port, "/page", host, method="PURGE")
        assert raw_request(server.port, "/p%61ge", host).body == b"version 2"


def revalidated_app(calls: Calls) -> Starlette:
    """``/page`` is stale at once (``max-age=0`` with an ETag); a revalidation's 304 makes
    it fresh for ten minutes."""

    async def page(request: Request) -> Response:
        calls.count += 1
        if request.headers.get("if-none-match") == '"v1"':
            fresh = {"cache-control": "public, max-age=600", "etag": '"v1"'}
            return Response(status_code=304, headers=fresh)
        stale = {"cache-control": "public, max-age=0", "etag": '"v1"'}
        return PlainTextResponse("page body", headers=stale)

    return Starlette(routes=[Route("/page", page)])


def test_a_no_store_request_revalidating_an_entry_does_not_store_the_304(
    make_backend: Any,
) -> None:
    """RFC 9111 §5.2.1.5: nothing of a no-store request's exchange is stored, not even
    the headers of the 304 that revalidated what it was answered from."""
    calls = Calls()
    host = [("Host", "site.test")]
    with serve(revalidated_app(calls), make_backend()) as server:
        raw_request(server.port, "/page", host)
        refreshed = raw_request(server.port, "/page", [*host, ("Cache-Control", "no-store")])
        assert refreshed.body == b"page body"
        assert "stored" not in refreshed.header("cache-status")
        after = raw_request(server.port, "/page", host)  # still stale: revalidates again
        assert "fwd=stale" in after.header("cache-status")
        assert calls.count == 3

"""What gets stored, through a real uvicorn with raw request lines and an origin that may
repeat response header lines: Age (RFC 9111 §5.1), ``Cache-Status: stored`` only for what a
backend keeps (RFC 9211), the shareable-only default, and targeted cache control (RFC 9213).
Every test runs against the memory backend and a real Redis."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.backends.redis import RedisBackend
from perf_middleware.cache.config import CacheConfig
from perf_middleware.middleware import PerformanceMiddleware
from perf_middleware.policy import Policy, Rule
from tests.perf_middleware.cache.raw_http import Raw, Script, ScriptedOrigin, raw_get
from tests.support.servers import UvicornServer

TEXT = ("content-type", "text/plain")


@pytest.fixture(params=["memory", "redis"])
def make_backend(request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    if request.param == "memory":
        yield lambda: MemoryBackend()
        return
    url = request.getfixturevalue("redis_url")
    yield lambda: RedisBackend(url, namespace=f"build{time.time_ns()}")


def twice(
    backend: Any,
    routes: dict[str, list[tuple[str, str]]],
    path: str,
    *lines: str,
    second: tuple[str, ...] | None = None,
    policy: Policy | None = None,
    etag: bool = True,
    **config: Any,
) -> tuple[ScriptedOrigin, Raw, Raw]:
    """Two sequential requests for ``path`` (the second with ``second`` lines if given).
    ``etag=False``: the pipeline adds no ETag, so a response has only the validators of
    ``routes``."""
    origin = ScriptedOrigin({p: Script([TEXT, *h]) for p, h in routes.items()})
    options: dict[str, Any] = {
        "cache": backend,
        "cache_config": CacheConfig(**config),
        "etag": etag,
    }
    if policy is not None:
        options["policy"] = policy
    with UvicornServer(PerformanceMiddleware(origin, **options)) as server:
        first = raw_get(server.port, path, *lines)
        again = raw_get(server.port, path, *(lines if second is None else second))
    assert first.status == again.status == 200
    assert first.body == again.body == b"body"
    return origin, first, again


def status(answer: Raw) -> str:
    return answer.header("cache-status")


def hit(answer: Raw) -> bool:
    return status(answer).startswith("perf-middleware; hit")


# -- Age (item 8) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "age_lines",
    [[("age", "7200, 0")], [("age", "7200"), ("age", "0")], [("age", "soon")]],
    ids=["list", "repeated-lines", "unparseable"],
)
def test_age_uses_the_first_value_and_unparseable_means_stale(
    make_backend: Callable[[], Any], age_lines: list[tuple[str, str]]
) -> None:
    routes = {"/a": [("cache-control", "public, max-age=3600"), *age_lines]}
    origin, first, again = twice(make_backend(), routes, "/a", etag=False)
    assert not hit(again), status(again)
    assert origin.calls["/a"] == 2
    assert "stored" not in status(first)


def test_age_below_the_lifetime_is_still_served_fresh(make_backend: Callable[[], Any]) -> None:
    routes = {"/a": [("cache-control", "public, max-age=3600"), ("age", "60, 7200")]}
    origin, _, again = twice(make_backend(), routes, "/a")
    assert hit(again)
    assert origin.calls["/a"] == 1
    assert int(again.header("age")) >= 60


# -- Cache-Status: stored (item 11) ------------------------------------------------------


def test_stale_on_arrival_without_validator_is_not_reported_stored(
    make_backend: Callable[[], Any],
) -> None:
    routes = {"/s": [("cache-control", "public, max-age=10"), ("age", "15")]}
    origin, first, again = twice(make_backend(), routes, "/s", etag=False)
    assert "stored" not in status(first).split("; ")
    assert "detail=stale-on-arrival" in status(first)
    assert "fwd=uri-miss" in status(again)  # indeed nothing was kept
    assert origin.calls["/s"] == 2


def test_stale_on_arrival_with_validator_is_stored_for_revalidation(
    make_backend: Callable[[], Any],
) -> None:
    routes = {"/s": [("cache-control", "public, max-age=10"), ("age", "15"), ("etag", '"v"')]}
    origin, first, again = twice(make_backend(), routes, "/s", etag=False)
    assert status(first).endswith("; stored")
    assert "fwd=stale" in status(again)  # found, and revalidated with the app
    assert [h for h in origin.seen["/s"][1] if h[0] == b"if-none-match"] == [
        (b"if-none-match", b'"v"')
    ]


# -- shareable-only default (item 12) ----------------------------------------------------


def test_response_without_cache_control_is_not_stored_by_default(
    make_backend: Callable[[], Any],
) -> None:
    routes = {"/u": [("etag", '"u1"')]}
    origin, first, again = twice(make_backend(), routes, "/u")
    assert "detail=not-shareable" in status(first)
    assert "fwd=uri-miss" in status(again)
    assert all(b"if-none-match" not in dict(h) for h in origin.seen["/u"])


def test_response_without_cache_control_is_a_revalidation_entry_under_rfc_rules(
    make_backend: Callable[[], Any],
) -> None:
    routes = {"/u": [("etag", '"u1"')]}
    origin, first, again = twice(make_backend(), routes, "/u", store_only_shareable=False)
    assert status(first).endswith("; stored")
    assert "fwd=stale" in status(again)
    assert (b"if-none-match", b'"u1"') in origin.seen["/u"][1]


@pytest.mark.parametrize("credential", ["Cookie: session=alice", "Authorization: Bearer alice"])
def test_personal_answer_to_a_cookie_or_authorization_request_is_not_stored_by_default(
    make_backend: Callable[[], Any], credential: str
) -> None:
    routes = {"/me": [("cache-control", "max-age=60")]}
    origin, first, again = twice(make_backend(), routes, "/me", credential, second=())
    assert "stored" not in status(first).split("; ")
    assert not hit(again)  # an anonymous client never gets alice's page
    assert origin.calls["/me"] == 2


def test_cookie_request_answer_is_stored_under_rfc_rules(make_backend: Callable[[], Any]) -> None:
    routes = {"/me": [("cache-control", "max-age=60")]}
    origin, first, again = twice(
        make_backend(),
        routes,
        "/me",
        "Cookie: session=alice",
        second=(),
        store_only_shareable=False,
    )
    assert status(first).endswith("; stored")
    assert hit(again)
    assert origin.calls["/me"] == 1


@pytest.mark.parametrize("shared", ["public, max-age=60", "s-maxage=60"])
def test_cookie_request_answer_that_says_shareable_is_stored(
    make_backend: Callable[[], Any], shared: str
) -> None:
    routes = {"/pub": [("cache-control", shared)]}
    origin, _, again = twice(make_backend(), routes, "/pub", "Cookie: theme=dark", second=())
    assert hit(again)
    assert origin.calls["/pub"] == 1


# -- targeted cache control (item 10) ----------------------------------------------------


def test_cdn_cache_control_takes_precedence_over_cache_control(
    make_backend: Callable[[], Any],
) -> None:
    routes = {"/t": [("cache-control", "no-store"), ("cdn-cache-control", "max-age=60")]}
    origin, first, again = twice(make_backend(), routes, "/t")
    assert status(first).endswith("; stored")
    assert hit(again)
    assert origin.calls["/t"] == 1
    # passed on unchanged, for a CDN in front of this server
    assert first.header("cdn-cache-control") == again.header("cdn-cache-control") == "max-age=60"
    assert again.header("cache-control") == "no-store"


@pytest.mark.parametrize(
    ("targeted", "detail"),
    [("private", "private"), ("no-store", "no-store"), ("max-age=60, private", "private")],
)
def test_private_or_no_store_in_the_targeted_field_prevents_storing(
    make_backend: Callable[[], Any], targeted: str, detail: str
) -> None:
    routes = {"/t": [("cache-control", "public, max-age=60"), ("cdn-cache-control", targeted)]}
    origin, first, again = twice(make_backend(), routes, "/t")
    assert f"detail={detail}" in status(first)
    assert not hit(again)
    assert origin.calls["/t"] == 2


def test_targeted_field_on_two_lines_is_one_dictionary(make_backend: Callable[[], Any]) -> None:
    routes = {
        "/t": [
            ("cache-control", "public, max-age=60"),
            ("cdn-cache-control", "max-age=600"),
            ("cdn-cache-control", "private"),
        ]
    }
    origin, first, again = twice(make_backend(), routes, "/t")
    assert "detail=private" in status(first)
    assert not hit(again)
    assert origin.calls["/t"] == 2


def test_no_cache_in_the_targeted_field_revalidates_every_use(
    make_backend: Callable[[], Any],
) -> None:
    routes = {
        "/t": [
            ("cache-control", "public, max-age=600"),
            ("cdn-cache-control", "public, no-cache"),
            ("etag", '"t1"'),
        ]
    }
    origin, _, again = twice(make_backend(), routes, "/t")
    assert "fwd=stale" in status(again)
    assert (b"if-none-match", b'"t1"') in origin.seen["/t"][1]


def test_targeted_field_overrides_expires_too(make_backend: Callable[[], Any]) -> None:
    routes = {
        "/t": [
            ("date", "Thu, 01 Jan 2026 00:00:00 GMT"),
            ("expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
            ("cdn-cache-control", "max-age=0"),
        ]
    }
    _, first, again = twice(make_backend(), routes, "/t", etag=False)
    assert not hit(again)
    assert "stored" not in status(first).split("; ")


def test_invalid_targeted_field_is_ignored(make_backend: Callable[[], Any]) -> None:
    routes = {"/t": [("cache-control", "public, max-age=60"), ("cdn-cache-control", "Max-Age=1;;")]}
    origin, _, again = twice(make_backend(), routes, "/t")
    assert hit(again)
    assert origin.calls["/t"] == 1


def test_own_targeted_field_comes_first_and_empty_list_ignores_them(
    make_backend: Callable[[], Any],
) -> None:
    routes = {
        "/t": [
            ("cache-control", "no-store"),
            ("cdn-cache-control", "no-store"),
            ("perfmw-cache-control", "max-age=60"),
        ]
    }
    fields = ("perfmw-cache-control", "cdn-cache-control")
    origin, _, again = twice(make_backend(), routes, "/t", targeted_fields=fields)
    assert hit(again)
    assert origin.calls["/t"] == 1
    routes = {"/t": [("cache-control", "no-store"), ("cdn-cache-control", "max-age=60")]}
    origin, _, again = twice(make_backend(), routes, "/t", targeted_fields=())
    assert not hit(again)
    assert origin.calls["/t"] == 2


def test_policy_cdn_header_does_not_make_a_private_app_response_shared(
    make_backend: Callable[[], Any],
) -> None:
    """A policy rule meant for the CDN must not turn the app's own ``private`` into an
    entry this cache (or a CDN) hands to everyone."""
    policy = Policy(rules=(Rule(path="/api/*", cdn_cache_control="max-age=600"),))
    routes = {"/api/me": [("cache-control", "private, max-age=60")], "/api/news": []}
    origin, first, again = twice(make_backend(), routes, "/api/me", policy=policy)
    assert first.header("cdn-cache-control") == ""
    assert not hit(again)
    assert origin.calls["/api/me"] == 2
    origin, first, again = twice(make_backend(), routes, "/api/news", policy=policy)
    assert first.header("cdn-cache-control") == "max-age=600"
    assert hit(again)

"""Response plans: a plain GET answered like an earlier one reuses the headers worked out for
it, with only the ETag recomputed; any difference in shape goes through the whole pipeline."""

from __future__ import annotations

import gzip
from collections import UserDict
from typing import Any

import pytest

from perf_middleware.compression.codecs import CompressionConfig
from perf_middleware.http.etag import make_etag
from perf_middleware.metrics.counters import Metrics
from perf_middleware.middleware import PerformanceMiddleware
from perf_middleware.pipeline.plans import (
    PLAN_ENCODINGS,
    PLAN_ENTRIES,
    PLAN_RETRIES,
    UNSTABLE,
    ResponsePlan,
)
from perf_middleware.policy import Policy, Rule
from tests.perf_middleware.asgi_driver import Result, call

JSON = [(b"content-type", b"application/json")]


def answering(responses: list[tuple[int, Any, bytes]]) -> Any:
    """An app answering each request with the next (status, headers, body) of ``responses``."""
    queue = iter(responses)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        status, headers, body = next(queue)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


class CountingPolicy(Policy):
    """The default rules, counting how often the pipeline applies them."""

    applied = 0

    def apply(self, headers: Any, path: str, media_type: str, status: int) -> bool:
        CountingPolicy.applied += 1
        return super().apply(headers, path, media_type, status)


@pytest.fixture
def policy() -> CountingPolicy:
    CountingPolicy.applied = 0
    return CountingPolicy(rules=Policy.default().rules)


def planned(app: PerformanceMiddleware) -> dict[tuple[str, bytes | None], ResponsePlan]:
    """The plans of ``app`` by (path, Accept-Encoding)."""
    return {
        (path, coding): plan
        for path, by_encoding in app.pipeline.plans.by_path.items()
        for coding, plan in by_encoding.items()
    }


def sent(result: Result) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in result.raw_headers if k != b"etag"]


async def test_a_repeated_shape_reuses_its_plan_and_hashes_each_body(
    policy: CountingPolicy,
) -> None:
    first, second = b'{"a": 1}' * 200, b'{"b": 2}' * 200  # same length, other bytes
    app = PerformanceMiddleware(
        answering([(200, list(JSON), first), (200, list(JSON), second)]), policy=policy
    )
    one = await call(app, "/data")
    two = await call(app, "/data")
    assert policy.applied == 1  # the second response was not worked out again
    assert len(app.pipeline.plans.by_path) == 1
    assert one.header("etag") == make_etag(first)
    assert two.header("etag") == make_etag(second)
    assert two.body == second
    assert sent(two) == sent(one)
    # and it is what the whole pipeline sends for that body
    fresh = await call(PerformanceMiddleware(answering([(200, list(JSON), second)])), "/data")
    assert two.raw_headers == fresh.raw_headers


@pytest.mark.parametrize(
    ("later", "why"),
    [
        ((404, JSON, b"x" * 1600), "status"),
        ((200, [(b"content-type", b"text/html")], b"x" * 1600), "headers"),
        ((200, JSON, b"x" * 1601), "length"),
    ],
)
async def test_another_shape_goes_through_the_pipeline(
    policy: CountingPolicy, later: tuple[int, Any, bytes], why: str
) -> None:
    app = PerformanceMiddleware(answering([(200, JSON, b"x" * 1600), later]), policy=policy)
    await call(app, "/p")
    result = await call(app, "/p")
    assert policy.applied == 2, why
    assert result.status == later[0]
    fresh = await call(PerformanceMiddleware(answering([later])), "/p")
    assert result.raw_headers == fresh.raw_headers


async def test_a_header_list_changed_in_place_is_noticed(policy: CountingPolicy) -> None:
    shared = [(b"content-type", b"application/json")]  # one list the app keeps reusing

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": shared})
        await send({"type": "http.response.body", "body": b"{}" * 700})

    middleware = PerformanceMiddleware(app, policy=policy)
    assert (await call(middleware, "/s")).header("cache-control") is None
    shared.append((b"cache-control", b"private, max-age=5"))
    assert (await call(middleware, "/s")).header("cache-control") == "private, max-age=5"
    assert policy.applied == 2


async def test_per_path_and_per_accept_encoding(policy: CountingPolicy) -> None:
    body = b"z" * 600  # below the compression minimum: identity for every client
    app = PerformanceMiddleware(answering([(200, JSON, body)] * 6), policy=policy)
    for path, encoding in [("/a", ""), ("/b", ""), ("/a", "gzip"), ("/a", ""), ("/b", "")]:
        result = await call(app, path, headers=[("accept-encoding", encoding)] if encoding else [])
        assert result.header("etag") == make_etag(body)
        assert result.header("content-encoding") is None
    assert policy.applied == 3  # /a, /b, /a with gzip
    assert set(planned(app)) == {("/a", None), ("/b", None), ("/a", b"gzip")}


@pytest.mark.parametrize("etag", [True, False])
async def test_compressed_responses_are_never_planned(policy: CountingPolicy, etag: bool) -> None:
    body = b'{"k": "value"}' * 200
    app = PerformanceMiddleware(answering([(200, JSON, body)] * 2), policy=policy, etag=etag)
    for _ in range(2):
        result = await call(app, "/c", headers=[("accept-encoding", "gzip")])
        assert result.header("content-encoding") == "gzip"
        assert gzip.decompress(result.body) == body
        assert result.header("etag") == ("W/" + make_etag(body) if etag else None)
    assert app.pipeline.plans.by_path == {}
    assert policy.applied == 2


async def test_preconditions_head_and_other_methods_skip_plans() -> None:
    body = b"q" * 700
    app = PerformanceMiddleware(answering([(200, JSON, body)] * 4))
    etag = (await call(app, "/v")).header("etag")
    assert etag == make_etag(body)
    revalidated = await call(app, "/v", headers=[("if-none-match", etag)])
    assert revalidated.status == 304
    assert revalidated.body == b""
    head = await call(app, "/v", method="HEAD")
    assert head.header("etag") == etag
    assert head.body == b""
    post = await call(app, "/v", method="POST")
    assert post.header("etag") is None  # only GET/HEAD are hashed
    assert list(planned(app)) == [("/v", None)]


@pytest.mark.parametrize(
    "headers",
    [
        [[b"content-type", b"application/json"]],  # pairs as lists (ASGI allows it)
        [(b"content-type", bytearray(b"application/json"))],  # a mutable value
        ((b"content-type", b"application/json") for _ in range(1)),  # a one-shot iterator
    ],
    ids=["list-pairs", "bytearray-value", "iterator"],
)
async def test_headers_a_plan_cannot_snapshot_are_never_planned(headers: Any) -> None:
    body = b"l" * 800
    app = PerformanceMiddleware(answering([(200, headers, body)] * 2))
    one = await call(app, "/l")
    assert app.pipeline.plans.by_path == {}
    assert one.header("etag") == make_etag(body)
    assert one.header("content-length") == "800"
    assert one.header("content-type") == "application/json"


async def test_a_tuple_of_header_pairs_is_planned_and_compared_as_a_tuple(
    policy: CountingPolicy,
) -> None:
    body = b"t" * 800
    headers = ((b"content-type", b"application/json"),)
    app = PerformanceMiddleware(answering([(200, headers, body)] * 3), policy=policy)
    for _ in range(3):
        result = await call(app, "/t")
        assert result.header("etag") == make_etag(body)
    assert policy.applied == 1
    assert planned(app)[("/t", None)].app_headers == headers


async def test_the_app_etag_and_policy_override_are_kept() -> None:
    body = b"e" * 900
    headers = [(b"content-type", b"application/json"), (b"etag", b'"app-tag"')]
    policy = Policy(rules=(Rule(path="/o", cache_control="no-store", override=True),))
    app = PerformanceMiddleware(answering([(200, headers, body)] * 3), policy=policy)
    for _ in range(3):
        result = await call(app, "/o")
        assert result.header("etag") == '"app-tag"'
        assert result.header("cache-control") == "no-store"
    assert planned(app)[("/o", None)].etag_at == -1  # nothing to recompute


async def test_a_path_whose_headers_never_repeat_stops_being_planned(
    policy: CountingPolicy,
) -> None:
    calls = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal calls
        calls += 1
        headers = [*JSON, (b"x-request-id", b"%d" % calls)]  # unique per response
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"r" * 700})

    middleware = PerformanceMiddleware(app, policy=policy)
    for index in range(1, 7):
        result = await call(middleware, "/r")
        assert result.header("x-request-id") == str(index)
        assert result.header("etag") == make_etag(b"r" * 700)
        if index <= PLAN_RETRIES:
            assert planned(middleware)[("/r", None)].retries == index - 1
    assert planned(middleware)[("/r", None)] is UNSTABLE
    assert policy.applied == 6  # every response went through the pipeline


async def test_plans_are_bounded() -> None:
    app = PerformanceMiddleware(answering([(200, JSON, b"b" * 10)] * (PLAN_ENTRIES + 5)))
    for index in range(PLAN_ENTRIES + 5):
        assert (await call(app, f"/n/{index}")).status == 200
    assert 0 < len(app.pipeline.plans.by_path) <= PLAN_ENTRIES


async def test_plans_per_path_are_bounded_by_accept_encoding_values() -> None:
    count = PLAN_ENCODINGS * 2 + 3
    app = PerformanceMiddleware(answering([(200, JSON, b"b" * 10)] * count))
    for index in range(count):
        headers = [("accept-encoding", f"x-{index}")]  # no coding we know: identity, planned
        assert (await call(app, "/one", headers=headers)).status == 200
    assert list(app.pipeline.plans.by_path) == ["/one"]
    assert 0 < len(app.pipeline.plans.by_path["/one"]) <= PLAN_ENCODINGS
    assert ("/one", f"x-{count - 1}".encode()) in planned(app)  # the newest is kept


async def test_planned_responses_are_counted_and_failures_still_recorded() -> None:
    metrics = Metrics()
    body = b"m" * 700
    calls = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise RuntimeError("boom")
        await send({"type": "http.response.start", "status": 200, "headers": list(JSON)})
        await send({"type": "http.response.body", "body": body})

    middleware = PerformanceMiddleware(app, metrics=metrics, compression=CompressionConfig())
    for _ in range(3):
        assert (await call(middleware, "/m")).status == 200
    assert len(middleware.pipeline.plans.by_path) == 1
    with pytest.raises(RuntimeError):
        await call(middleware, "/m")
    assert metrics.requests == 4
    assert metrics.status_classes == [0, 3, 0, 0, 1]
    assert metrics.in_flight == 0


async def test_messages_and_a_scope_that_are_mappings_but_not_dicts(
    policy: CountingPolicy,
) -> None:
    """ASGI names dicts, but an app may send another mapping (and a wrapper may pass one as
    the scope): the pipeline reads a copy and still plans, hashes and forwards."""
    body = b"u" * 700

    async def app(scope: Any, receive: Any, send: Any) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": list(JSON)}
        await send(UserDict(start))
        await send(UserDict({"type": "http.response.body", "body": body}))

    sent_messages: list[Any] = []

    async def send(message: Any) -> None:
        sent_messages.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    middleware = PerformanceMiddleware(app, policy=policy)
    for _ in range(3):
        sent_messages.clear()
        scope = UserDict({"type": "http", "method": "GET", "path": "/u", "headers": []})
        await middleware(scope, receive, send)  # type: ignore[arg-type]
        start, sent_body = sent_messages
        assert start["status"] == 200
        assert (b"etag", make_etag(body).encode()) in start["headers"]
        assert sent_body["body"] == body
    assert list(planned(middleware)) == [("/u", None)]
    assert policy.applied == 1  # the second and third answers were planned

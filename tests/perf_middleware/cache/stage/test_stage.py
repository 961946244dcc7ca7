"""RFC 9111 behaviour of the cache stage through PerformanceMiddleware, on both backends."""

from __future__ import annotations

import brotli
import httpx
import pytest
import zstandard
from benchmarks.dynamic import make_bodies

from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.events import backend_label
from perf_middleware.middleware import PerformanceMiddleware
from tests.perf_middleware.cache.support import Origin, Reply, client, json_body, make, status_of

BODY = json_body(4000)


@pytest.fixture
def origin() -> Origin:
    return Origin()


async def get_twice(app: PerformanceMiddleware, path: str) -> tuple[httpx.Response, httpx.Response]:
    """Two requests for ``path`` in a row: for a stored response the second is a hit."""
    async with client(app) as c:
        return await c.get(path), await c.get(path)


async def test_second_request_is_a_hit_with_age_and_cache_status(origin, backend, clock):
    origin.route("/a", BODY)
    async with client(make(origin, backend, clock)) as c:
        first = await c.get("/a")
        clock.advance(7)
        second = await c.get("/a")
    assert origin.calls == 1
    assert first.content == second.content == BODY
    assert "fwd=uri-miss" in status_of(first)
    assert "stored" in status_of(first)
    assert status_of(second).startswith("perf-middleware; hit")
    assert "ttl=53" in status_of(second)
    assert second.headers["age"] == "7"


@pytest.mark.parametrize(
    ("coding", "decode"),
    [
        ("zstd", lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b)),
        ("br", brotli.decompress),
    ],
)
async def test_hit_serves_stored_encoded_variant(origin, backend, clock, coding, decode):
    origin.route("/a", BODY)
    async with client(make(origin, backend, clock)) as c:
        await c.get("/a", headers={"accept-encoding": "identity"})
        hit = await c.get("/a", headers={"accept-encoding": f"{coding}, gzip;q=0.5"})
        raw = await c.get("/a", headers={"accept-encoding": "identity"})
    assert origin.calls == 1
    assert hit.headers["content-encoding"] == coding
    assert "accept-encoding" in hit.headers["vary"].lower()
    assert hit.headers["etag"].startswith('W/"')
    assert "hit" in status_of(hit)
    assert raw.headers.get("content-encoding") is None
    assert raw.content == BODY
    assert raw.headers["etag"].startswith('"')


async def test_vary_accept_language_keeps_one_entry_per_value(origin, backend, clock):
    origin.routes["/i18n"] = lambda req: Reply(
        200,
        {"content-type": "text/plain", "cache-control": "max-age=60", "vary": "Accept-Language"},
        f"hello in {req.get('accept-language', 'none')}".encode(),
    )
    async with client(make(origin, backend, clock)) as c:
        de = await c.get("/i18n", headers={"accept-language": "de"})
        fr = await c.get("/i18n", headers={"accept-language": "fr"})
        de2 = await c.get("/i18n", headers={"accept-language": "de"})
        fr2 = await c.get("/i18n", headers={"accept-language": "fr"})
    assert origin.calls == 2
    assert de.content == de2.content == b"hello in de"
    assert fr.content == fr2.content == b"hello in fr"
    assert "fwd=vary-miss" in status_of(fr)
    assert "hit" in status_of(de2)
    assert "hit" in status_of(fr2)


async def test_vary_star_is_never_stored(origin, backend, clock):
    origin.route("/star", BODY, vary="*")
    first, _ = await get_twice(make(origin, backend, clock), "/star")
    assert origin.calls == 2
    assert "detail=vary-star" in status_of(first)


async def test_set_cookie_response_is_not_stored(origin, backend, clock):
    origin.route("/login", BODY, set_cookie="session=secret")
    first, second = await get_twice(make(origin, backend, clock), "/login")
    assert origin.calls == 2
    assert "detail=set-cookie" in status_of(first)
    assert second.headers["set-cookie"] == "session=secret"


async def test_set_cookie_route_opt_in_stores_without_the_cookie(origin, backend, clock):
    origin.route("/page", BODY, set_cookie="csrftoken=abc")
    app = make(origin, backend, clock, set_cookie_routes=("/page",))
    async with client(app) as c:
        first = await c.get("/page")
        second = await c.get("/page")
    assert origin.calls == 1
    assert first.headers["set-cookie"] == "csrftoken=abc"
    assert "hit" in status_of(second)
    assert "set-cookie" not in second.headers


async def test_authorization_prevents_storing_unless_public(origin, backend, clock):
    origin.route("/private", BODY)
    origin.route("/public", BODY, cache_control="public, max-age=60")
    auth = {"authorization": "Bearer t"}
    async with client(make(origin, backend, clock)) as c:
        p1 = await c.get("/private", headers=auth)
        await c.get("/private", headers=auth)
        await c.get("/public", headers=auth)
        shared = await c.get("/public", headers=auth)
    assert "detail=authorization" in status_of(p1)
    assert origin.calls == 3
    assert "hit" in status_of(shared)


async def test_no_store_in_response_or_request(origin, backend, clock):
    origin.route("/nostore", BODY, cache_control="no-store")
    origin.route("/ok", BODY)
    async with client(make(origin, backend, clock, honor_request_no_cache=True)) as c:
        first = await c.get("/nostore")
        await c.get("/nostore")
        req = await c.get("/ok", headers={"cache-control": "no-store"})
        after = await c.get("/ok")
    assert "detail=no-store" in status_of(first)
    assert "fwd=request" in status_of(req)
    assert "fwd=uri-miss" in status_of(after)  # the no-store request stored nothing
    assert origin.calls == 4


async def test_private_response_is_not_stored(origin, backend, clock):
    origin.route("/me", BODY, cache_control="private, max-age=60")
    first, _ = await get_twice(make(origin, backend, clock), "/me")
    assert origin.calls == 2
    assert "detail=private" in status_of(first)


def _validating_origin(origin: Origin, version: dict[str, int]) -> None:
    def reply(req: dict[str, str]) -> Reply:
        headers = {
            "content-type": "application/json",
            "etag": '"v1"',
            "cache-control": "max-age=0, must-revalidate",
            "x-version": str(version["n"]),
        }
        if req.get("if-none-match") == '"v1"':
            return Reply(304, {**headers, "cache-control": "max-age=30"})
        return Reply(200, headers, BODY)

    origin.routes["/doc"] = reply


async def test_max_age_zero_must_revalidate_and_304_refreshes_headers(origin, backend, clock):
    version = {"n": 1}
    _validating_origin(origin, version)
    async with client(make(origin, backend, clock)) as c:
        first = await c.get("/doc")
        version["n"] = 2
        second = await c.get("/doc")
        third = await c.get("/doc")
    assert first.headers["x-version"] == "1"
    assert origin.requests[1]["if-none-match"] == '"v1"'
    assert second.status_code == 200
    assert second.content == BODY
    assert "fwd-status=304" in status_of(second)
    assert second.headers["x-version"] == "2"  # RFC 9111 §4.3.4: stored headers updated
    assert second.headers["cache-control"] == "max-age=30"
    assert "hit" in status_of(third)  # the refreshed entry is now fresh for 30 s
    assert origin.calls == 2


async def test_client_conditional_on_hit_gets_304(origin, backend, clock):
    origin.route("/a", BODY)
    async with client(make(origin, backend, clock)) as c:
        first = await c.get("/a", headers={"accept-encoding": "br"})
        again = await c.get(
            "/a", headers={"accept-encoding": "br", "if-none-match": first.headers["etag"]}
        )
        other = await c.get("/a", headers={"if-none-match": '"nope"'})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert other.status_code == 200


async def test_head_is_answered_from_stored_get(origin, backend, clock):
    origin.route("/a", BODY)
    async with client(make(origin, backend, clock)) as c:
        await c.get("/a", headers={"accept-encoding": "identity"})
        head = await c.head("/a", headers={"accept-encoding": "identity"})
    assert origin.calls == 1
    assert head.content == b""
    assert head.headers["content-length"] == str(len(BODY))


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_unsafe_method_invalidates_target_and_location(origin, backend, clock, method):
    origin.route("/items/1", BODY)
    origin.route("/items", BODY)
    origin.route("/items/2", BODY, cache_control=None, location="/items/1")
    async with client(make(origin, backend, clock)) as c:
        await c.get("/items/1")
        await c.get("/items")
        await c.request(method, "/items")
        after_items = await c.get("/items")
        hit = await c.get("/items/1")
        await c.request(method, "/items/2")
        after_location = await c.get("/items/1")
    assert "fwd=uri-miss" in status_of(after_items)
    assert "hit" in status_of(hit)
    assert "fwd=uri-miss" in status_of(after_location)


async def test_failed_unsafe_method_does_not_invalidate(origin, backend, clock):
    origin.route("/items", BODY)
    async with client(make(origin, backend, clock)) as c:
        await c.get("/items")
        origin.route("/items", b"bad", status=400)
        await c.post("/items")
        origin.route("/items", BODY)
        after = await c.get("/items")
    assert "hit" in status_of(after)


async def test_stale_while_revalidate_serves_stale_then_refreshes(origin, backend, clock):
    origin.route("/swr", b'{"v":1}', cache_control="max-age=10, stale-while-revalidate=60")
    app = make(origin, backend, clock)
    async with client(app) as c:
        await c.get("/swr")
        origin.route("/swr", b'{"v":2}', cache_control="max-age=10, stale-while-revalidate=60")
        clock.advance(30)
        stale = await c.get("/swr")
        stale_again = await c.get("/swr")
        await app.cache_stage.drain()
        fresh = await c.get("/swr")
    assert stale.content == b'{"v":1}'
    assert "fwd=stale" in status_of(stale)
    assert stale_again.content == b'{"v":1}'
    assert origin.calls == 2  # one background refresh for the two stale hits
    assert fresh.content == b'{"v":2}'
    assert "hit" in status_of(fresh)
    assert "fwd" not in status_of(fresh)


async def test_background_refresh_started_by_a_no_store_request_is_stored(origin, backend, clock):
    """The refresh is the cache's own revalidation: the no-store of the request that happened
    to start it must not keep its answer out of the store."""
    origin.route("/swr", b'{"v":1}', cache_control="max-age=10, stale-while-revalidate=60")
    app = make(origin, backend, clock)
    async with client(app) as c:
        await c.get("/swr")
        origin.route("/swr", b'{"v":2}', cache_control="max-age=10, stale-while-revalidate=60")
        clock.advance(30)
        stale = await c.get("/swr", headers={"cache-control": "no-store"})
        await app.cache_stage.drain()
        fresh = await c.get("/swr")
    assert stale.content == b'{"v":1}'
    assert "fwd=stale" in status_of(stale)
    assert fresh.content == b'{"v":2}'
    assert "fwd" not in status_of(fresh)
    assert origin.calls == 2


async def test_swr_window_passed_means_a_blocking_fetch(origin, backend, clock):
    origin.route("/swr", b'{"v":1}', cache_control="max-age=10, stale-while-revalidate=5")
    async with client(make(origin, backend, clock)) as c:
        await c.get("/swr")
        origin.route("/swr", b'{"v":2}')
        clock.advance(30)
        late = await c.get("/swr")
    assert late.content == b'{"v":2}'


@pytest.mark.parametrize("failure", ["status", "exception"])
async def test_stale_if_error_serves_stale(origin, backend, clock, failure):
    origin.route("/sie", b'{"ok":1}', cache_control="max-age=10, stale-if-error=300")
    async with client(make(origin, backend, clock)) as c:
        await c.get("/sie")
        if failure == "status":
            origin.route("/sie", b"down", status=503, cache_control=None)
        else:
            origin.routes["/sie"] = Reply(raises=True)
        clock.advance(60)
        answer = await c.get("/sie")
    assert answer.status_code == 200
    assert answer.content == b'{"ok":1}'
    assert "detail=stale-if-error" in status_of(answer)


async def test_must_revalidate_forbids_stale_on_error(origin, backend, clock):
    origin.route("/mr", b"{}", cache_control="max-age=10, must-revalidate, stale-if-error=300")
    async with client(make(origin, backend, clock)) as c:
        await c.get("/mr")
        origin.route("/mr", b"down", status=503, cache_control=None)
        clock.advance(60)
        answer = await c.get("/mr")
    assert answer.status_code == 503


async def test_forged_host_cannot_poison_other_hosts(origin, backend, clock):
    origin.routes["/p"] = lambda req: Reply(
        200,
        {"content-type": "text/plain", "cache-control": "max-age=60"},
        f"for {req['host']}".encode(),
    )
    app = make(origin, backend, clock)
    async with client(app, host="evil.test") as evil:
        await evil.get("/p")
    async with client(app, host="example.test") as good:
        answer = await good.get("/p")
    assert answer.content == b"for example.test"


async def test_host_allow_list_bypasses_unknown_hosts(origin, backend, clock):
    origin.route("/p", BODY)
    app = make(origin, backend, clock, allowed_hosts=("example.test",))
    async with client(app, host="evil.test") as evil:
        first = await evil.get("/p")
        await evil.get("/p")
    async with client(app, host="example.test") as good:
        await good.get("/p")
        hit = await good.get("/p")
    assert "fwd=bypass" in status_of(first)
    assert origin.calls == 3
    assert "hit" in status_of(hit)


async def test_unkeyed_header_reflected_without_vary_is_not_stored(origin, backend, clock):
    # the classic poisoning: the app reflects X-Forwarded-Host but does not Vary on it
    origin.routes["/r"] = lambda req: Reply(
        200,
        {"content-type": "text/plain", "cache-control": "max-age=60"},
        req.get("x-forwarded-host", "none").encode(),
    )
    async with client(make(origin, backend, clock)) as c:
        poisoned = await c.get("/r", headers={"x-forwarded-host": "attacker.test"})
        victim = await c.get("/r")
        victim_again = await c.get("/r")
    assert "detail=unkeyed-header:x-forwarded-host" in status_of(poisoned)
    assert victim.content == b"none"
    assert "hit" in status_of(victim_again)


async def test_header_named_in_vary_selects_its_own_entry(origin, backend, clock):
    origin.routes["/r"] = lambda req: Reply(
        200,
        {"content-type": "text/plain", "cache-control": "max-age=60", "vary": "x-forwarded-host"},
        req.get("x-forwarded-host", "none").encode(),
    )
    async with client(make(origin, backend, clock)) as c:
        await c.get("/r", headers={"x-forwarded-host": "attacker.test"})
        victim = await c.get("/r")
    assert victim.content == b"none"


async def test_cache_tag_header_is_stripped_and_invalidates(origin, backend, clock):
    origin.route("/t", BODY, cache_tag="presentation:42, template")
    app = make(origin, backend, clock)
    async with client(app) as c:
        first = await c.get("/t")
        hit = await c.get("/t")
        removed = await app.cache.invalidate_tags(["presentation:42"])
        after = await c.get("/t")
    assert "cache-tag" not in first.headers
    assert "cache-tag" not in hit.headers
    assert removed == 1
    assert "fwd=uri-miss" in status_of(after)


async def test_invalidate_pattern_and_url_through_middleware(origin, backend, clock):
    for path in ("/presentations/1", "/presentations/2", "/other"):
        origin.route(path, BODY)
    app = make(origin, backend, clock)
    async with client(app) as c:
        for path in ("/presentations/1", "/presentations/2", "/other"):
            await c.get(path)
        assert await app.cache.invalidate_pattern("/presentations/*") == 2
        assert await app.cache.invalidate_url("http://example.test/other") == 1
        assert await app.cache.invalidate_url("http://example.test/other") == 0


async def test_request_directives(origin, backend, clock):
    origin.route("/d", BODY)
    async with client(make(origin, backend, clock, honor_request_no_cache=True)) as c:
        missing = await c.get("/d", headers={"cache-control": "only-if-cached"})
        await c.get("/d")
        clock.advance(20)
        too_old = await c.get("/d", headers={"cache-control": "max-age=5"})
        clock.advance(50)  # 50 s into the fresh copy stored by the max-age=5 request
        not_fresh_enough = await c.get("/d", headers={"cache-control": "min-fresh=20"})
        clock.advance(100)
        allowed_stale = await c.get("/d", headers={"cache-control": "max-stale=300"})
        no_cache = await c.get("/d", headers={"cache-control": "no-cache"})
    assert missing.status_code == 504
    assert "fwd" in status_of(too_old)
    assert "fwd" in status_of(not_fresh_enough)
    assert "hit" in status_of(allowed_stale)
    assert "fwd" not in status_of(allowed_stale)
    assert "fwd=stale" in status_of(no_cache)


async def test_large_body_passes_through_unstored(origin, backend, clock):
    origin.route("/big", b"x" * 50_000)
    async with client(make(origin, backend, clock, max_body_size=10_000)) as c:
        first = await c.get("/big")
        await c.get("/big")
    assert first.content == b"x" * 50_000
    assert origin.calls == 2
    assert "detail=too-large" in status_of(first)


async def test_status_404_with_max_age_is_cached_but_500_without_is_not(origin, backend, clock):
    origin.route("/gone", b"gone", status=404)
    origin.route("/boom", b"boom", status=500, cache_control=None)
    async with client(make(origin, backend, clock)) as c:
        await c.get("/gone")
        gone = await c.get("/gone")
        await c.get("/boom")
        await c.get("/boom")
    assert gone.status_code == 404
    assert "hit" in status_of(gone)
    assert origin.calls == 3


async def test_large_entry_stored_fast_then_recompressed_at_high_levels(origin, backend, clock):
    big = make_bodies()["html50k"][0]
    origin.route("/big", big, content_type="text/html")
    app = make(origin, backend, clock, background_compress_over=10_000)
    async with client(app) as c:
        await c.get("/big", headers={"accept-encoding": "identity"})
        early = await c.get("/big", headers={"accept-encoding": "br"})
        await app.cache_stage.drain()
        late = await c.get("/big", headers={"accept-encoding": "br"})
    assert origin.calls == 1
    # httpx decodes br: compare the decoded bodies and the sizes on the wire
    assert early.content == late.content == big
    assert early.headers["content-encoding"] == late.headers["content-encoding"] == "br"
    # br 11 replaced the on-the-fly br 4
    assert int(late.headers["content-length"]) < int(early.headers["content-length"])
    assert app.cache_stage.counts["upgraded"] == 1


async def test_expired_index_records_are_purged_in_the_background(origin, backend, clock):
    origin.route("/short", BODY, cache_control="max-age=5")
    origin.route("/other", BODY)
    app = make(origin, backend, clock, purge_interval=100, keep_stale=0)
    async with client(app) as c:
        await c.get("/short")  # first store: purges (nothing yet) and starts the interval
        clock.advance(150)
        await c.get("/other")  # a store after the interval: purges /short
        await app.cache_stage.drain()
    assert await backend.entry_info("http://example.test/short") == []
    assert len(await backend.entry_info("http://example.test/other")) == 1


async def test_not_stored_reason_is_logged(origin, backend, clock, caplog):
    origin.route("/login", BODY, set_cookie="session=1")
    with caplog.at_level("DEBUG", logger="perf_middleware.cache"):
        async with client(make(origin, backend, clock)) as c:
            await c.get("/login")
    assert any("cache store skipped reason=set-cookie" in r.getMessage() for r in caplog.records)


async def test_head_on_cold_cache_is_forwarded_and_not_stored(origin, backend, clock):
    origin.route("/a", BODY)
    async with client(make(origin, backend, clock)) as c:
        head = await c.head("/a")
        get = await c.get("/a")
    assert head.content == b""
    assert "fwd=uri-miss" in status_of(head)
    assert "fwd=uri-miss" in status_of(get)
    assert origin.calls == 2


async def test_stage_events_hook_counts_hits_and_misses(origin, backend, clock):
    seen: list[tuple[str, int]] = []
    origin.route("/a", BODY)
    app = make(origin, backend, clock)
    app.cache_stage.events = lambda name, amount: seen.append((name, amount))
    async with client(app) as c:
        await c.get("/a")
        await c.get("/a")
    assert ("miss", 1) in seen
    assert ("stored", 1) in seen
    # hits skip the hook: the stage adds them to its own count and the metrics directly
    assert ("hit", 1) not in seen
    assert app.cache_stage.counts["hit"] == 1
    assert app.metrics is not None
    assert app.metrics.cache(backend_label(backend)).hit == 1
    assert app.metrics.requests == 2


async def test_app_encoded_response_is_stored_as_is_and_keyed_on_accept_encoding(
    origin, backend, clock
):
    import gzip

    def reply(req):
        if "gzip" in req.get("accept-encoding", ""):
            return Reply(
                200,
                {
                    "content-type": "text/plain",
                    "cache-control": "max-age=60",
                    "content-encoding": "gzip",
                    "vary": "Accept-Encoding",
                },
                gzip.compress(b"zipped by the app"),
            )
        return Reply(
            200,
            {
                "content-type": "text/plain",
                "cache-control": "max-age=60",
                "vary": "Accept-Encoding",
            },
            b"plain from the app",
        )

    origin.routes["/enc"] = reply
    async with client(make(origin, backend, clock)) as c:
        await c.get("/enc", headers={"accept-encoding": "gzip"})
        zipped = await c.get("/enc", headers={"accept-encoding": "gzip"})
        plain = await c.get("/enc", headers={"accept-encoding": "identity"})
        plain2 = await c.get("/enc", headers={"accept-encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == b"zipped by the app"
    assert "hit" in status_of(zipped)
    assert plain.content == b"plain from the app"
    assert "hit" in status_of(plain2)
    assert origin.calls == 2


async def test_per_entry_accept_encoding_memo_stays_small(origin, clock):
    # clients choose Accept-Encoding values freely: the memo on a stored entry must not
    # keep one (possibly kilobytes long) value per distinct header a client invents
    backend = MemoryBackend(clock=clock)
    origin.route("/a", BODY)
    async with client(make(origin, backend, clock)) as c:
        await c.get("/a")
        for i in range(200):
            hit = await c.get("/a", headers={"accept-encoding": f"gzip, x-{i}-" + "y" * 2000})
            assert status_of(hit).startswith("perf-middleware; hit")
    (entry,) = backend._entries.values()
    assert sum(len(k) for k in entry.derived if isinstance(k, bytes)) <= 16 * 64

"""Stampede protection: N concurrent cold requests make one app call, in one process and
across two middleware instances sharing one real Redis."""

from __future__ import annotations

import asyncio

from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.backends.redis import RedisBackend
from perf_middleware.cache.singleflight import SingleFlight
from tests.perf_middleware.cache.support import Origin, client, json_body, make, status_of

BODY = json_body(2000)


def slow_origin(delay: float = 0.05, cache_control: str = "max-age=60") -> Origin:
    origin = Origin()
    origin.route("/cold", BODY, cache_control=cache_control).delay = delay
    return origin


async def test_200_concurrent_cold_requests_make_one_app_call(clock):
    origin = slow_origin()
    app = make(origin, MemoryBackend(clock=clock), clock)
    async with client(app) as c:
        answers = await asyncio.gather(*(c.get("/cold") for _ in range(200)))
    assert origin.calls == 1
    assert all(a.status_code == 200 and a.content == BODY for a in answers)
    assert sum("detail=collapsed" in status_of(a) for a in answers) == 199
    assert app.cache_stage.flight.stats.leaders == 1


async def test_two_instances_sharing_redis_make_one_app_call(redis_url, clock):
    origin = slow_origin(delay=0.2)
    backends = [RedisBackend(redis_url, namespace="sf", clock=clock) for _ in range(2)]
    apps = [make(origin, backend, clock) for backend in backends]
    async with client(apps[0]) as c0, client(apps[1]) as c1:
        answers = await asyncio.gather(*(c.get("/cold") for _ in range(100) for c in (c0, c1)))
    for backend in backends:
        await backend.close()
    assert origin.calls == 1
    assert len(answers) == 200
    assert all(a.status_code == 200 and a.content == BODY for a in answers)
    waits = sum(app.cache_stage.flight.stats.remote_waits for app in apps)
    assert waits == 1  # the other instance's leader waited on the Redis lock


async def test_uncacheable_result_makes_followers_call_the_app(clock):
    origin = slow_origin(cache_control="no-store")
    app = make(origin, MemoryBackend(clock=clock), clock)
    async with client(app) as c:
        answers = await asyncio.gather(*(c.get("/cold") for _ in range(10)))
    assert origin.calls == 10
    assert all(a.content == BODY for a in answers)


async def test_followers_stop_waiting_after_the_lock_timeout(clock):
    origin = slow_origin(delay=0.3)
    app = make(origin, MemoryBackend(clock=clock), clock, lock_timeout=0.05)
    async with client(app) as c:
        answers = await asyncio.gather(*(c.get("/cold") for _ in range(5)))
    assert origin.calls == 5
    assert app.cache_stage.flight.stats.fallbacks == 4
    assert all(a.content == BODY for a in answers)


async def test_singleflight_leader_exception_lets_followers_retry():
    flight: SingleFlight[str] = SingleFlight()
    calls = 0

    async def failing() -> str | None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("boom")

    results = await asyncio.gather(
        *(flight.run("k", failing) for _ in range(3)), return_exceptions=True
    )
    assert isinstance(results[0], RuntimeError)
    assert results[1:] == [(False, None), (False, None)]
    assert calls == 1
    assert not flight.in_flight("k")


async def test_collapsed_follower_with_authorization_does_not_reuse_private_result(clock):
    origin = slow_origin()
    app = make(origin, MemoryBackend(clock=clock), clock)
    async with client(app) as c:
        answers = await asyncio.gather(
            c.get("/cold"),
            *(c.get("/cold", headers={"authorization": "Bearer x"}) for _ in range(3)),
        )
    assert all(a.content == BODY for a in answers)
    assert origin.calls == 4  # max-age only: not shareable with authenticated requests

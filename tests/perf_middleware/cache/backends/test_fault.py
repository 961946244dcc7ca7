"""Redis down means no cache, not errors: stop the real server mid-test, then restart it."""

from __future__ import annotations

from perf_middleware.cache.backends.redis import RedisBackend
from tests.perf_middleware.cache.conftest import FakeClock
from tests.perf_middleware.cache.support import Origin, client, json_body, make, status_of

BODY = json_body(3000)


async def test_requests_survive_redis_outage_and_cache_recovers(private_redis, clock):
    origin = Origin()
    origin.route("/p", BODY)
    breaker_time = FakeClock(0.0)
    backend = RedisBackend(
        private_redis.url,
        breaker_threshold=2,
        breaker_retry_after=5,
        clock=clock,
        breaker_clock=breaker_time,
    )
    app = make(origin, backend, clock)
    async with client(app) as c:
        await c.get("/p")
        assert "hit" in status_of(await c.get("/p"))
        # the first store also started the periodic index purge: let it finish before the
        # outage so the error count below is the request path's alone
        await app.cache_stage.drain()
        private_redis.stop()
        during = [await c.get("/p") for _ in range(5)]
        assert all(r.status_code == 200 and r.content == BODY for r in during)
        assert origin.calls == 6  # every request during the outage went to the app
        assert backend.breaker.is_open
        assert backend.stats.errors == 2  # then the breaker stopped trying
        private_redis.start()
        breaker_time.advance(6)  # past breaker_retry_after: the next call probes Redis
        first = await c.get("/p")
        second = await c.get("/p")
    await backend.close()
    assert "stored" in status_of(first)
    assert "hit" in status_of(second)
    assert not backend.breaker.is_open
    assert origin.calls == 7

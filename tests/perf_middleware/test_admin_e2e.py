"""The admin API through PerformanceMiddleware under a real uvicorn: health following a real
Redis outage and metrics of real HTTP traffic (the example app's PERF_ADMIN_TOKEN switch
is tested with the example)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from perf_middleware.admin_config import AdminConfig
from perf_middleware.cache.backends.redis import RedisBackend
from perf_middleware.middleware import PerformanceMiddleware
from tests.support.servers import UvicornServer

TOKEN = "e2e-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def hello(request):
    return PlainTextResponse("hello " * 200, headers={"Cache-Control": "public, max-age=60"})


def test_health_and_metrics_through_uvicorn_with_real_redis(private_redis):
    backend = RedisBackend(private_redis.url, breaker_retry_after=0.05)
    app = PerformanceMiddleware(
        Starlette(routes=[Route("/hello", hello)]),
        cache=backend,
        admin=AdminConfig(token=TOKEN),
    )
    with UvicornServer(app) as server, httpx.Client(base_url=server.url) as c:
        for _ in range(3):
            assert c.get("/hello", headers={"Accept-Encoding": "br"}).status_code == 200
        assert c.get("/_perf/health").status_code == 401
        r = c.get("/_perf/health", headers=AUTH)
        assert (r.status_code, r.json()["status"], r.json()["cache"]) == (200, "ok", "RedisBackend")
        private_redis.stop()
        r = c.get("/_perf/health", headers=AUTH)
        assert r.status_code == 503
        assert r.json()["status"] == "degraded"
        # the app keeps answering without its cache; the failure is counted
        assert c.get("/hello").status_code == 200
        private_redis.start()
        r = c.get("/_perf/health", headers=AUTH)
        assert r.status_code == 200
        text = c.get("/_perf/metrics", headers=AUTH).text
    values = {
        (s.name, tuple(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    redis = (("backend", "redis"),)
    assert values[("perf_requests_total", ())] == 4
    assert values[("perf_cache_miss_total", redis)] == 2
    assert values[("perf_cache_hit_total", redis)] == 2
    assert values[("perf_cache_store_total", redis)] == 1
    assert values[("perf_cache_error_total", redis)] >= 1
    assert values[("perf_compressed_responses_total", (("encoding", "br"),))] == 1

"""The admin API through PerformanceMiddleware under a real uvicorn: health following a real
Redis outage and metrics of real HTTP traffic (the example app's PERF_ADMIN_TOKEN switch
is tested with the example)."""

from __future__ import annotations

import socket
import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from perf_middleware.admin.config import AdminConfig
from perf_middleware.cache.backends.memory import MemoryBackend
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


async def any_page(request):
    return PlainTextResponse("page", headers={"Cache-Control": "public, max-age=600"})


def raw_get(port: int, target: str) -> bytes:
    """One request line as sent on the wire (no client normalises the target)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_pathological_invalidation_pattern_does_not_stall_the_server():
    # an anonymous client plants a long cacheable URL; an operator's pattern with many
    # ``*`` then ran a backtracking regex against it on the event loop: seconds for this
    # 25-character path, minutes for a 40-character one (kept short so the old code fails
    # this test instead of freezing it)
    app = PerformanceMiddleware(
        Starlette(routes=[Route("/{path:path}", any_page)]),
        cache=MemoryBackend(),
        admin=AdminConfig(token=TOKEN),
    )
    with UvicornServer(app) as server:
        assert b"stored" in raw_get(server.port, "/" + "a" * 24)
        outcome: dict[str, object] = {}

        def invalidate() -> None:
            started = time.monotonic()
            try:
                r = httpx.post(
                    f"{server.url}/_perf/invalidate",
                    json={"patterns": ["/************Z", "/*/*/*/*/*.json"]},
                    headers=AUTH,
                    timeout=5,
                )
                outcome["status"] = r.status_code
            except httpx.TimeoutException as exc:
                outcome["status"] = repr(exc)
            outcome["seconds"] = time.monotonic() - started

        admin = threading.Thread(target=invalidate)
        admin.start()
        time.sleep(0.3)  # the invalidation is under way
        started = time.monotonic()
        page = raw_get(server.port, "/other")
        other_seconds = time.monotonic() - started
        admin.join(timeout=15)
        assert outcome["status"] == 200, outcome
        assert outcome["seconds"] < 2, outcome
        assert page.startswith(b"HTTP/1.1 200")
        assert other_seconds < 2

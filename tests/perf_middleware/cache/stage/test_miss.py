"""The miss path through a real uvicorn with raw request lines: requests that wait on another
request's app call (single-flight) get its response only under the rules of a stored entry,
and the wait ends when that response is complete, not when the app returns."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.backends.redis import RedisBackend
from perf_middleware.cache.config import CacheConfig
from perf_middleware.middleware import PerformanceMiddleware
from tests.perf_middleware.cache.raw_http import Raw, raw_get
from tests.perf_middleware.cache.support import Origin, client, make, status_of
from tests.support.servers import UvicornServer, free_port, wait_for_port


class Counted:
    """A Starlette app whose ``/page`` answers ``headers`` after ``delay`` seconds, then
    runs a background task of ``background`` seconds; ``calls`` counts app calls."""

    def __init__(
        self, headers: dict[str, str], *, delay: float = 0.0, background: float = 0.0
    ) -> None:
        self.calls = 0
        self.conditional = 0
        self.headers = headers
        self.delay = delay
        self.background = background
        self.app = Starlette(routes=[Route("/page", self.page)])

    async def page(self, request: Request) -> Response:
        self.calls += 1
        if "if-none-match" in request.headers:
            self.conditional += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        task = BackgroundTask(asyncio.sleep, self.background) if self.background else None
        return PlainTextResponse("page body", headers=self.headers, background=task)


@pytest.fixture(params=["memory", "redis"])
def make_backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A factory of backends living on the server's loop (real clocks)."""
    if request.param == "memory":
        yield lambda: MemoryBackend()
        return
    url = request.getfixturevalue("redis_url")
    names = iter(range(1000))
    yield lambda: RedisBackend(url, namespace=f"miss{time.time_ns()}-{next(names)}")


def serve(app: Any, backend: Any, **config: Any) -> UvicornServer:
    return UvicornServer(
        PerformanceMiddleware(app, cache=backend, cache_config=CacheConfig(**config))
    )


def concurrently(port: int, count: int, *lines: str, lead_time: float = 0.15) -> list[Raw]:
    """One request, then ``count - 1`` more while the first one's app call is running."""
    with ThreadPoolExecutor(count) as pool:
        first = pool.submit(raw_get, port, "/page", *lines)
        time.sleep(lead_time)
        rest = [pool.submit(raw_get, port, "/page", *lines) for _ in range(count - 1)]
        return [first.result(), *(f.result() for f in rest)]


@pytest.mark.parametrize("cache_control", ["public, max-age=60", "no-store"])
def test_sequential_request_does_not_wait_for_the_leaders_background_task(
    make_backend: Any, cache_control: str
) -> None:
    origin = Counted({"cache-control": cache_control}, background=2.0)
    with serve(origin.app, make_backend()) as server:
        first = raw_get(server.port, "/page")
        second = raw_get(server.port, "/page")
    assert first.status == second.status == 200
    assert first.elapsed < 1.0
    assert second.elapsed < 1.0, f"waited {second.elapsed:.2f}s for the first request's task"
    assert second.body == b"page body"
    if cache_control.startswith("public"):
        assert second.header("cache-status").startswith("perf-middleware; hit")
        assert origin.calls == 1
    else:
        assert origin.calls == 2


def test_followers_of_a_stale_on_arrival_response_are_not_collapsed(make_backend: Any) -> None:
    origin = Counted({"cache-control": "public, max-age=10", "age": "15"}, delay=0.6)
    with serve(origin.app, make_backend()) as server:
        answers = concurrently(server.port, 4)
    assert [a.status for a in answers] == [200] * 4
    assert all(a.body == b"page body" for a in answers)
    assert not [
        a.header("cache-status") for a in answers if "collapsed" in a.header("cache-status")
    ]
    assert origin.calls == 4  # stale on arrival, no validator: every request goes to the app


def test_followers_of_a_no_cache_response_revalidate(make_backend: Any) -> None:
    origin = Counted({"cache-control": "public, no-cache", "etag": '"v1"'}, delay=0.6)
    with serve(origin.app, make_backend()) as server:
        answers = concurrently(server.port, 4)
    assert [a.status for a in answers] == [200] * 4
    assert all(a.body == b"page body" for a in answers)
    statuses = [a.header("cache-status") for a in answers]
    assert not [s for s in statuses if "collapsed" in s]
    assert origin.calls == 4
    assert origin.conditional == 3  # each follower revalidated the leader's entry
    assert all("fwd-status=304" in s for s in statuses[1:])


def test_fresh_response_is_still_shared_by_concurrent_followers(make_backend: Any) -> None:
    origin = Counted({"cache-control": "public, max-age=60"}, delay=0.6)
    with serve(origin.app, make_backend()) as server:
        answers = concurrently(server.port, 6)
    assert all(a.status == 200 and a.body == b"page body" for a in answers)
    assert origin.calls == 1
    assert sum("detail=collapsed" in a.header("cache-status") for a in answers) == 5


async def test_follower_with_min_fresh_beyond_the_response_is_not_collapsed(clock: Any) -> None:
    origin = Origin()
    origin.route("/d", "body", cache_control="max-age=60").delay = 0.1
    app = make(origin, MemoryBackend(clock=clock), clock)
    async with client(app) as c:
        plain, picky = await asyncio.gather(
            c.get("/d"), c.get("/d", headers={"cache-control": "min-fresh=120"})
        )
    assert plain.text == picky.text == "body"
    assert "collapsed" not in status_of(picky)
    assert origin.calls == 2


PROCESS_APP = """
import asyncio, os
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from perf_middleware import PerformanceMiddleware, RedisBackend

async def page(request):
    with open(os.environ["CALLS_FILE"], "a") as calls:
        calls.write("x")
    await asyncio.sleep(0.5)
    return PlainTextResponse("page body", headers={"cache-control": "public, max-age=60"})

app = PerformanceMiddleware(
    Starlette(routes=[Route("/page", page)]),
    cache=RedisBackend(os.environ["REDIS_URL"], namespace=os.environ["NAMESPACE"]),
)
"""


def test_two_uvicorn_processes_on_one_redis_make_one_app_call(
    redis_url: str, tmp_path: Path
) -> None:
    (tmp_path / "sf_app.py").write_text(PROCESS_APP)
    calls = tmp_path / "calls"
    calls.write_text("")
    env = {
        **os.environ,
        "CALLS_FILE": str(calls),
        "REDIS_URL": redis_url,
        "NAMESPACE": f"sf-proc-{time.time_ns()}",
    }
    ports = [free_port(), free_port()]
    command = [sys.executable, "-m", "uvicorn", "sf_app:app", "--app-dir", str(tmp_path)]
    command += ["--host", "127.0.0.1", "--log-level", "warning"]
    processes = [subprocess.Popen([*command, "--port", str(port)], env=env) for port in ports]
    try:
        for port in ports:
            wait_for_port(port, timeout=30)
        with ThreadPoolExecutor(40) as pool:
            futures = [pool.submit(raw_get, ports[i % 2], "/page") for i in range(40)]
            answers = [f.result() for f in futures]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
    assert all(a.status == 200 and a.body == b"page body" for a in answers)
    assert calls.read_text() == "x"  # one app call in two processes


def test_200_concurrent_cold_requests_through_uvicorn_make_one_app_call() -> None:
    origin = Counted({"cache-control": "public, max-age=60"}, delay=0.5)
    with serve(origin.app, MemoryBackend()) as server, ThreadPoolExecutor(100) as pool:
        futures = [pool.submit(raw_get, server.port, "/page") for _ in range(200)]
        answers = [f.result() for f in futures]
    assert all(a.status == 200 and a.body == b"page body" for a in answers)
    assert origin.calls == 1
    assert sum("detail=collapsed" in a.header("cache-status") for a in answers) >= 50  # overlapping


async def test_followers_within_stale_while_revalidate_get_stale_and_one_refresh(
    clock: Any,
) -> None:
    """Stale on arrival but inside its stale-while-revalidate window: followers are answered
    as a stored entry would be (stale, refreshed once in the background), not as fresh."""
    origin = Origin()
    reply = origin.route("/swr", "v1", cache_control="max-age=10, stale-while-revalidate=60")
    reply.headers["age"] = "15"
    reply.delay = 0.1
    app = make(origin, MemoryBackend(clock=clock), clock)
    async with client(app) as c:
        answers = await asyncio.gather(*(c.get("/swr") for _ in range(4)))
        await app.cache_stage.drain()
    assert [a.text for a in answers] == ["v1"] * 4
    followers = [status_of(a) for a in answers[1:]]
    assert all("fwd=stale" in s and "collapsed" not in s for s in followers), followers
    assert origin.calls == 2  # the leader's call and one background refresh

"""The near cache's coherence bound across processes: two uvicorn processes serve a page
from their near caches; a third process (this test) writes a new version or invalidates,
and once the bound has passed neither server process serves the old page again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from perf_middleware.cache.backends.redis import RedisBackend
from tests.support.servers import UvicornProcess

ROOT = Path(__file__).resolve().parents[4]
LAG = 0.5  # near_cache_max_lag of the server processes: the bound under test


@pytest.fixture
def servers(private_redis, tmp_path):
    version = tmp_path / "version"
    version.write_bytes(b'"v0"')
    env = {
        "NEAR_REDIS_URL": private_redis.url,
        "NEAR_MAX_LAG": str(LAG),
        "NEAR_VERSION_FILE": str(version),
    }
    procs = [UvicornProcess("tests.support.near_app:create_app", env, ROOT) for _ in range(2)]
    for proc in procs:
        proc.start()
    yield procs, version
    for proc in procs:
        proc.stop()


async def near_hits(c: httpx.AsyncClient) -> int:
    return int((await c.get("/_near")).json()["near_hits"])


async def warm(c: httpx.AsyncClient, body: bytes) -> None:
    """Request /deck until it is ``body`` served from this process's near cache."""
    for _ in range(300):
        before = await near_hits(c)
        r = await c.get("/deck")
        after = await near_hits(c)
        if r.content == body and after > before:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(
        f"{c.base_url} never served {body!r} from its near cache: {r.content!r}, "
        f"{r.headers.get('cache-status')}, near hits {before} -> {after}"
    )


async def test_no_process_serves_an_old_version_once_the_bound_has_passed(servers, private_redis):
    procs, version = servers
    writer = RedisBackend(private_redis.url, namespace="near", near_cache_bytes=0)
    # one Host for both, as behind a load balancer: the same URL, so the same entry
    clients = [
        httpx.AsyncClient(base_url=proc.url, headers={"host": "deck.test"}, timeout=10)
        for proc in procs
    ]
    late: list[str] = []
    try:
        for round_ in range(1, 7):
            body = f'"v{round_}"'.encode()
            old = f'"v{round_ - 1}"'.encode()
            for c in clients:
                await warm(c, old)
            version.write_bytes(body)
            if round_ % 2:
                # an invalidation by another process (this one)
                await writer.invalidate_tags(["deck"])
            else:
                # a new version stored by server process 0: the request asks it to go to
                # the app, and it stores what it got
                r = await clients[0].get("/deck", headers={"cache-control": "no-cache"})
                assert r.content == body
            done = time.monotonic()
            await asyncio.sleep(LAG)  # the stated bound, from the write's completion
            for c in clients:
                for _ in range(20):
                    r = await c.get("/deck")
                    if r.content != body:
                        late.append(f"round {round_} {c.base_url}: {r.content!r}")
            assert time.monotonic() - done < 30
    finally:
        for c in clients:
            await c.aclose()
        await writer.close()
    assert late == []

"""Fixtures of the cache tests: every behaviour test runs against memory, a real Redis and a
real 3-master Redis Cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.backends.redis import RedisBackend


class FakeClock:
    """Injectable wall clock: tests move time explicitly instead of sleeping."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis", "cluster"])
async def backend(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[object]:
    if request.param == "memory":
        yield MemoryBackend(max_bytes=8 * 2**20, clock=clock)
        return
    fixture = "redis_cluster_url" if request.param == "cluster" else "redis_url"
    url = request.getfixturevalue(fixture)
    store = RedisBackend(url, namespace="t", clock=clock)
    yield store
    await store.close()

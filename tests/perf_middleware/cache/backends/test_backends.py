"""The backend contract, run against MemoryBackend and RedisBackend (real redis-server)."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from perf_middleware.cache.backends.base import CacheBackend, compile_pattern
from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.backends.redis import RedisBackend
from perf_middleware.cache.entry import CacheEntry

URL = "https://example.test/presentations/42"


def make_entry(primary: str = URL, secondary: str = "", *, tags=(), body=b"hello", vary=()):
    return CacheEntry(
        primary=primary,
        secondary=secondary,
        vary=tuple(vary),
        status=200,
        headers=((b"content-type", b"text/plain"),),
        bodies={"identity": body},
        etag='"abc"',
        response_time=1_700_000_000.0,
        freshness_lifetime=60,
        tags=tuple(tags),
    )


async def test_backend_satisfies_protocol(backend):
    assert isinstance(backend, CacheBackend)


async def test_get_on_empty_store_is_a_miss_without_vary(backend):
    lookup = await backend.get(URL, "")
    assert lookup.entry is None
    assert lookup.vary is None


async def test_set_then_get_round_trips_the_entry(backend):
    assert await backend.set(make_entry(body=b"x" * 5000), ttl=100)
    lookup = await backend.get(URL, "")
    assert lookup.entry is not None
    assert lookup.entry.body() == b"x" * 5000
    assert lookup.entry.headers == ((b"content-type", b"text/plain"),)
    assert lookup.entry.etag == '"abc"'
    assert lookup.vary == ()
    assert backend.stats.hits == 1


async def test_vary_record_returned_for_other_secondary_keys(backend):
    await backend.set(make_entry(secondary="lang=de", vary=["accept-language"]), ttl=100)
    lookup = await backend.get(URL, "lang=fr")
    assert lookup.entry is None
    assert lookup.vary == ("accept-language",)
    hit = await backend.get(URL, "lang=de")
    assert hit.entry is not None
    assert hit.entry.secondary == "lang=de"


async def test_two_variants_coexist_and_invalidate_url_drops_both(backend):
    await backend.set(make_entry(secondary="a", vary=["accept-language"], body=b"A"), ttl=100)
    await backend.set(make_entry(secondary="b", vary=["accept-language"], body=b"B"), ttl=100)
    assert (await backend.get(URL, "a")).entry.body() == b"A"
    assert (await backend.get(URL, "b")).entry.body() == b"B"
    assert await backend.invalidate_url(URL) == 2
    assert (await backend.get(URL, "a")).entry is None
    assert (await backend.get(URL, "b")).entry is None


async def test_invalidate_tags_removes_only_tagged_entries(backend):
    await backend.set(make_entry(URL + "/a", tags=["template", "p:1"]), ttl=100)
    await backend.set(make_entry(URL + "/b", tags=["business"]), ttl=100)
    await backend.set(make_entry(URL + "/c", tags=["other"]), ttl=100)
    assert await backend.invalidate_tags(["template", "business"]) == 2
    assert (await backend.get(URL + "/a", "")).entry is None
    assert (await backend.get(URL + "/b", "")).entry is None
    assert (await backend.get(URL + "/c", "")).entry is not None
    assert await backend.invalidate_tags(["template"]) == 0


async def test_restoring_with_new_tags_forgets_old_tags(backend):
    await backend.set(make_entry(tags=["old"]), ttl=100)
    await backend.set(make_entry(tags=["new"]), ttl=100)
    assert await backend.invalidate_tags(["old"]) == 0
    assert (await backend.get(URL, "")).entry is not None
    assert await backend.invalidate_tags(["new"]) == 1


async def test_invalidate_pattern_by_path_glob(backend):
    for path in ["/presentations/1", "/presentations/2?x=1", "/present", "/other/presentations/3"]:
        await backend.set(make_entry("https://example.test" + path), ttl=100)
    await backend.set(make_entry("https://other.test/presentations/9"), ttl=100)
    assert await backend.invalidate_pattern("/presentations/*") == 3
    assert (await backend.get("https://example.test/present", "")).entry is not None
    assert (await backend.get("https://example.test/other/presentations/3", "")).entry is not None


async def test_invalidate_pattern_with_host_and_literal_question_mark(backend):
    await backend.set(make_entry("https://a.test/p?x=1"), ttl=100)
    await backend.set(make_entry("https://a.test/pax=1"), ttl=100)
    await backend.set(make_entry("https://b.test/p?x=1"), ttl=100)
    assert await backend.invalidate_pattern("https://a.test/p?*") == 1
    assert (await backend.get("https://a.test/pax=1", "")).entry is not None
    assert (await backend.get("https://b.test/p?x=1", "")).entry is not None


async def test_invalid_pattern_is_a_clear_error(backend):
    with pytest.raises(ValueError, match="HINT"):
        await backend.invalidate_pattern("presentations/*")


async def test_purge_expired_drops_past_entries(backend, clock):
    await backend.set(make_entry(URL + "/short"), ttl=10)
    await backend.set(make_entry(URL + "/long"), ttl=1000)
    clock.advance(20)
    assert await backend.purge_expired() == 1
    assert await backend.entry_info(URL + "/short") == []
    assert len(await backend.entry_info(URL + "/long")) == 1


async def test_clear_empties_the_store(backend):
    await backend.set(make_entry(URL + "/1", tags=["t"]), ttl=100)
    await backend.set(make_entry(URL + "/2"), ttl=100)
    assert await backend.clear() == 2
    assert (await backend.get(URL + "/1", "")).entry is None
    assert await backend.invalidate_tags(["t"]) == 0


async def test_entry_info_describes_each_variant(backend, clock):
    await backend.set(make_entry(secondary="a", vary=["accept-language"], tags=["x"]), ttl=100)
    clock.advance(5)
    (info,) = await backend.entry_info(URL)
    assert info.url == URL
    assert info.tags == ("x",)
    assert info.vary == ("accept-language",)
    assert info.variants == ("identity",)
    assert info.status == 200
    assert info.size > 5


async def test_ping_reports_health(backend):
    result = await backend.ping()
    assert result.ok is True
    assert result.latency_ms >= 0


async def test_lock_is_exclusive_until_released(backend):
    token = await backend.acquire_lock("k", ttl=5)
    assert token is not None
    assert await backend.acquire_lock("k", ttl=5) is None
    await backend.release_lock("k", "not-the-token")
    assert await backend.acquire_lock("k", ttl=5) is None
    await backend.release_lock("k", token)
    assert await backend.acquire_lock("k", ttl=5) is not None


async def test_non_positive_ttl_is_not_stored(backend):
    assert await backend.set(make_entry(), ttl=0) is False
    assert (await backend.get(URL, "")).entry is None


async def test_invalidate_url_with_a_bare_path_covers_every_host(backend):
    await backend.set(make_entry("https://a.test/p?x=1"), ttl=100)
    await backend.set(make_entry("https://b.test/p?x=1"), ttl=100)
    await backend.set(make_entry("https://a.test/p"), ttl=100)
    assert await backend.invalidate_url("/p?x=1") == 2
    assert (await backend.get("https://a.test/p", "")).entry is not None


async def test_pathological_pattern_is_matched_without_backtracking(backend):
    # a backtracking regex of twelve ``.*`` runs against one 40-character path took minutes
    await backend.set(make_entry("https://example.test/" + "a" * 39), ttl=100)
    started = time.perf_counter()
    assert await backend.invalidate_pattern("/************Z") == 0
    assert await backend.invalidate_pattern("/*/*/*/*/*.json") == 0
    assert time.perf_counter() - started < 1.0
    assert await backend.invalidate_pattern("/*a*a*a*a*a*a*a*a*a*a*a*a") == 1


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("/a/*", "/a/", True),
        ("/a/*", "/a", False),
        ("/a/*.json", "/a/b/c.json", True),
        ("/a/*.json", "/a/b/c.json?x", False),
        ("/*/x/*", "/q/x/y/x/", True),
        ("/*ab*ab", "/abab", True),
        ("/*ab*ab", "/aba", False),
        ("/p?*", "/p?x=1", True),
        ("/p?*", "/pax=1", False),
        ("/exact", "/exact", True),
        ("/exact", "/exactly", False),
        ("/a**b", "/ab", True),
    ],
)
def test_glob_semantics(pattern, text, expected):
    assert compile_pattern(pattern)("https://h.test" + text) is expected


class LoopWatch:
    """Records the longest stretch of CPU time the event loop thread spent without running
    this ticker: a blocked loop.  Thread CPU time, not wall time, so a busy shared machine
    preempting the process does not count as blocking."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self.ticks = 0
        self.slow: list[tuple[int, float]] = []
        self._task: asyncio.Task[None] | None = None
        self._stop = False

    async def _tick(self) -> None:
        last = time.thread_time()
        while not self._stop:
            await asyncio.sleep(0)
            now = time.thread_time()
            self.max_gap = max(self.max_gap, now - last)
            if now - last > 0.01:
                self.slow.append((self.ticks, now - last))
            self.ticks += 1
            last = now

    async def __aenter__(self) -> LoopWatch:
        # objects left by earlier tests: a full collection of them is not the watched work
        gc.collect()
        gc.freeze()
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop = True
        assert self._task is not None
        await self._task
        gc.unfreeze()


BULK = 100_000


async def _fill(store, count: int, *, tags=()) -> None:
    """``count`` small entries under https://bulk.test/p/<i>.json (pipelined for Redis)."""
    entries = (
        make_entry(f"https://bulk.test/p/{i}.json", body=b"x", tags=tags) for i in range(count)
    )
    if isinstance(store, MemoryBackend):
        for entry in entries:
            await store.set(entry, ttl=1000)
        return
    if store.cluster:  # a cluster pipeline cannot run scripts: concurrent stores instead
        pending = list(entries)
        for start in range(0, len(pending), 50):  # within the client's connections per node
            chunk = pending[start : start + 50]
            assert all(await asyncio.gather(*(store.set(e, 1000) for e in chunk)))
        return
    batch = 0
    pipe = store.redis.pipeline(transaction=False)
    for entry in entries:
        keys, args = store.store_command(entry, 1000)
        await store._store(keys=keys, args=args, client=pipe)
        batch += 1
        if batch == 2000:
            await pipe.execute()
            batch = 0
    await pipe.execute()


@pytest.fixture(params=["memory", "redis"])
async def big_backend(request, clock):
    if request.param == "memory":
        yield MemoryBackend(max_bytes=2**30, clock=clock)
        return
    store = RedisBackend(request.getfixturevalue("redis_url"), namespace="bulk", clock=clock)
    yield store
    await store.close()


async def test_bulk_pattern_invalidation_keeps_the_loop_responsive(big_backend):
    await _fill(big_backend, BULK)
    async with LoopWatch() as watch:
        assert await big_backend.invalidate_pattern("/*/*.json") == BULK
    assert watch.max_gap < 0.05, f"event loop blocked {watch.slow} of {watch.ticks}"
    assert (await big_backend.get("https://bulk.test/p/7.json", "")).entry is None


async def test_bulk_tag_invalidation_keeps_the_loop_responsive(big_backend):
    await _fill(big_backend, BULK, tags=["all"])
    async with LoopWatch() as watch:
        assert await big_backend.invalidate_tags(["all"]) == BULK
    assert watch.max_gap < 0.05, f"event loop blocked {watch.slow} of {watch.ticks}"
    assert (await big_backend.get("https://bulk.test/p/7.json", "")).entry is None


async def test_clearing_a_full_store_keeps_the_loop_responsive(big_backend):
    await _fill(big_backend, BULK, tags=["all"])
    async with LoopWatch() as watch:
        assert await big_backend.clear() == BULK
    assert watch.max_gap < 0.05, f"event loop blocked {watch.slow} of {watch.ticks}"
    assert (await big_backend.get("https://bulk.test/p/7.json", "")).entry is None

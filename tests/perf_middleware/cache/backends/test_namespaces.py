"""Namespaces sharing one Redis (or one Redis Cluster) never touch one another's keys,
whatever characters their names hold: clearing, tag invalidation and storing in one leave
every other one as it was."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from perf_middleware.cache.backends.redis import RedisBackend
from tests.perf_middleware.cache.backends.test_backends import make_entry

PAGES = [f"https://example.test/p/{i}" for i in range(12)]
Open = Callable[[str], RedisBackend]


@pytest.fixture(params=["redis", "cluster"])
async def open_backend(request: pytest.FixtureRequest) -> AsyncIterator[Open]:
    """``open_backend(namespace)``: a backend on the shared server, closed after the test
    (no near cache: every read below is answered by Redis itself)."""
    url = request.getfixturevalue(
        "redis_cluster_url" if request.param == "cluster" else "redis_url"
    )
    opened: list[RedisBackend] = []

    def open_backend(namespace: str) -> RedisBackend:
        store = RedisBackend(url, namespace=namespace, near_cache_bytes=0)
        opened.append(store)
        return store

    yield open_backend
    for store in opened:
        await store.close()


async def _fill(store: RedisBackend, *, tags: tuple[str, ...] = ()) -> None:
    for page in PAGES:
        assert await store.set(make_entry(page, tags=tags), ttl=60)


async def _served(store: RedisBackend) -> int:
    return sum([(await store.get(page, "")).entry is not None for page in PAGES])


async def test_clearing_a_namespace_leaves_one_whose_name_extends_it(open_backend: Open):
    # "a:" is where "a:0"'s keys begin on a single node
    a, a0 = open_backend("a"), open_backend("a:0")
    await _fill(a)
    await _fill(a0)
    assert await a.clear() == len(PAGES)
    assert await _served(a) == 0
    assert await _served(a0) == len(PAGES)
    assert await a0.clear() == len(PAGES)
    assert await _served(a0) == 0


async def test_invalidating_tags_leaves_a_namespace_named_like_the_index_keys(
    open_backend: Open,
):
    # "a"'s tag version and tag set keys ("a:v:<tag>", "a:t:<tag>") must not be the keys of
    # namespaces "a:v" and "a:t" (their tag versions, index hashes, entries)
    a, av, at = open_backend("a"), open_backend("a:v"), open_backend("a:t")
    await _fill(a, tags=("x",))
    await _fill(av, tags=("x",))
    await _fill(at, tags=("x",))
    assert await a.invalidate_tags(["v:x", "m", "x"]) == len(PAGES)
    assert await _served(a) == 0
    assert await _served(av) == len(PAGES)
    assert await _served(at) == len(PAGES)
    # the others' indexes are intact: their own invalidation still finds every entry
    assert await av.invalidate_tags(["x"]) == len(PAGES)
    assert await at.invalidate_tags(["x"]) == len(PAGES)
    assert await _served(av) == await _served(at) == 0


async def test_storing_a_tag_leaves_a_namespace_named_like_the_tag_sets(open_backend: Open):
    # "a"'s set of entries tagged "m" must not be namespace "a:t"'s index hash ("a:t:m")
    at, a = open_backend("a:t"), open_backend("a")
    await _fill(at)
    await _fill(a, tags=("m", "tags"))
    assert a.stats.errors == at.stats.errors == 0
    assert await _served(a) == len(PAGES)
    assert await at.clear() == len(PAGES)
    assert await _served(a) == len(PAGES)


@pytest.mark.parametrize("name", ["a*", "a[b]", "a?", "a\\", "a%3A0", "a}b", "{a"])
async def test_a_namespace_with_special_characters_clears_only_itself(
    open_backend: Open, name: str
):
    # glob metacharacters must not widen clear's SCAN MATCH; braces must not end (or open)
    # a cluster bucket's hash tag; "%" must not make one name's keys another's
    special = open_backend(name)
    others = [open_backend(n) for n in ("a", "ab", "a:0", "a[b]x", "a%", "a}", "{") if n != name]
    for store in (special, *others):
        await _fill(store, tags=("x",))
    assert await special.clear() == len(PAGES)
    assert await _served(special) == 0
    for other in others:
        assert await _served(other) == len(PAGES), other.namespace
    await _fill(special, tags=("x",))
    assert await special.invalidate_tags(["x"]) == len(PAGES)
    for other in others:
        assert await _served(other) == len(PAGES), other.namespace

"""@cached on both backends: hits, keys, tags, single-flight, SWR, clear errors."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from perf_middleware import cached
from perf_middleware.cache.fn_keys import argument_key


@dataclasses.dataclass(frozen=True)
class Query:
    table: str
    limit: int


async def test_results_are_cached_per_arguments(backend, clock):
    calls: list[tuple] = []

    @cached(ttl=30, backend=backend, clock=clock)
    async def rows(table: str, *, limit: int = 10) -> list[dict]:
        calls.append((table, limit))
        return [{"table": table, "n": i} for i in range(limit)]

    first = await rows("users", limit=2)
    again = await rows("users", limit=2)
    other = await rows("users", limit=3)
    assert first == again == [{"table": "users", "n": 0}, {"table": "users", "n": 1}]
    assert len(other) == 3
    assert calls == [("users", 2), ("users", 3)]
    clock.advance(31)
    await rows("users", limit=2)
    assert len(calls) == 3


async def test_returned_values_are_independent_copies(backend, clock):
    @cached(ttl=30, backend=backend, clock=clock)
    async def data() -> dict:
        return {"items": [1]}

    await data()
    hit = await data()
    hit["items"].append(2)
    assert await data() == {"items": [1]}


async def test_invalidate_by_tag_and_by_call(backend, clock):
    calls = 0

    @cached(ttl=30, backend=backend, clock=clock, tags=lambda pk: ["products", f"product:{pk}"])
    async def product(pk: int) -> dict:
        nonlocal calls
        calls += 1
        return {"pk": pk}

    await product(1)
    await product(2)
    assert await backend.invalidate_tags(["product:1"]) == 1
    await product(1)
    await product(2)
    assert calls == 3
    assert await product.invalidate(2) == 1
    await product(2)
    assert calls == 4


async def test_concurrent_calls_share_one_execution(backend, clock):
    calls = 0

    @cached(ttl=30, backend=backend, clock=clock)
    async def slow(x: int) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return x * 2

    results = await asyncio.gather(*(slow(21) for _ in range(50)))
    assert results == [42] * 50
    assert calls == 1


async def test_stale_while_revalidate_returns_stale_and_refreshes_once(backend, clock):
    version = 0

    @cached(ttl=10, stale_while_revalidate=60, backend=backend, clock=clock)
    async def current() -> int:
        nonlocal version
        version += 1
        return version

    assert await current() == 1
    clock.advance(20)
    assert await current() == 1
    assert await current() == 1
    await current.drain()
    assert await current() == 2
    assert version == 2


async def test_custom_key_for_methods(backend, clock):
    class Repo:
        @cached(ttl=30, backend=backend, clock=clock, key=lambda self, pk: pk)
        async def get(self, pk: int) -> str:
            return f"row {pk}"

    assert await Repo().get(5) == "row 5"
    assert await Repo().get(5) == "row 5"
    assert Repo.get.key_for(None, 5) == Repo.get.key_for(object(), 5)


def test_keys_are_stable_and_order_insensitive_for_kwargs():
    a = argument_key("f", (1, "x", (2.5, None)), {"b": Query("t", 3), "a": frozenset({1, 2})})
    b = argument_key("f", (1, "x", (2.5, None)), {"a": frozenset({2, 1}), "b": Query("t", 3)})
    assert a == b
    assert argument_key("f", (1,), {}) != argument_key("f", (True,), {})
    assert argument_key("f", ("1",), {}) != argument_key("f", (1,), {})


async def test_unhashable_argument_is_a_clear_error(backend, clock):
    @cached(ttl=30, backend=backend, clock=clock)
    async def f(items: list) -> int:
        return len(items)

    with pytest.raises(TypeError, match="HINT: pass a tuple"):
        await f([1, 2])


def test_sync_function_rejected_at_decoration():
    with pytest.raises(TypeError, match="async function"):

        @cached(ttl=5)
        def sync() -> int:
            return 1


def test_bad_options_rejected():
    with pytest.raises(ValueError, match="HINT"):
        cached(ttl=0)
    with pytest.raises(TypeError, match="HINT"):
        cached(tags="products")


async def test_unpicklable_result_is_a_clear_error(backend, clock):
    @cached(ttl=30, backend=backend, clock=clock)
    async def gen() -> object:
        return lambda: 1

    with pytest.raises(TypeError, match="cannot be pickled"):
        await gen()


async def test_call_style_and_defaults_give_one_key_and_tags_see_every_argument(backend, clock):
    # f(7), f(item_id=7) and a call relying on the default are one call: one entry, one run,
    # and the tag function gets the bound arguments however the caller spelled them
    calls: list[tuple[int, str]] = []

    @cached(ttl=30, backend=backend, clock=clock, tags=lambda item_id, lang: [f"item:{item_id}"])
    async def item(item_id: int, lang: str = "en") -> dict:
        calls.append((item_id, lang))
        return {"id": item_id, "lang": lang}

    assert await item(7) == {"id": 7, "lang": "en"}
    assert await item(item_id=7) == {"id": 7, "lang": "en"}
    assert await item(7, "en") == {"id": 7, "lang": "en"}
    assert await item(lang="en", item_id=7) == {"id": 7, "lang": "en"}
    assert calls == [(7, "en")]
    assert item.key_for(7) == item.key_for(item_id=7) == item.key_for(7, lang="en")
    assert item.key_for(7, "de") != item.key_for(7)
    assert await backend.invalidate_tags(["item:7"]) == 1
    await item(item_id=7)
    assert calls == [(7, "en"), (7, "en")]
    assert await item.invalidate(item_id=7, lang="en") == 1


async def test_a_call_that_does_not_fit_the_signature_names_the_function(backend, clock):
    @cached(ttl=30, backend=backend, clock=clock)
    async def item(item_id: int) -> int:
        return item_id

    with pytest.raises(TypeError, match=r"item\(\).*missing a required argument: 'item_id'"):
        await item()


async def test_condition_leaves_some_results_uncached(backend, clock):
    # "not found" and empty results are returned but not stored (condition=bool skips
    # None and []), so the next call asks again
    store: dict[int, list[int]] = {}
    calls: list[int] = []

    @cached(ttl=30, backend=backend, clock=clock, condition=bool)
    async def rows(pk: int) -> list[int] | None:
        calls.append(pk)
        return store.get(pk)

    assert await rows(1) is None
    store[1] = []
    assert await rows(1) == []
    store[1] = [5]
    assert await rows(1) == [5]
    assert await rows(1) == [5]
    assert calls == [1, 1, 1]


async def test_condition_false_on_a_background_refresh_drops_the_stale_value(backend, clock):
    value: list[int | None] = [1]
    calls = 0

    @cached(
        ttl=10, backend=backend, clock=clock, stale_while_revalidate=60,
        condition=lambda result: result is not None,
    )  # fmt: skip
    async def row() -> int | None:
        nonlocal calls
        calls += 1
        return value[0]

    assert await row() == 1
    value[0] = None  # deleted meanwhile
    clock.advance(11)
    assert await row() == 1  # stale, refreshed in the background
    await row.drain()
    assert await row() is None  # the stale 1 is gone, not served for another minute
    assert calls == 3


def test_condition_must_be_callable():
    with pytest.raises(TypeError, match=r"condition.*got 'yes'.*HINT"):
        cached(condition="yes")  # type: ignore[arg-type]

"""``@cached``: a function-result cache for async functions, on the response-cache backends.

Results are stored as entries under ``fn:<module>.<qualname>:<digest of the arguments>``, so
they share the backends' limits, tags and invalidation (``invalidate_tags`` drops pages and
query results alike), single-flight and stale-while-revalidate.  Values are pickled: a Redis
holding them must be trusted (or encrypted with ``RedisBackend(encryption_key=...)``).

Arguments are bound to the function's signature with defaults applied before anything sees
them, so ``f(7)``, ``f(item_id=7)`` and ``f(7, lang="en")`` (``lang="en"`` being the default)
are one call: one key, one entry, and the ``tags``/``key`` functions receive the same values.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import pickle
import time
import types
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ParamSpec, TypeVar

from perf_middleware.cache.backends.base import CacheBackend
from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.entry import CacheEntry
from perf_middleware.cache.fn_keys import argument_key
from perf_middleware.cache.singleflight import SingleFlight
from perf_middleware.options import check_range, check_value

__all__ = ["cached"]

logger = logging.getLogger("perf_middleware.cache")

P = ParamSpec("P")
R = TypeVar("R")
Tags = Sequence[str] | Callable[..., Iterable[str]]


class CachedFunction:
    """The wrapper ``@cached`` returns: call it like the function; ``invalidate(*args)``
    drops one result, ``key_for(*args)`` shows its key, ``backend`` is the store."""

    def __init__(
        self,
        fn: Callable[..., Awaitable[Any]],
        *,
        ttl: float,
        backend: CacheBackend,
        tags: Tags,
        key: Callable[..., Any] | None,
        stale_while_revalidate: float,
        clock: Callable[[], float],
        lock_timeout: float,
        condition: Callable[[Any], bool] | None = None,
    ) -> None:
        self.fn = fn
        self.signature = inspect.signature(fn)
        self.condition = condition
        self.ttl = ttl
        self.backend = backend
        self.tags = tags
        self.key = key
        self.swr = stale_while_revalidate
        self.clock = clock
        self.name = f"{fn.__module__}.{fn.__qualname__}"
        shared = getattr(backend, "shared", True)
        self.flight: SingleFlight[CacheEntry] = SingleFlight(
            backend if shared else None, timeout=lock_timeout
        )
        self._refreshing: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()
        functools.update_wrapper(self, fn)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        """Bind like a function when used on a method (``self`` becomes the first argument)."""
        return self if instance is None else types.MethodType(self, instance)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """``(args, kwargs)`` of a call in one canonical spelling: bound to the signature,
        defaults applied, every parameter that can be positional passed positionally."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"{self.name}(): {exc}. HINT: call it as its signature says: "
                f"{self.fn.__qualname__}{self.signature}"
            ) from None
        bound.apply_defaults()
        return bound.args, bound.kwargs

    def key_for(self, *args: Any, **kwargs: Any) -> str:
        """Cache key of a call; a custom ``key`` function's result is digested the same way."""
        args, kwargs = self.bind(args, kwargs)
        return self._key(args, kwargs)

    def _key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        if self.key is not None:
            parts: Any = self.key(*args, **kwargs)
            return f"fn:{self.name}:{argument_key(self.name, (parts,), {})}"
        return f"fn:{self.name}:{argument_key(self.name, args, kwargs)}"

    async def invalidate(self, *args: Any, **kwargs: Any) -> int:
        return await self.backend.invalidate_url(self.key_for(*args, **kwargs))

    async def drain(self) -> None:
        """Wait for background refreshes (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = self.bind(args, kwargs)
        key = self._key(args, kwargs)
        started = self.clock()
        entry = (await self.backend.get(key, "")).entry
        if entry is not None:
            age = entry.age(started)
            if age < entry.freshness_lifetime:
                return _load(entry)
            if age < entry.freshness_lifetime + entry.stale_while_revalidate:
                self._refresh_later(key, args, kwargs)
                return _load(entry)
        produced: list[Any] = []

        async def work() -> CacheEntry | None:
            value = await self.fn(*args, **kwargs)
            produced.append(value)
            return await self._store(key, value, args, kwargs)

        async def peek() -> CacheEntry | None:
            found = (await self.backend.get(key, "")).entry
            return found if found is not None and found.response_time >= started else None

        _, shared = await self.flight.run(key, work, peek)
        if produced:
            return produced[0]
        if shared is not None:
            return _load(shared)
        return await self.fn(*args, **kwargs)

    async def _store(
        self, key: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> CacheEntry | None:
        """Store ``value``; None when ``condition`` says not to."""
        if self.condition is not None and not self.condition(value):
            return None
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise TypeError(
                f"@cached {self.name} returned a {type(value).__name__} that cannot be "
                f"pickled ({exc}). HINT: return plain data (dicts, lists, dataclasses)"
            ) from exc
        tags = self.tags(*args, **kwargs) if callable(self.tags) else self.tags
        now = self.clock()
        entry = CacheEntry(
            primary=key,
            bodies={"identity": data},
            request_time=now,
            response_time=now,
            freshness_lifetime=self.ttl,
            stale_while_revalidate=self.swr,
            tags=tuple(tags),
        )
        await self.backend.set(entry, self.ttl + self.swr)
        return entry

    def _refresh_later(self, key: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if key in self._refreshing:
            return
        self._refreshing.add(key)

        async def run() -> None:
            try:
                if await self._store(key, await self.fn(*args, **kwargs), args, kwargs) is None:
                    # a refresh that found nothing to keep must not leave the old value to
                    # be served stale until it expires
                    await self.backend.invalidate_url(key)
            except Exception:
                logger.warning("@cached background refresh failed fn=%s", self.name, exc_info=True)
            finally:
                self._refreshing.discard(key)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _load(entry: CacheEntry) -> Any:
    return pickle.loads(entry.body())


def cached(
    ttl: float = 60.0,
    *,
    backend: CacheBackend | None = None,
    tags: Tags = (),
    key: Callable[..., Any] | None = None,
    stale_while_revalidate: float = 0.0,
    lock_timeout: float = 5.0,
    clock: Callable[[], float] = time.time,
    condition: Callable[[Any], bool] | None = None,
) -> Callable[[Callable[P, Awaitable[R]]], CachedFunction]:
    """Cache an async function's results.

    ttl [60 s]: freshness; stale_while_revalidate [0]: extra seconds a stale value is returned
    while one background call refreshes it.  backend [a private MemoryBackend(16 MiB)]: pass
    the middleware's backend to share limits and invalidation.  tags: a list, or a function of
    the call's arguments returning tags.  key: a function of the arguments returning the
    plain data to key on (use it for methods: ``key=lambda self, pk: pk``).  Both receive the
    arguments bound to the signature with defaults applied.  condition [None: store every
    result]: a function of the result; results for which it is false are returned but not
    stored (``condition=bool`` leaves ``None`` and empty lists uncached).
    """
    for option, value in (
        ("ttl", ttl), ("stale_while_revalidate", stale_while_revalidate),
        ("lock_timeout", lock_timeout),
    ):  # fmt: skip
        check_value("cached", option, value, "float", hint=f"@cached({option}=60) (seconds)")
    check_range("cached", "ttl", ttl, above=0, hint="@cached(ttl=60)")
    for option, value in (("stale_while_revalidate", stale_while_revalidate),
                          ("lock_timeout", lock_timeout)):  # fmt: skip
        check_range("cached", option, value, minimum=0, hint=f"{option}=0 turns it off")
    if not callable(tags) and (isinstance(tags, str) or not all(isinstance(t, str) for t in tags)):
        raise TypeError(
            "@cached(tags=...) must be a list of strings or a function. "
            'HINT: tags=["products"] or tags=lambda pk: [f"product:{pk}"]'
        )
    if condition is not None and not callable(condition):
        raise TypeError(
            f"@cached(condition=...) must be a function of the result, got {condition!r}. "
            "HINT: condition=bool stores only truthy results, "
            "condition=lambda r: r is not None skips None"
        )
    store = backend if backend is not None else MemoryBackend(max_bytes=16 * 2**20, clock=clock)

    def decorate(fn: Callable[P, Awaitable[R]]) -> CachedFunction:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(
                f"@cached needs an async function, {getattr(fn, '__qualname__', fn)!r} is not. "
                "HINT: use it on `async def` functions (functools.lru_cache suits sync ones)"
            )
        return CachedFunction(
            fn,
            ttl=ttl,
            backend=store,
            tags=tags,
            key=key,
            stale_while_revalidate=stale_while_revalidate,
            clock=clock,
            lock_timeout=lock_timeout,
            condition=condition,
        )

    return decorate

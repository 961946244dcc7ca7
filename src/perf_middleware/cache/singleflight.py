"""Single-flight: concurrent misses for one key make ONE call to the app.

In-process, followers await the leader's future.  Across processes (a shared backend such as
Redis), the in-process leader also takes a short-lived lock key; if another process holds it,
this one polls the store until the entry appears or the lock frees up.  Every wait is bounded:
after ``timeout`` a waiter does the work itself, so a stuck leader can slow requests but never
fail them.

The wait ends as soon as the leader has a result, not when its work returns: a response cache
publishes its entry once the last body chunk is sent (an app may go on running a background
task after that), so a request arriving then never waits for that task.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from perf_middleware.cache.backends.base import CacheBackend

T = TypeVar("T")


class Lead(Generic[T]):
    """The leader's handle on its flight: ``publish`` hands the result to the followers and
    ends the wait window at once; ``release`` frees the cross-process lock (after storing,
    so other processes find the entry instead of calling the app again).  Both are
    idempotent; whatever the work did not do, ``run`` does when the work returns."""

    __slots__ = ("_owner", "future", "key", "token")

    def __init__(self, owner: SingleFlight[T], key: str, future: asyncio.Future[T | None]) -> None:
        self._owner = owner
        self.key = key
        self.future = future
        self.token: str | None = None

    def publish(self, result: T | None) -> None:
        if not self.future.done():
            self.future.set_result(result)
        inflight = self._owner._inflight
        if inflight.get(self.key) is self.future:
            del inflight[self.key]  # later callers start a flight of their own

    async def release(self) -> None:
        token, self.token = self.token, None
        backend = self._owner.backend
        if token is not None and backend is not None:
            await backend.release_lock(f"sf:{self.key}", token)


@dataclass(slots=True)
class FlightStats:
    leaders: int = 0
    followers: int = 0
    remote_waits: int = 0
    fallbacks: int = 0


class SingleFlight(Generic[T]):
    """Coalesces work per key.

    ``backend`` [None]: when given, its ``acquire_lock`` coordinates processes.
    ``timeout`` [5 s]: longest wait for someone else's result.
    ``lock_ttl`` [15 s]: lifetime of the cross-process lock if its holder dies.
    """

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        timeout: float = 5.0,
        lock_ttl: float = 15.0,
    ) -> None:
        self.backend = backend
        self.timeout = timeout
        self.lock_ttl = lock_ttl
        self.stats = FlightStats()
        self._inflight: dict[str, asyncio.Future[T | None]] = {}

    def in_flight(self, key: str) -> bool:
        return key in self._inflight

    async def run(
        self,
        key: str,
        work: Callable[[], Awaitable[T | None]],
        peek: Callable[[], Awaitable[T | None]] | None = None,
    ) -> tuple[bool, T | None]:
        """``(True, result)`` when this call did the work; ``(False, result)`` when another
        call's result was used; ``(False, None)`` means "no shared result: do it yourself"."""

        async def lead_work(lead: Lead[T]) -> T | None:
            return await work()

        return await self.run_lead(key, lead_work, peek)

    async def run_lead(
        self,
        key: str,
        work: Callable[[Lead[T]], Awaitable[T | None]],
        peek: Callable[[], Awaitable[T | None]] | None = None,
    ) -> tuple[bool, T | None]:
        """:meth:`run` for work that publishes its result early through its :class:`Lead`."""
        pending = self._inflight.get(key)
        if pending is not None:
            self.stats.followers += 1
            try:
                result = await asyncio.wait_for(asyncio.shield(pending), self.timeout)
            except (TimeoutError, asyncio.CancelledError):
                if not pending.done():
                    self.stats.fallbacks += 1
                    return False, None
                raise
            if result is None:
                self.stats.fallbacks += 1
            return False, result
        future: asyncio.Future[T | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        lead = Lead(self, key, future)
        try:
            if self.backend is not None and peek is not None:
                lead.token, shared = await self._cross_process(key, peek)
                if shared is not None:
                    lead.publish(shared)
                    return False, shared
            self.stats.leaders += 1
            try:
                result = await work(lead)
            finally:
                await lead.release()
            lead.publish(result)
            return True, result
        finally:
            lead.publish(None)  # leader failed: followers do their own work (no-op otherwise)

    async def _cross_process(
        self, key: str, peek: Callable[[], Awaitable[T | None]]
    ) -> tuple[str | None, T | None]:
        assert self.backend is not None
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        waited = False
        while True:
            token = await self.backend.acquire_lock(f"sf:{key}", self.lock_ttl)
            if token is not None:
                if waited:
                    # the other process finished between our polls: use its result if any
                    shared = await peek()
                    if shared is not None:
                        await self.backend.release_lock(f"sf:{key}", token)
                        return None, shared
                return token, None
            if not waited:
                self.stats.remote_waits += 1
                waited = True
            shared = await peek()
            if shared is not None:
                return None, shared
            if time.monotonic() >= deadline:
                self.stats.fallbacks += 1
                return None, None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

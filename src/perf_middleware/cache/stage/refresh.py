"""Work the cache stage does off the request path: stale-while-revalidate refreshes and the
high-level recompression of large entries.  Mixed into the stage; tasks are tracked in
``background`` so ``drain()`` can wait for them (tests, graceful shutdown).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable

from perf_middleware.cache.backends.base import CacheBackend
from perf_middleware.cache.config import CacheConfig
from perf_middleware.cache.entry import CacheEntry
from perf_middleware.cache.forward import upgrade
from perf_middleware.cache.storing import RequestFacts
from perf_middleware.http.cache_control import EMPTY_CACHE_CONTROL
from perf_middleware.pipeline.observe import OBSERVER_KEY
from perf_middleware.types import Message, Receive, Scope, Send

logger = logging.getLogger("perf_middleware.cache")


async def _discard(message: Message) -> None:
    return None


class Background:
    backend: CacheBackend
    config: CacheConfig
    clock: Callable[[], float]
    background: set[asyncio.Task[None]]
    refreshing: set[str]
    last_purge: float = 0.0

    def count(self, name: str, amount: int = 1) -> None:
        raise NotImplementedError

    async def fetch(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        facts: RequestFacts,
        primary: str,
        secondary: str,
        stale: CacheEntry | None,
        fwd: str,
    ) -> CacheEntry | None:
        raise NotImplementedError

    def purge_maybe(self) -> None:
        """Every ``purge_interval`` seconds, drop expired entries' index records in the
        background (Redis expires the entries itself; its tag/path indexes need this)."""
        interval = self.config.purge_interval
        now = self.clock()
        if interval <= 0 or now - self.last_purge < interval:
            return
        self.last_purge = now

        async def run() -> None:
            try:
                removed = await self.backend.purge_expired()
            except Exception as exc:
                logger.warning("cache purge_expired failed error=%s", exc)
                return
            logger.debug("cache purge_expired removed=%d", removed)

        self.spawn(run())

    def spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def upgrade_later(self, entry: CacheEntry) -> None:
        """Recompress a large entry at the high levels off the request path, then swap it in
        unless it was replaced or invalidated meanwhile."""

        async def run() -> None:
            try:
                better = await upgrade(entry, self.config)
                if better is None:
                    return
                current = (await self.backend.get(entry.primary, entry.secondary)).entry
                if current is None or current.response_time != entry.response_time:
                    return
                ttl = better.expires_at - self.clock()
                if ttl > 0 and await self.backend.set(better, ttl):
                    self.count("upgraded")
            except Exception:
                logger.warning("cache recompression failed url=%s", entry.primary, exc_info=True)

        self.spawn(run())

    def refresh_later(
        self, scope: Scope, facts: RequestFacts, primary: str, entry: CacheEntry
    ) -> None:
        """stale-while-revalidate: at most one background revalidation per key."""
        key = entry.key
        if key in self.refreshing:
            return
        self.refreshing.add(key)
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}

        # the client's request is being answered already: its metrics observer must not see
        # the refresh's app call and compression
        inner = {k: v for k, v in scope.items() if k != OBSERVER_KEY}
        # the refresh is the cache's own revalidation: the directives of the request that
        # happened to start it (no-store, max-age=0 ...) are not the refresh's
        facts = dataclasses.replace(facts, cc=EMPTY_CACHE_CONTROL)

        async def run() -> None:
            self.count("refresh")
            try:
                await self.fetch(
                    inner, receive, _discard, facts, primary, entry.secondary, entry, "stale"
                )
            except Exception:
                self.count("refresh_error")
                logger.warning("cache background refresh failed url=%s", primary, exc_info=True)
            finally:
                self.refreshing.discard(key)

        self.spawn(run())

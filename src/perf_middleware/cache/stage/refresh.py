"""Work the cache stage does off the request path: stale-while-revalidate refreshes, the
high-level recompression of large entries and the periodic purge of index records.  Tasks are
tracked so ``drain()`` can wait for them (tests, graceful shutdown).
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
from perf_middleware.cache.stage.seams import StageEvents
from perf_middleware.cache.storing import RequestFacts
from perf_middleware.compression.codecs import CompressionConfig
from perf_middleware.http.cache_control import EMPTY_CACHE_CONTROL
from perf_middleware.pipeline.observe import OBSERVER_KEY
from perf_middleware.types import Message, Receive, Scope

logger = logging.getLogger("perf_middleware.cache")


def refresh_request(scope: Scope, facts: RequestFacts) -> tuple[Scope, Receive, RequestFacts]:
    """The scope, ``receive`` and request facts of a background revalidation of the request
    ``scope``: an empty body, no metrics observer (the client's request is being answered
    already and must not see the refresh's app call), and none of the request's directives
    (no-store, max-age=0 ...): the refresh is the cache's own revalidation."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    inner = {k: v for k, v in scope.items() if k != OBSERVER_KEY}
    return inner, receive, dataclasses.replace(facts, cc=EMPTY_CACHE_CONTROL)


class Background:
    """The stage's background tasks; one per key for revalidations."""

    def __init__(
        self,
        backend: CacheBackend,
        config: CacheConfig,
        count: StageEvents,
        compression: CompressionConfig | None,
    ) -> None:
        self.backend = backend
        self.config = config
        self.compression = compression
        self.clock = config.clock
        self.count = count
        self.tasks: set[asyncio.Task[None]] = set()
        self.refreshing: set[str] = set()
        self.last_purge = 0.0

    async def drain(self) -> None:
        """Wait for the background tasks, including those they start."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

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

    def upgrade_later(self, entry: CacheEntry) -> None:
        """Recompress a large entry at the high levels off the request path, then swap it in
        unless it was replaced or invalidated meanwhile."""

        async def run() -> None:
            if self.compression is None:
                return
            try:
                better = await upgrade(entry, self.config, self.compression)
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

    def revalidate_later(
        self, key: str, primary: str, fetch: Callable[[], Awaitable[object]]
    ) -> None:
        """stale-while-revalidate: at most one background revalidation (``fetch()``) per
        stored key at a time."""
        if key in self.refreshing:
            return
        self.refreshing.add(key)

        async def run() -> None:
            self.count("refresh")
            try:
                await fetch()
            except Exception:
                self.count("refresh_error")
                logger.warning("cache background refresh failed url=%s", primary, exc_info=True)
            finally:
                self.refreshing.discard(key)

        self.spawn(run())

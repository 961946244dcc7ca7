"""The forwarding half of the cache stage: misses, revalidation, background refresh, storing
and invalidation by unsafe methods.  Mixed into :class:`~perf_middleware.cache.stage.CacheStage`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from perf_middleware.asgi_types import Message, Receive, Scope, Send
from perf_middleware.cache.backends.base import CacheBackend
from perf_middleware.cache.background import Background
from perf_middleware.cache.build import (
    RequestFacts,
    apply_response,
    refresh_headers,
    response_reason,
    shareable,
    storage_ttl,
)
from perf_middleware.cache.config import CacheConfig
from perf_middleware.cache.entry import CacheEntry
from perf_middleware.cache.fetch import (
    ClientSend,
    build_entry,
    entry_vary,
    skip_reason,
)
from perf_middleware.cache.freshness import stale_if_error_allows
from perf_middleware.cache.invalidation import Invalidation
from perf_middleware.cache.keys import secondary_key
from perf_middleware.cache.singleflight import SingleFlight
from perf_middleware.cache.vary_hints import VaryHints, remember
from perf_middleware.http.dates import format_http_date
from perf_middleware.http.headers import get_header
from perf_middleware.responder import Capture

logger = logging.getLogger("perf_middleware.cache")


_CONDITIONAL = frozenset(
    {
        b"if-none-match",
        b"if-modified-since",
        b"if-match",
        b"if-unmodified-since",
        b"if-range",
        b"range",
    }
)


async def _discard(message: Message) -> None:
    return None


class MissHandler(Background, Invalidation):
    middleware: Any
    backend: CacheBackend
    config: CacheConfig
    clock: Callable[[], float]
    flight: SingleFlight[CacheEntry]
    negotiate: bool
    vary_hints: VaryHints
    background: set[asyncio.Task[None]]
    refreshing: set[str]

    def count(self, name: str, amount: int = 1) -> None:
        raise NotImplementedError

    async def serve(
        self,
        send: Send,
        method: str,
        headers: dict[bytes, bytes],
        entry: CacheEntry,
        now: float,
        *params: str,
    ) -> None:
        raise NotImplementedError

    async def forward(self, scope: Scope, receive: Receive, send: Send, fwd: str) -> None:
        """Through the pipeline, never stored (Cache-Status says why)."""
        if fwd == "method" or fwd == "request":
            self.count(f"bypass_{fwd}")  # metrics: requests the cache did not consider
        await self.middleware.run_pipeline(scope, receive, ClientSend(send, self.config, fwd))

    async def fetch_shared(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        facts: RequestFacts,
        primary: str,
        secondary: str,
        stale: CacheEntry | None,
        fwd: str,
    ) -> None:
        """Single-flight fetch: one app call per key; the others reuse its stored entry."""
        headers: dict[bytes, bytes] = dict(scope.get("headers") or ())
        method = scope.get("method", "GET")

        async def work() -> CacheEntry | None:
            return await self.fetch(scope, receive, send, facts, primary, secondary, stale, fwd)

        async def peek() -> CacheEntry | None:
            found = (await self.backend.get(primary, secondary)).entry
            if found is not None and found.response_time >= facts.request_time:
                return found
            return None

        key = f"{primary}\x1f{secondary}"
        did, entry = await self.flight.run(key, work, peek)
        if did:
            return
        if entry is not None:
            self.count("collapsed")
            vary = entry.vary
            if vary and secondary_key(vary, headers) != entry.secondary:
                entry = None  # the stored response varies and does not fit this request
            elif facts.has_authorization and not shareable(entry):
                entry = None
        if entry is not None:
            await self.serve(send, method, headers, entry, self.clock(), "hit", "detail=collapsed")
            return
        await self.fetch(scope, receive, send, facts, primary, secondary, stale, fwd)

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
        """Call the app (conditionally when ``stale`` has validators); store and return the
        resulting entry, or None when nothing was stored."""
        config = self.config
        capture = Capture(config.max_body_size)
        inner = scope
        revalidating = stale is not None and (stale.etag or stale.last_modified) is not None
        if stale is not None:
            raw = [(k, v) for k, v in scope.get("headers") or () if k not in _CONDITIONAL]
            if stale.etag is not None:
                raw.append((b"if-none-match", stale.etag.encode("latin-1")))
            if stale.last_modified is not None:
                date = format_http_date(stale.last_modified).encode("latin-1")
                raw.append((b"if-modified-since", date))
            inner = {**scope, "headers": raw}
        now = facts.request_time
        may_use_stale = stale is not None and stale_if_error_allows(stale, facts.cc, now)
        client = ClientSend(
            send,
            config,
            fwd,
            capture=capture,
            facts=facts,
            revalidating=revalidating,
            hold_errors=may_use_stale,
        )
        headers: dict[bytes, bytes] = dict(scope.get("headers") or ())
        method = scope.get("method", "GET")
        try:
            await self.middleware.run_pipeline(inner, receive, client, capture=capture)
        except Exception:
            if stale is None or not may_use_stale or client.started:
                raise
            logger.warning("cache serving stale after app error url=%s", primary, exc_info=True)
            self.count("stale_if_error")
            await self.serve(
                send,
                method,
                headers,
                stale,
                self.clock(),
                "hit",
                "fwd=stale",
                "detail=stale-if-error",
            )
            return None
        response_time = self.clock()
        if client.held and not client.not_modified:
            assert stale is not None
            self.count("stale_if_error")
            await self.serve(
                send,
                method,
                headers,
                stale,
                response_time,
                "hit",
                "fwd=stale",
                f"fwd-status={client.status}",
                "detail=stale-if-error",
            )
            return None
        if client.not_modified:
            assert stale is not None
            return await self._refresh(send, method, headers, facts, stale, capture, response_time)
        return await self._store(capture, method, headers, facts, primary, response_time)

    async def _refresh(
        self,
        send: Send,
        method: str,
        headers: dict[bytes, bytes],
        facts: RequestFacts,
        stale: CacheEntry,
        capture: Capture,
        response_time: float,
    ) -> CacheEntry:
        """RFC 9111 §4.3.4: a 304 updates the stored headers; the stored body is served."""
        merged = refresh_headers(stale.headers, capture.headers)
        apply_response(stale, stale.status, merged, facts, response_time, self.config)
        ttl = storage_ttl(stale, self.config)
        await self.backend.set(stale, ttl)
        self.count("revalidated")
        await self.serve(
            send, method, headers, stale, response_time, "fwd=stale", "fwd-status=304", "stored"
        )
        return stale

    async def _store(
        self,
        capture: Capture,
        method: str,
        headers: dict[bytes, bytes],
        facts: RequestFacts,
        primary: str,
        response_time: float,
    ) -> CacheEntry | None:
        reason = skip_reason(capture, method, self.config.max_body_size) or response_reason(
            capture.status, capture.headers, facts, self.config
        )
        if reason is not None:
            self.count("not_stored")
            logger.debug("cache store skipped reason=%s url=%s", reason, primary)
            return None
        app_coded = get_header(capture.headers, b"content-encoding") not in (None, b"identity")
        vary = entry_vary(capture.headers, self.negotiate and not app_coded)
        remember(self.vary_hints, primary, vary)
        entry = await build_entry(
            capture,
            primary=primary,
            secondary=secondary_key(vary, headers),
            vary=vary,
            facts=facts,
            response_time=response_time,
            config=self.config,
            compress=self.negotiate and not app_coded,
        )
        ttl = storage_ttl(entry, self.config)
        if await self.backend.set(entry, ttl):
            self.count("stored")
            self.purge_maybe()
            if "upgrade" in entry.derived:
                self.upgrade_later(entry)
        else:
            # still shared with the requests waiting on this one: they asked concurrently
            self.count("not_stored")
            logger.debug("cache store skipped reason=backend url=%s", primary)
        return entry

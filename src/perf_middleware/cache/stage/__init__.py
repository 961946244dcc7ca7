"""The cache stage ``PerformanceMiddleware`` calls for every HTTP request when a cache is set.

Hit: key -> backend lookup -> freshness check -> send the stored variant for the client's
Accept-Encoding (precomputed headers + Age + Cache-Status).  Miss: one app call per key
(single-flight) through the normal pipeline, which answers the client while a bounded copy is
captured, compressed once at high levels and stored.  Methods not known to be safe invalidate.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Callable
from time import perf_counter
from typing import Any

from perf_middleware.cache.backends.base import CacheBackend
from perf_middleware.cache.config import CacheConfig
from perf_middleware.cache.entry import CacheEntry
from perf_middleware.cache.freshness import Use, client_limits, pragma_no_cache, usable
from perf_middleware.cache.keys import (
    host_allowed,
    key_path,
    key_query,
    normalize_host,
    normalize_query,
    primary_key,
    secondary_key,
    valid_host,
)
from perf_middleware.cache.serve import (
    Variant,
    cache_status,
    has_conditional,
    send_variant,
    variant,
)
from perf_middleware.cache.singleflight import SingleFlight
from perf_middleware.cache.stage.miss import MissHandler
from perf_middleware.cache.storing import RequestFacts, selected_by, shareable
from perf_middleware.cache.vary_hints import VaryHints, remember
from perf_middleware.http.accept_encoding import choose_encoding
from perf_middleware.http.cache_control import (
    EMPTY_CACHE_CONTROL,
    CacheControl,
    parse_cache_control,
)
from perf_middleware.http.headers import NO_FIELDS, combine_fields
from perf_middleware.metrics.counters import CacheCounters, Metrics
from perf_middleware.pipeline.observe import send_complete
from perf_middleware.types import Receive, Scope, Send

logger = logging.getLogger("perf_middleware.cache")


LookupNow = Callable[[str, str], tuple[CacheEntry | None, tuple[str, ...] | None]]
_HIT = ("hit",)
# RFC 9110 §9.2.1 safe methods the stage does not answer; any other method but GET/HEAD
# may change the resource (RFC 9111 §4.4: PURGE, M-SEARCH, WebDAV, extensions ...)
_SAFE = frozenset({"OPTIONS", "TRACE"})
_HINT_LIMIT = 10_000
_TARGET_LIMIT = 4096


class CacheStage(MissHandler):
    """Built by ``PerformanceMiddleware(cache=..., cache_config=...)``; ``middleware`` provides
    ``run_pipeline(scope, receive, send, capture=...)``."""

    def __init__(
        self,
        middleware: Any,
        backend: CacheBackend,
        config: CacheConfig | None = None,
        *,
        events: Callable[[str, int], None] | None = None,
        counters: CacheCounters | None = None,
    ) -> None:
        if not isinstance(backend, CacheBackend):
            raise TypeError(
                f"cache={type(backend).__name__} is not a cache backend. "
                'HINT: pass MemoryBackend() or RedisBackend("redis://...")'
            )
        if config is not None and not isinstance(config, CacheConfig):
            raise TypeError(
                f"cache_config must be a CacheConfig, got {type(config).__name__}. "
                "HINT: from perf_middleware.cache.config import CacheConfig"
            )
        self.middleware = middleware
        self.backend = backend
        self.config = config = config or CacheConfig()
        self.clock = config.clock
        self.events = events
        # the metrics counters of this cache: a hit adds to them directly (``events`` maps
        # the other stage events onto them); None without metrics
        self.hit_counters = counters
        self.counts: defaultdict[str, int] = defaultdict(int)
        # (Host, scheme, raw path, query) -> primary key, "" when the request may not use
        # the cache: a repeated URL's key is one dict probe
        self._primaries: dict[tuple[bytes | None, str, bytes | None, bytes], str] = {}
        self._status_prefix: dict[tuple[str, ...], bytes] = {}
        shared = getattr(backend, "shared", True)
        self.flight: SingleFlight[CacheEntry] = SingleFlight(
            backend if shared else None, timeout=config.lock_timeout, lock_ttl=config.lock_ttl
        )
        self.negotiate = middleware.pipeline.compression is not None
        self.codings = config.codings if self.negotiate else ()
        self.vary_hints: VaryHints = {}
        self.background: set[asyncio.Task[None]] = set()
        self.refreshing: set[str] = set()
        # a hit answered by the stage records here; with Server-Timing the middleware's
        # observer wraps every response and records instead
        self.hit_metrics: Metrics | None = None if middleware.server_timing else middleware.metrics
        # an in-process store answers without a coroutine (``MemoryBackend.lookup``)
        self._lookup_now: LookupNow | None = (
            getattr(backend, "lookup", None) if not shared else None
        )

    def _primary(
        self, scope: Scope, host_raw: bytes | None, scheme: str, raw_path: bytes | None
    ) -> str:
        """The request's primary key, or "" when its Host may not use the cache (not
        ``host[:port]``, or not allowed); memoised per target, bounded."""
        if host_raw is None:
            server = scope.get("server") or ("", None)
            text = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
        else:
            text = host_raw.decode("latin-1")
        host = normalize_host(text, scheme)
        primary = ""
        if valid_host(host) and host_allowed(host, self.config.allowed_hosts):
            path = key_path(raw_path, scope["path"])
            query: bytes = scope["query_string"]
            query_text = normalize_query(key_query(query), self.config) if query else ""
            primary = primary_key(scheme, host, path, query_text)
        if host_raw is not None and raw_path is not None:
            if len(self._primaries) >= _TARGET_LIMIT:
                self._primaries.clear()  # bounded: a flood of unique URLs cannot grow it
            self._primaries[(host_raw, scheme, raw_path, scope["query_string"])] = primary
        return primary

    def count(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount
        if self.events is not None:
            self.events(name, amount)

    async def drain(self) -> None:
        """Wait for background refreshes (tests, graceful shutdown)."""
        while self.background:
            await asyncio.gather(*list(self.background), return_exceptions=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A fresh hit without conditional request headers is answered right here: the
        stored variant, Age and Cache-Status, its metrics recorded directly. Everything else
        runs under the request's observer (``middleware.observed``)."""
        method: str = scope["method"]
        if method != "GET" and method != "HEAD":
            if method in _SAFE:
                await self.middleware.observed(
                    scope, receive, send, functools.partial(self.forward, fwd="method")
                )
            else:
                await self.middleware.observed(scope, receive, send, self.forward_unsafe)
            return
        metrics = self.hit_metrics
        started = perf_counter()
        raw = scope["headers"]
        headers: dict[bytes, bytes] = dict(raw)
        ambiguous = NO_FIELDS
        if len(headers) != len(raw):  # a field on several lines: combine them (RFC 9110 §5.3)
            headers, ambiguous = combine_fields(raw)
        scheme: str = scope.get("scheme", "http")
        host_raw = headers.get(b"host")
        raw_path: bytes | None = scope.get("raw_path")
        primary = self._primaries.get((host_raw, scheme, raw_path, scope["query_string"]))
        if primary is None:
            primary = self._primary(scope, host_raw, scheme, raw_path)
        if not primary:
            self.count("bypass")
            forward = functools.partial(self.forward, fwd="bypass")
            await self.middleware.observed(scope, receive, send, forward, started)
            return
        cc_raw = headers.get(b"cache-control")
        request_cc = lookup_cc = EMPTY_CACHE_CONTROL
        if cc_raw is not None:
            request_cc = parse_cache_control(cc_raw)
            if not self.config.honor_request_no_cache:
                lookup_cc = client_limits(request_cc)
            elif request_cc.no_store:
                forward = functools.partial(self.forward, fwd="request")
                await self.middleware.observed(scope, receive, send, forward, started)
                return
            else:
                lookup_cc = request_cc
        vary = self.vary_hints.get(primary, ())
        secondary = secondary_key(vary, headers) if vary else ""
        lookup_now = self._lookup_now
        entry, stored_vary = (
            lookup_now(primary, secondary)
            if lookup_now is not None
            else await self.backend.get(primary, secondary)
        )
        if stored_vary is not None and stored_vary != vary:
            remember(self.vary_hints, primary, stored_vary)
            secondary = secondary_key(stored_vary, headers)
            entry, stored_vary = await self.backend.get(primary, secondary)
        now = self.clock()
        if (
            entry is not None
            and b"authorization" in headers
            and not shareable(entry, self.config.targeted_raw)
        ):
            entry = None
        if ambiguous and entry is not None and selected_by(entry.vary, ambiguous) is not None:
            entry = None  # the app may have read another line than the stored variant's
        use: Use | None = None
        if entry is not None:
            # the common case without request directives, inlined (no Enum on this path)
            answer = (
                lookup_cc is EMPTY_CACHE_CONTROL
                and not entry.no_cache
                and b"pragma" not in headers
                and entry.corrected_initial_age + now - entry.response_time
                < entry.freshness_lifetime
            )
            if not answer:
                pragma = self.config.honor_request_no_cache and pragma_no_cache(
                    headers.get(b"pragma")
                )
                use = usable(entry, lookup_cc, now, pragma_no_cache=pragma)
                answer = use is Use.FRESH or use is Use.STALE_ALLOWED
            if answer:
                self.counts["hit"] += 1
                if self.hit_counters is not None:
                    self.hit_counters.hit += 1
                if not has_conditional(headers):
                    chosen, extra = self._answer(headers, entry, now, _HIT)
                    status = entry.status
                    body = b"" if method == "HEAD" else chosen.body
                    if metrics is not None:
                        metrics.in_flight += 1
                    try:  # straight to the server; the observer's figures, recorded here
                        await send(
                            {"type": "http.response.start", "status": status,
                             "headers": chosen.headers + extra}
                        )  # fmt: skip
                        await send({"type": "http.response.body", "body": body})
                    finally:
                        if metrics is not None:
                            metrics.response_done(status, started)
                    return
        if entry is not None and use is None:
            use = Use.FRESH  # fresh, with conditional request headers
        rest = functools.partial(
            self._route,
            method,
            headers,
            request_cc,
            primary,
            secondary,
            stored_vary,
            entry,
            use,
            now,
            ambiguous,
        )
        await self.middleware.observed(scope, receive, send, rest, started)

    async def _route(
        self,
        method: str,
        headers: dict[bytes, bytes],
        request_cc: CacheControl,
        primary: str,
        secondary: str,
        stored_vary: tuple[str, ...] | None,
        entry: CacheEntry | None,
        use: Use | None,
        now: float,
        ambiguous: frozenset[bytes],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Everything but a plain fresh hit, once the lookup is done (``send`` observed)."""
        if entry is not None and (use is Use.FRESH or use is Use.STALE_ALLOWED):
            await self.serve(send, method, headers, entry, now, "hit")  # conditional request
            return
        facts = RequestFacts(
            request_cc, b"authorization" in headers, now, scope["path"],
            self.config.unkeyed_present(headers), b"cookie" in headers, ambiguous,
        )  # fmt: skip
        if entry is not None and use is Use.STALE_WHILE_REVALIDATE:
            self.count("stale")
            self.refresh_later(scope, facts, primary, entry)
            await self.serve(send, method, headers, entry, now, "hit", "fwd=stale")
            return
        if request_cc.only_if_cached:
            await _gateway_timeout(send, self.config.cache_name)
            return
        if method == "HEAD" and entry is None:
            await self.forward(scope, receive, send, "uri-miss")
            return
        fwd = "stale" if entry is not None else ("vary-miss" if stored_vary else "uri-miss")
        self.count("miss" if entry is None else "revalidate")
        await self.fetch_shared(scope, receive, send, facts, primary, secondary, entry, fwd)

    def _variant_for(self, entry: CacheEntry, accept: bytes | None) -> Variant:
        """The stored variant best for this Accept-Encoding value, memoised on the entry
        (bytes keys; a few short distinct values at most)."""
        coding = choose_encoding(accept, entry.codings) or "identity"
        chosen = variant(entry, coding)
        if len(entry.derived) < 16 and (accept is None or len(accept) <= 64):
            entry.derived[accept] = chosen  # bounded: clients choose these values
        return chosen

    def _answer(
        self, headers: dict[bytes, bytes], entry: CacheEntry, now: float, params: tuple[str, ...]
    ) -> tuple[Variant, list[tuple[bytes, bytes]]]:
        """The stored variant for the request's Accept-Encoding, and its Age + Cache-Status."""
        accept = headers.get(b"accept-encoding")
        chosen = entry.derived.get(accept)
        if chosen is None:
            chosen = self._variant_for(entry, accept)
        age = entry.age(now)
        prefix = self._status_prefix.get(params)
        if prefix is None:
            prefix = self._status_prefix[params] = cache_status(
                self.config.cache_name, *params, "ttl="
            )
        ttl = entry.freshness_lifetime - age
        return chosen, [(b"age", b"%d" % age), (b"cache-status", prefix + b"%d" % ttl)]

    async def serve(
        self,
        send: Send,
        method: str,
        headers: dict[bytes, bytes],
        entry: CacheEntry,
        now: float,
        *params: str,
    ) -> None:
        """Answer from ``entry``: the best stored coding, Age and Cache-Status."""
        chosen, extra = self._answer(headers, entry, now, params)
        if has_conditional(headers):
            await send_variant(send, method, headers, entry, chosen, extra)
            return
        await send_complete(
            send, entry.status, chosen.headers + extra, b"" if method == "HEAD" else chosen.body
        )


async def _gateway_timeout(send: Send, name: str) -> None:
    """RFC 9111 §5.2.1.7: only-if-cached and nothing usable stored."""
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"30"),
        (b"cache-status", cache_status(name, "fwd=miss", "detail=only-if-cached")),
    ]
    await send({"type": "http.response.start", "status": 504, "headers": headers})
    await send({"type": "http.response.body", "body": b"not cached and only-if-cached\n"})

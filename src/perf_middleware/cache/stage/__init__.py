"""The cache stage ``PerformanceMiddleware`` calls for every HTTP request when a cache is set.

Hit: key -> backend lookup -> freshness check -> send the stored variant for the client's
Accept-Encoding (precomputed headers + Age + Cache-Status).  Miss: one app call per key
(single-flight) through the normal pipeline, which answers the client while a bounded copy is
captured, compressed once at high levels and stored.  Methods not known to be safe invalidate.

The stage answers hits itself and holds its collaborators: ``MissHandler`` (forwarding,
single-flight, storing), ``Background`` (stale-while-revalidate, recompression, purge) and
``Invalidator`` (unsafe methods), which share the stage's ``Answers`` and ``StageEvents``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from time import perf_counter

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
from perf_middleware.cache.serve import CONDITIONAL_FIELDS, Answers, cache_status
from perf_middleware.cache.stage.invalidate import Invalidator
from perf_middleware.cache.stage.miss import MissHandler, MissRequest
from perf_middleware.cache.stage.refresh import Background
from perf_middleware.cache.stage.seams import StageEvents, StageHost
from perf_middleware.cache.storing import RequestFacts, selected_by, shareable
from perf_middleware.cache.vary_hints import VaryHints, remember
from perf_middleware.http.cache_control import (
    EMPTY_CACHE_CONTROL,
    CacheControl,
    parse_cache_control,
)
from perf_middleware.http.headers import NO_FIELDS, combine_fields
from perf_middleware.metrics.counters import CacheCounters, Metrics
from perf_middleware.pipeline.observe import note_cache
from perf_middleware.types import Receive, Scope, Send

logger = logging.getLogger("perf_middleware.cache")


LookupNow = Callable[[str, str], tuple[CacheEntry | None, tuple[str, ...] | None]]
Peek = Callable[[str, str], CacheEntry | None]
_HIT = ("hit",)
# RFC 9110 §9.2.1 safe methods the stage does not answer; any other method but GET/HEAD
# may change the resource (RFC 9111 §4.4: PURGE, M-SEARCH, WebDAV, extensions ...)
_SAFE = frozenset({"OPTIONS", "TRACE"})
_TARGET_LIMIT = 4096


class CacheStage:
    """Built by ``PerformanceMiddleware(cache=..., cache_config=...)``, which it calls back
    through ``host`` (:class:`~perf_middleware.cache.stage.seams.StageHost`)."""

    def __init__(
        self,
        host: StageHost,
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
                "HINT: from perf_middleware import CacheConfig"
            )
        self.host = host
        self.backend = backend
        self.config = config = config or CacheConfig()
        self._proxied = bool(config.forwarded_allow_ips)
        self.clock = config.clock
        self.count = StageEvents(events)
        self.counts = self.count.counts
        # the metrics counters of this cache: a hit adds to them directly (``events`` maps
        # the other stage events onto them); None without metrics
        self.hit_counters = counters
        # (Host, scheme, raw path, query) -> primary key, "" when the request may not use
        # the cache: a repeated URL's key is one dict probe
        self._primaries: dict[tuple[bytes | None, str, bytes | None, bytes], str] = {}
        compression = host.pipeline.compression
        self.vary_hints: VaryHints = {}
        codecs = host.pipeline.codecs
        self.answers = Answers(config.cache_name, codecs.dictionary if codecs is not None else None)
        self._answer = self.answers.answer
        self.background = Background(backend, config, self.count, compression)
        self.miss = MissHandler(
            host,
            backend,
            config,
            count=self.count,
            answers=self.answers,
            background=self.background,
            vary_hints=self.vary_hints,
            compression=compression,
        )
        self.flight = self.miss.flight
        self.invalidator = Invalidator(host, backend, config, self.count)
        # a hit answered by the stage records here; with Server-Timing the middleware's
        # observer wraps every response and records instead
        self.hit_metrics: Metrics | None = None if host.server_timing else host.metrics
        self.timing = host.server_timing
        # an in-process store answers without a coroutine (``MemoryBackend.lookup``)
        shared = getattr(backend, "shared", True)
        self._lookup_now: LookupNow | None = (
            getattr(backend, "lookup", None) if not shared else None
        )
        # a shared store with an in-process copy answers its hits without one too
        # (``RedisBackend.peek``: its near cache); None sends the lookup to ``get``
        self._peek: Peek | None = getattr(backend, "peek", None) if shared else None

    @property
    def events(self) -> Callable[[str, int], None] | None:
        """The metrics hook every stage event is reported to."""
        return self.count.hook

    @events.setter
    def events(self, hook: Callable[[str, int], None] | None) -> None:
        self.count.hook = hook

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

    async def drain(self) -> None:
        """Wait for background refreshes (tests, graceful shutdown)."""
        await self.background.drain()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A fresh hit without conditional request headers is answered right here: the
        stored variant, Age and Cache-Status, its metrics recorded directly. Everything else
        runs under the request's observer (``middleware.observed``)."""
        method: str = scope["method"]
        if method != "GET" and method != "HEAD":
            if method in _SAFE:
                await self.host.observed(
                    scope, receive, send, functools.partial(self.miss.forward, fwd="method")
                )
            else:
                await self.host.observed(scope, receive, send, self.invalidator.forward_unsafe)
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
        trusted = False
        if self._proxied:  # the forwarded origin, when the peer is a trusted proxy
            host_raw, scheme, trusted = self.config.origin(scope, headers)
        raw_path: bytes | None = scope.get("raw_path")
        primary = self._primaries.get((host_raw, scheme, raw_path, scope["query_string"]))
        if primary is None:
            primary = self._primary(scope, host_raw, scheme, raw_path)
        if not primary:
            self.count("bypass")
            forward = functools.partial(self.miss.forward, fwd="bypass")
            await self.host.observed(scope, receive, send, forward, started)
            return
        cc_raw = headers.get(b"cache-control")
        request_cc = lookup_cc = EMPTY_CACHE_CONTROL
        if cc_raw is not None:
            request_cc = parse_cache_control(cc_raw)
            if not self.config.honor_request_no_cache:
                lookup_cc = client_limits(request_cc)
            elif request_cc.no_store:
                forward = functools.partial(self.miss.forward, fwd="request")
                await self.host.observed(scope, receive, send, forward, started)
                return
            else:
                lookup_cc = request_cc
        vary = self.vary_hints.get(primary, ())
        secondary = secondary_key(vary, headers) if vary else ""
        lookup_now = self._lookup_now
        if lookup_now is not None:
            entry, stored_vary = lookup_now(primary, secondary)
        else:
            peek = self._peek
            entry = peek(primary, secondary) if peek is not None else None
            if entry is not None:
                stored_vary = entry.vary
            else:
                entry, stored_vary = await self.backend.get(primary, secondary)
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
                if CONDITIONAL_FIELDS.isdisjoint(headers):  # no precondition to evaluate
                    if self.timing:  # ``send`` is the request's observer
                        note_cache(send, "hit")
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
            trusted,
        )
        await self.host.observed(scope, receive, send, rest, started)

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
        trusted: bool,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Everything but a plain fresh hit, once the lookup is done (``send`` observed)."""
        if entry is not None and (use is Use.FRESH or use is Use.STALE_ALLOWED):
            await self.answers.serve(
                send, method, headers, entry, now, "hit"
            )  # conditional request
            return
        facts = RequestFacts(
            request_cc, b"authorization" in headers, now, scope["path"],
            self.config.unkeyed_present(headers, trusted=trusted), b"cookie" in headers,
            ambiguous,
        )  # fmt: skip
        if entry is not None and use is Use.STALE_WHILE_REVALIDATE:
            self.count("stale")
            self.miss.refresh_later(scope, facts, primary, entry)
            await self.answers.serve(send, method, headers, entry, now, "hit", "fwd=stale")
            return
        if request_cc.only_if_cached:
            note_cache(send, "miss")
            await _gateway_timeout(send, self.config.cache_name)
            return
        if method == "HEAD" and entry is None:
            await self.miss.forward(scope, receive, send, "uri-miss")
            return
        fwd = "stale" if entry is not None else ("vary-miss" if stored_vary else "uri-miss")
        self.count("miss" if entry is None else "revalidate")
        miss = MissRequest(scope, receive, send, facts, primary, secondary, entry, fwd)
        await self.miss.fetch_shared(miss)


async def _gateway_timeout(send: Send, name: str) -> None:
    """RFC 9111 §5.2.1.7: only-if-cached and nothing usable stored."""
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"30"),
        (b"cache-status", cache_status(name, "fwd=miss", "detail=only-if-cached")),
    ]
    await send({"type": "http.response.start", "status": 504, "headers": headers})
    await send({"type": "http.response.body", "body": b"not cached and only-if-cached\n"})

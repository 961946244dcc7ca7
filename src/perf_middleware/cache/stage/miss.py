"""The forwarding half of the cache stage: misses, revalidation, single-flight and storing.
A collaborator :class:`~perf_middleware.cache.stage.CacheStage` holds; it answers from stored
entries through the stage's :class:`~perf_middleware.cache.serve.Answers` and leaves work off the
request path to :class:`~perf_middleware.cache.stage.refresh.Background`.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Awaitable

from perf_middleware.cache.backends.base import CacheBackend
from perf_middleware.cache.config import CacheConfig
from perf_middleware.cache.entry import CacheEntry
from perf_middleware.cache.forward import (
    ClientSend,
    build_entry,
    entry_vary,
    skip_reason,
)
from perf_middleware.cache.freshness import (
    Use,
    client_limits,
    pragma_no_cache,
    stale_if_error_allows,
    usable,
)
from perf_middleware.cache.keys import secondary_key
from perf_middleware.cache.serve import Answers
from perf_middleware.cache.singleflight import Lead, SingleFlight
from perf_middleware.cache.stage.refresh import Background, refresh_request
from perf_middleware.cache.stage.seams import PipelineRunner, StageEvents
from perf_middleware.cache.storing import (
    RequestFacts,
    apply_response,
    refresh_headers,
    response_reason,
    selected_by,
    shareable,
    storage_ttl,
)
from perf_middleware.cache.vary_hints import VaryHints, remember
from perf_middleware.compression.codecs import CompressionConfig
from perf_middleware.http.dates import format_http_date
from perf_middleware.http.headers import combine_fields, get_header
from perf_middleware.pipeline.capture import Capture
from perf_middleware.types import Message, Receive, Scope, Send

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


@dataclasses.dataclass(frozen=True, slots=True)
class MissRequest:
    """One request the stage sends to the app: the ASGI triple, what the stage worked out
    about it (``facts``, the ``primary``/``secondary`` keys), the stored entry it revalidates
    (``stale``, None on a plain miss) and why it goes to the app (``fwd``, for Cache-Status)."""

    scope: Scope
    receive: Receive
    send: Send
    facts: RequestFacts
    primary: str
    secondary: str
    stale: CacheEntry | None
    fwd: str


class MissHandler:
    """Goes to the app for what the stage could not answer, and stores what comes back."""

    def __init__(
        self,
        runner: PipelineRunner,
        backend: CacheBackend,
        config: CacheConfig,
        *,
        count: StageEvents,
        answers: Answers,
        background: Background,
        vary_hints: VaryHints,
        compression: CompressionConfig | None,
    ) -> None:
        self.runner = runner
        self.backend = backend
        self.config = config
        self.clock = config.clock
        self.count = count
        self.answers = answers
        self.serve = answers.serve
        self.background = background
        self.vary_hints = vary_hints
        # stored variants follow the middleware's compression settings; None: identity only
        self.compression = compression
        self.negotiate = compression is not None
        self._warned_unkeyed = False  # the once-only warning of ``_warn_unkeyed``
        shared = getattr(backend, "shared", True)
        self.flight: SingleFlight[CacheEntry] = SingleFlight(
            backend if shared else None, timeout=config.lock_timeout, lock_ttl=config.lock_ttl
        )

    async def forward(self, scope: Scope, receive: Receive, send: Send, fwd: str) -> None:
        """Through the pipeline, never stored (Cache-Status says why)."""
        if fwd == "method" or fwd == "request":
            self.count(f"bypass_{fwd}")  # metrics: requests the cache did not consider
        await self.runner.run_pipeline(scope, receive, ClientSend(send, self.config, fwd))

    async def fetch_shared(self, miss: MissRequest) -> None:
        """Single-flight fetch: one app call per key; the others reuse its entry when the
        rules for a stored entry allow it for their own request (see ``_follow``)."""
        primary, secondary, stale = miss.primary, miss.secondary, miss.stale

        async def work(lead: Lead[CacheEntry]) -> CacheEntry | None:
            return await self.fetch(miss, lead=lead)

        # another process's leader stored an entry newer than the one this request found;
        # it may have finished just before this request began (the lock is released after
        # the store), and ``_follow`` decides whether it fits this request
        known = stale.response_time if stale is not None else float("-inf")

        async def peek() -> CacheEntry | None:
            found = (await self.backend.get(primary, secondary)).entry
            return found if found is not None and found.response_time > known else None

        key = f"{primary}\x1f{secondary}"
        did, entry = await self.flight.run_lead(key, work, peek)
        if did:
            return
        if entry is not None:
            self.count("collapsed")
            answered, base = await self._follow(miss, entry)
            if answered:
                return
            if base is not None:  # revalidate the leader's entry instead of the one found
                await self.fetch(dataclasses.replace(miss, stale=base))
                return
        await self.fetch(miss)

    async def _follow(self, miss: MissRequest, entry: CacheEntry) -> tuple[bool, CacheEntry | None]:
        """A follower gets the leader's entry under exactly the rules of a stored one
        (RFC 9111 §4): Vary, Authorization (§3.5), then :func:`usable` — freshness with Age,
        the response's no-cache, the request's directives.  ``(True, None)`` once answered
        from it; else ``(False, base)``: the follower fetches itself, conditionally on
        ``base`` (a copy of the entry when it has validators and fits the request)."""
        scope, send, facts = miss.scope, miss.send, miss.facts
        headers, _ = combine_fields(scope.get("headers") or ())
        method = scope.get("method", "GET")
        if entry.vary and secondary_key(entry.vary, headers) != entry.secondary:
            return False, None  # the response varies and does not fit this request
        if selected_by(entry.vary, facts.ambiguous) is not None:
            return False, None  # the app may read another line of this request's field
        if facts.has_authorization and not shareable(entry, self.config.targeted_raw):
            return False, None
        now = self.clock()
        if self.config.honor_request_no_cache:
            pragma = pragma_no_cache(headers.get(b"pragma"))
            use = usable(entry, facts.cc, now, pragma_no_cache=pragma)
        else:
            use = usable(entry, client_limits(facts.cc), now)
        if use is Use.FRESH or use is Use.STALE_ALLOWED:
            await self.serve(send, method, headers, entry, now, "hit", "detail=collapsed")
            return True, None
        if use is Use.STALE_WHILE_REVALIDATE:
            self.count("stale")
            self.refresh_later(scope, facts, miss.primary, entry)
            await self.serve(send, method, headers, entry, now, "hit", "fwd=stale")
            return True, None
        if entry.etag is None and entry.last_modified is None:
            return False, None
        base = copy.copy(entry)  # a 304 refreshes the copy, not the entry others may serve
        base.derived = {}
        return False, base

    def refresh_later(
        self, scope: Scope, facts: RequestFacts, primary: str, entry: CacheEntry
    ) -> None:
        """stale-while-revalidate: revalidate ``entry`` in the background (one at a time)."""
        inner, receive, facts = refresh_request(scope, facts)
        miss = MissRequest(
            inner, receive, _discard, facts, primary, entry.secondary, entry, "stale"
        )

        def fetch() -> Awaitable[CacheEntry | None]:
            return self.fetch(miss)

        self.background.revalidate_later(entry.key, primary, fetch)

    async def fetch(
        self, miss: MissRequest, *, lead: Lead[CacheEntry] | None = None
    ) -> CacheEntry | None:
        """Call the app (conditionally when ``stale`` has validators); store and return the
        resulting entry, or None when nothing was stored.  The result is settled as soon as
        the response is complete (``ClientSend.on_complete``), and handed to ``lead``'s
        followers then, not when the app returns."""
        config = self.config
        scope, send, facts, stale = miss.scope, miss.send, miss.facts, miss.stale
        if not facts.has_cookie and any(k == b"cookie" for k, _ in scope.get("headers") or ()):
            facts = dataclasses.replace(facts, has_cookie=True)
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
            miss.fwd,
            capture=capture,
            facts=facts,
            revalidating=revalidating,
            hold_errors=may_use_stale,
        )
        headers, _ = combine_fields(scope.get("headers") or ())
        method = scope.get("method", "GET")
        settled: list[CacheEntry | None] = []

        async def complete() -> None:
            if not settled:
                settled.append(None)
                try:
                    settled[0] = await self._outcome(
                        send, method, headers, facts, miss.primary, stale, capture, client, lead
                    )
                finally:  # after the store, so other processes find the entry
                    if lead is not None:
                        await lead.release()

        client.on_complete = complete
        try:
            await self.runner.run_pipeline(inner, miss.receive, client, capture=capture)
        except Exception:
            if settled or stale is None or not may_use_stale or client.started:
                raise
            logger.warning(
                "cache serving stale after app error url=%s", miss.primary, exc_info=True
            )
            await self._serve_stale_on_error(send, method, headers, stale, self.clock())
            return None
        await complete()  # the app returned without a last body chunk
        return settled[0]

    async def _outcome(
        self,
        send: Send,
        method: str,
        headers: dict[bytes, bytes],
        facts: RequestFacts,
        primary: str,
        stale: CacheEntry | None,
        capture: Capture,
        client: ClientSend,
        lead: Lead[CacheEntry] | None,
    ) -> CacheEntry | None:
        """The response is complete: answer from ``stale`` if the app's answer was held back,
        else refresh or store.  Followers in this process get the entry before the store."""
        response_time = self.clock()
        if client.held and not client.not_modified:
            assert stale is not None
            if lead is not None:
                lead.publish(None)
            await self._serve_stale_on_error(
                send, method, headers, stale, response_time, f"fwd-status={client.status}"
            )
            return None
        if client.not_modified:
            assert stale is not None
            return await self._refresh(
                send, method, headers, facts, stale, capture, response_time, lead
            )
        return await self._store(capture, method, headers, facts, primary, response_time, lead)

    async def _serve_stale_on_error(
        self,
        send: Send,
        method: str,
        headers: dict[bytes, bytes],
        stale: CacheEntry,
        now: float,
        *status: str,
    ) -> None:
        """RFC 5861 §4 stale-if-error: the app failed (an exception, or a 5xx held back, its
        ``fwd-status`` in ``status``): answer from the stored entry instead."""
        self.count("stale_if_error")
        await self.serve(
            send, method, headers, stale, now, "hit", "fwd=stale", *status, "detail=stale-if-error"
        )

    async def _refresh(
        self,
        send: Send,
        method: str,
        headers: dict[bytes, bytes],
        facts: RequestFacts,
        stale: CacheEntry,
        capture: Capture,
        response_time: float,
        lead: Lead[CacheEntry] | None = None,
    ) -> CacheEntry:
        """RFC 9111 §4.3.4: a 304 updates the stored headers; the stored body is served.
        A request with ``no-store`` (answered from the cache unless
        ``honor_request_no_cache``) gets the refreshed response, and nothing is stored
        (§5.2.1.5): the update goes to a copy."""
        keep = not facts.cc.no_store
        if not keep:
            stale = copy.copy(stale)
            stale.derived = {}
        merged = refresh_headers(stale.headers, capture.headers)
        apply_response(stale, stale.status, merged, facts, response_time, self.config)
        ttl = storage_ttl(stale, self.config)
        if lead is not None:
            lead.publish(stale)
        if keep:
            await self.backend.set(stale, ttl)
        self.count("revalidated")
        outcome = "stored" if keep else "detail=request-no-store"
        await self.serve(
            send, method, headers, stale, response_time, "fwd=stale", "fwd-status=304", outcome
        )
        return stale

    def _warn_unkeyed(
        self, field: str, capture: Capture, facts: RequestFacts, primary: str
    ) -> None:
        """Once per process, when a response the cache would otherwise store is refused
        because the request carried an unkeyed field (a reverse proxy's, usually): without
        this, a site behind Caddy/Traefik/ingress-nginx silently caches nothing."""
        otherwise = response_reason(
            capture.status, capture.headers, dataclasses.replace(facts, unkeyed=()), self.config
        )
        if otherwise is not None:
            return  # not cacheable anyway: nothing lost to the unkeyed field
        self._warned_unkeyed = True
        origin = field in ("x-forwarded-host", "x-forwarded-proto", "forwarded")
        hint = (
            "if a reverse proxy in front of the app sets it, trust that proxy: "
            'CacheConfig(forwarded_allow_ips=("<proxy address as the app sees it>",)) '
            "(uvicorn's --forwarded-allow-ips); the forwarded host then becomes part of the "
            "key and allowed_hosts applies to it"
            if origin
            else f"if your proxy overwrites {field} on every request, drop it from "
            "CacheConfig(unkeyed_headers=...); otherwise make the app send Vary: " + field
        )
        logger.warning(
            "response cache: responses are not stored because requests carry %s, which the "
            "response does not Vary on (a client could poison the cache through it) "
            "detail=unkeyed-header url=%s. HINT: %s. (logged once)",
            field, primary, hint,
        )  # fmt: skip

    async def _store(
        self,
        capture: Capture,
        method: str,
        headers: dict[bytes, bytes],
        facts: RequestFacts,
        primary: str,
        response_time: float,
        lead: Lead[CacheEntry] | None = None,
    ) -> CacheEntry | None:
        reason = skip_reason(capture, method, self.config.max_body_size) or response_reason(
            capture.status, capture.headers, facts, self.config
        )
        if reason is not None:
            if lead is not None:
                lead.publish(None)
            self.count("not_stored")
            logger.debug("cache store skipped reason=%s url=%s", reason, primary)
            if reason.startswith("unkeyed-header:") and not self._warned_unkeyed:
                self._warn_unkeyed(reason.partition(":")[2], capture, facts, primary)
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
            compression=None if app_coded else self.compression,
        )
        ttl = storage_ttl(entry, self.config)
        if lead is not None:
            lead.publish(entry)  # the waiting requests need not wait for the store
        if await self.backend.set(entry, ttl):
            self.count("stored")
            self.background.purge_maybe()
            if "upgrade" in entry.derived:
                self.background.upgrade_later(entry)
        else:
            # still shared with the requests waiting on this one: they asked concurrently
            self.count("not_stored")
            logger.debug("cache store skipped reason=backend url=%s", primary)
        return entry

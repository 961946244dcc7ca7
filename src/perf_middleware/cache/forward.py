"""Going to the app on a miss or revalidation, and storing what comes back.

``ClientSend`` sits between the pipeline's ``Responder`` and the client: it removes the tag
header, adds ``Cache-Status``, and holds back what the client must not see — a 304 answering
the cache's own validators, or a 5xx that a stale entry may replace (stale-if-error).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable

import anyio.to_thread

from perf_middleware.cache.config import CacheConfig
from perf_middleware.cache.entry import CacheEntry
from perf_middleware.cache.serve import cache_status, outcome
from perf_middleware.cache.storing import RequestFacts, apply_response, response_reason
from perf_middleware.cache.variants import encode_variants
from perf_middleware.compression.codecs import CompressionConfig
from perf_middleware.http.cache_control import parse_cache_control
from perf_middleware.http.headers import content_type, get_header, get_joined
from perf_middleware.http.vary import parse_vary
from perf_middleware.pipeline.capture import Capture
from perf_middleware.pipeline.observe import note_cache
from perf_middleware.types import Message, MutableRawHeaders, Send

logger = logging.getLogger("perf_middleware.cache")


class ClientSend:
    """``send`` wrapper for forwarded requests (see module doc)."""

    __slots__ = (
        "capture",
        "complete",
        "config",
        "facts",
        "fwd",
        "held",
        "hold_errors",
        "not_modified",
        "on_complete",
        "revalidating",
        "send",
        "started",
        "status",
        "tag_header",
    )

    def __init__(
        self,
        send: Send,
        config: CacheConfig,
        fwd: str,
        *,
        capture: Capture | None = None,
        facts: RequestFacts | None = None,
        revalidating: bool = False,
        hold_errors: bool = False,
    ) -> None:
        self.send = send
        self.config = config
        self.fwd = fwd
        self.capture = capture
        self.facts = facts
        self.revalidating = revalidating
        self.hold_errors = hold_errors
        self.tag_header = None if config.expose_tag_header else config.tag_header.encode()
        self.started = False
        self.held = False
        self.not_modified = False
        self.status = 0
        self.complete = False
        self.on_complete: Callable[[], Awaitable[None]] | None = None

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            await self._start(message)
            return
        if not self.held:
            await self.send(message)
        last = kind == "http.response.body" and not message.get("more_body", False)
        if last and not self.complete:
            self.complete = True
            if self.on_complete is not None:
                await self.on_complete()

    async def _start(self, message: Message) -> None:
        status = int(message.get("status", 200))
        self.status = status
        headers: MutableRawHeaders = list(message.get("headers") or ())
        if self.revalidating and status == 304:
            # the app (or the pipeline, for a 200 with our ETag) confirmed the stored entity
            self.held = self.not_modified = True
            return
        if self.hold_errors and status >= 500:
            self.held = True
            return
        if self.tag_header is not None:
            headers = [(k, v) for k, v in headers if k.lower() != self.tag_header]
        params = [f"fwd={self.fwd}", f"fwd-status={status}"]
        capture = self.capture
        if capture is not None and self.facts is not None:
            reason = response_reason(capture.status, capture.headers, self.facts, self.config)
            if reason is None and _too_large(capture, self.config.max_body_size):
                reason = "too-large"
            params.append("stored" if reason is None else f"detail={reason}")
        note_cache(self.send, outcome(tuple(params)))
        headers.append((b"cache-status", cache_status(self.config.cache_name, *params)))
        self.started = True
        await self.send({**message, "headers": headers})


def _too_large(capture: Capture, limit: int) -> bool:
    if capture.overflow or len(capture.body) > limit:
        return True
    size = get_header(capture.headers, b"content-length")
    return size is not None and size.isdigit() and int(size) > limit


def skip_reason(capture: Capture, method: str, limit: int) -> str | None:
    """Capture-level reasons not to store (before looking at HTTP semantics)."""
    if method != "GET":
        return "head"
    if _too_large(capture, limit):
        return "too-large"
    if not capture.complete:
        return "incomplete"
    if capture.streamed and content_type(capture.headers) == "text/event-stream":
        return "event-stream"
    return None


def entry_vary(headers: MutableRawHeaders, negotiated: bool) -> tuple[str, ...]:
    """Request fields selecting this response.  Accept-Encoding is dropped when the cache
    negotiates the coding itself from the stored variants."""
    vary = parse_vary(get_joined(headers, b"vary"))
    return tuple(v for v in vary if v != "accept-encoding") if negotiated else vary


async def build_entry(
    capture: Capture,
    *,
    primary: str,
    secondary: str,
    vary: tuple[str, ...],
    facts: RequestFacts,
    response_time: float,
    config: CacheConfig,
    compression: CompressionConfig | None,
) -> CacheEntry:
    """A new entry from a complete identity response, with its encoded variants (none when
    ``compression`` is None)."""
    entry = CacheEntry(primary=primary, secondary=secondary, vary=vary)
    apply_response(entry, capture.status, capture.headers, facts, response_time, config)
    body = bytes(capture.body)
    cc = parse_cache_control(get_joined(capture.headers, b"cache-control"))
    entry.bodies = {"identity": body}
    if compression is not None and not cc.no_transform and capture.status not in (204, 304):
        media = content_type(capture.headers)
        if len(body) >= config.background_compress_over:
            entry.bodies = await anyio.to_thread.run_sync(
                encode_variants, body, media, config, compression, True
            )
            entry.derived["upgrade"] = media  # high levels still to come (see ``upgrade``)
        else:
            entry.bodies = encode_variants(body, media, config, compression)
    return entry


async def upgrade(
    entry: CacheEntry, config: CacheConfig, compression: CompressionConfig
) -> CacheEntry | None:
    """The same entry with its variants recompressed at the high levels (in a thread), or
    None when that saves nothing."""
    media = entry.derived.get("upgrade")
    if not isinstance(media, str):
        return None
    body = entry.body("identity")
    high = await anyio.to_thread.run_sync(encode_variants, body, media, config, compression)
    # per coding, whichever is smaller (a high level is not always smaller on tiny output)
    bodies = {
        coding: data if len(data) < len(entry.bodies.get(coding, data)) else entry.bodies[coding]
        for coding, data in high.items()
    }
    if all(bodies[c] is entry.bodies.get(c) for c in bodies):
        return None
    better = copy.copy(entry)
    better.bodies = bodies
    better.derived = {}
    return better

"""Glue between the request path and :class:`~perf_middleware.metrics.counters.Metrics`.

``RequestObserver`` is the one object a request allocates for metrics: it wraps ``send`` to
see the status and the last body message, collects compression figures reported by the
``Responder`` (found through ``scope[OBSERVER_KEY]``), and optionally adds ``Server-Timing``
with the outcome the cache stage reports (``note_cache``).
"""

from __future__ import annotations

from perf_middleware.metrics.counters import Metrics, clock
from perf_middleware.metrics.server_timing import server_timing_value
from perf_middleware.types import Message, Send

__all__ = [
    "OBSERVER_KEY",
    "RequestObserver",
    "note_cache",
]


#: Scope key under which the running request's observer is found by the pipeline.
OBSERVER_KEY = "perf_middleware.observer"


def note_cache(send: Send, outcome: str | None) -> None:
    """Tell the request's observer, when ``send`` is one, what the cache did with the request
    (hit, stale, revalidated, miss, bypass): the ``cache`` part of ``Server-Timing``."""
    if type(send) is RequestObserver:
        send.cache = outcome


class RequestObserver:
    """Per-request ``send`` wrapper: status, response time, compression totals, Server-Timing."""

    __slots__ = (
        "app_start",
        "bytes_in",
        "bytes_out",
        "cache",
        "coding",
        "compress_seconds",
        "done",
        "metrics",
        "send",
        "server_timing",
        "start",
        "status",
    )

    def __init__(
        self,
        send: Send,
        metrics: Metrics | None,
        server_timing: bool,
        started: float | None = None,
        *,
        counted: bool = False,
    ) -> None:
        """``counted``: the request is already in ``metrics.in_flight``."""
        self.send = send
        self.metrics = metrics
        self.server_timing = server_timing
        self.start = clock() if started is None else started
        self.app_start = 0.0
        self.cache: str | None = None  # set by the cache stage (``note_cache``)
        self.status = 0
        self.coding: str | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.compress_seconds = 0.0
        self.done = False
        if metrics is not None and not counted:
            metrics.in_flight += 1

    def app_called(self) -> None:
        """The pipeline is about to call the application (a cache miss or no cache)."""
        if self.server_timing and not self.done and not self.app_start:  # only it reads it
            self.app_start = clock()

    def compressed(self, coding: str, bytes_in: int, bytes_out: int, seconds: float) -> None:
        """The Responder encoded (part of) the body; streams report once per chunk."""
        if self.done:
            return  # a background refresh reusing the scope of a finished request
        self.coding = coding
        self.bytes_in += bytes_in
        self.bytes_out += bytes_out
        self.compress_seconds += seconds

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message.get("status", 200)
            if self.server_timing:
                message = self._with_server_timing(message)
            await self.send(message)
            return
        await self.send(message)
        if not message.get("more_body", False) and message["type"] == "http.response.body":
            self.finish()

    async def send_response(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        """Send a whole response and record it: what two calls of the observer do, without
        inspecting each message (only Server-Timing needs the start message edited)."""
        start = {"type": "http.response.start", "status": status, "headers": headers}
        end = {"type": "http.response.body", "body": body, "more_body": False}
        if self.server_timing:
            await self(start)
            await self(end)
            return
        self.status = status
        await self.send(start)
        await self.send(end)
        self.finish()

    def finish(self, status: int | None = None) -> None:
        """Record the response once: at its last body message, or when the app failed."""
        if self.done:
            return
        self.done = True
        metrics = self.metrics
        if metrics is None:
            return
        if self.coding is not None:
            metrics.observe_compression(
                self.coding, self.bytes_in, self.bytes_out, self.compress_seconds
            )
        if status is None:
            status = self.status or 500
        metrics.response_done(status, self.start)

    def _with_server_timing(self, message: Message) -> Message:
        """A copy of the start message with ``Server-Timing`` (messages may be shared)."""
        now = clock()
        headers = list(message.get("headers") or ())
        outcome = self.cache
        # a stream starts before its first chunk is encoded: no compress figure yet
        compress = self.compress_seconds if self.bytes_in else None
        app: float | None = None
        if self.app_start:
            cache_seconds = self.app_start - self.start
            app = max(now - self.app_start - (compress or 0.0), 0.0)
        else:
            cache_seconds = now - self.start
        value = server_timing_value(
            cache=outcome,
            cache_seconds=cache_seconds if outcome is not None else None,
            app_seconds=app,
            compress_seconds=compress,
        )
        if not value:
            return message
        headers.append((b"server-timing", value.encode("latin-1")))
        return {**message, "headers": headers}


async def send_complete(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    """Send a whole response (start and body) through ``send``; an observer sends and
    records it in one step (``RequestObserver.send_response``)."""
    if type(send) is RequestObserver:
        await send.send_response(status, headers, body)
        return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})

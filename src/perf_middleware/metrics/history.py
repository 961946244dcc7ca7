"""A short in-process history of the metrics, so the dashboard's plots have a past without
a Prometheus server: a ring buffer of small snapshots taken at most every ``interval``.

A snapshot holds cumulative counts; rates and ratios over time are differences of two
neighbours, computed by the page. Snapshots are taken when the admin API is used (every
beacon and every dashboard refresh) and by a timer started on the first such request, so
an idle server costs one timer callback per interval.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from perf_middleware.metrics.vitals import histogram_quantile

__all__ = ["History", "snapshot"]


def snapshot(state: Mapping[str, Any], at: float) -> dict[str, Any]:
    """The few numbers the dashboard plots over time, from a :meth:`Metrics.state`."""
    cache: dict[str, int] = {}
    for events in state["cache"].values():
        for event in ("hit", "miss", "stale", "bypass"):
            cache[event] = cache.get(event, 0) + events.get(event, 0)
    latency = state["response_time"]
    return {
        "t": round(at, 3),
        "requests": state["requests"],
        "cache": cache,
        "bytes_saved": {
            name: comp["bytes_in"] - comp["bytes_out"]
            for name, comp in state["compression"].items()
        },
        # raw bucket counts: the page takes differences for per-interval percentiles
        "latency_counts": list(latency["counts"]),
    }


class History:
    """Ring buffer of :func:`snapshot` results (oldest first)."""

    __slots__ = ("_handle", "_last", "clock", "interval", "loop", "snapshots", "source")

    def __init__(
        self,
        source: Callable[[], Mapping[str, Any]],
        *,
        interval: float,
        size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.interval = interval
        self.clock = clock
        self.snapshots: deque[dict[str, Any]] = deque(maxlen=size)
        self._last = float("-inf")
        self._handle: asyncio.TimerHandle | None = None
        #: the loop the timer runs on (None: not started); the middleware compares it with
        #: the running loop on each request, which is cheaper than calling :meth:`start`
        self.loop: asyncio.AbstractEventLoop | None = None

    def maybe_sample(self) -> None:
        """Take a snapshot if the last one is at least ``interval`` old."""
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            self.snapshots.append(snapshot(self.source(), now))

    def start(self) -> None:
        """Sample now and then every ``interval`` on the running loop (idempotent; a new
        loop, as in a restarted server or a test, gets its own timer)."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self.stop()
            self.maybe_sample()
            self.loop = loop
            self._handle = loop.call_later(self.interval, self._tick)

    def _tick(self) -> None:
        self.maybe_sample()
        if self.loop is not None:
            self._handle = self.loop.call_later(self.interval, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self.loop = None

    def as_list(self) -> list[dict[str, Any]]:
        return list(self.snapshots)


def latency_percentiles(bounds: list[float], counts: list[int]) -> dict[str, float | None]:
    """p50, p95 and p99 of a response-time histogram (raw counts)."""
    return {f"p{int(q * 100)}": histogram_quantile(bounds, counts, q) for q in (0.5, 0.95, 0.99)}

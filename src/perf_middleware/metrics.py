"""In-process counters and histograms for the middleware, cheap enough for every request.

Recording is a handful of integer additions on objects created once (per backend, per
encoding), so the hot path allocates nothing. Exposition (Prometheus text in
:mod:`perf_middleware.metrics_prometheus`, JSON via :meth:`Metrics.to_json`) is computed on
demand from a plain-dict *state*, which is also what worker processes write to a shared
directory so any worker can report the sum of all of them (see :class:`MetricsConfig`).

All recording happens on the event loop thread; the counters are not meant to be shared
between threads without an outer lock.
"""

from __future__ import annotations

import logging
import os
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

from perf_middleware.metrics_state import (
    CACHE_EVENTS,
    STATE_VERSION,
    CacheCounters,
    merge_states,
    read_states,
    state_to_json,
    write_state,
)

__all__ = [
    "CACHE_EVENTS",
    "CacheCounters",
    "CompressionCounters",
    "Histogram",
    "Metrics",
    "MetricsConfig",
]

logger = logging.getLogger("perf_middleware.metrics")

#: Response-time buckets in seconds (upper bounds, ``le`` semantics).
DEFAULT_LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
#: Recorded responses are folded into the counters in batches of this many (and on read).
FOLD_EVERY: Final = 1024
#: Compression-time buckets in seconds: on-the-fly codecs run in micro- to milliseconds.
DEFAULT_COMPRESSION_BUCKETS: Final = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsConfig:
    """Options for :class:`Metrics`.

    ``latency_buckets`` (default :data:`DEFAULT_LATENCY_BUCKETS`) and
    ``compression_buckets`` (default :data:`DEFAULT_COMPRESSION_BUCKETS`) are histogram
    upper bounds in seconds. ``multiprocess_dir`` (default: the ``PROMETHEUS_MULTIPROC_DIR``
    environment variable, else ``None``) turns on multi-worker mode: each worker writes its
    state to ``<dir>/perf_middleware.<pid>.json`` at most every ``flush_interval`` seconds
    (default 1.0) and on every scrape, and a scrape of any worker reports the sum over all
    files. As with prometheus-client's own multi-process mode, wipe the directory before
    starting the workers (for example in gunicorn's ``on_starting`` hook) so counts from a
    previous run are not added in.
    """

    latency_buckets: tuple[float, ...] = DEFAULT_LATENCY_BUCKETS
    compression_buckets: tuple[float, ...] = DEFAULT_COMPRESSION_BUCKETS
    multiprocess_dir: str | None = None
    flush_interval: float = 1.0
    namespace: str = "perf"

    def __post_init__(self) -> None:
        for name in ("latency_buckets", "compression_buckets"):
            bounds = getattr(self, name)
            if not bounds or list(bounds) != sorted(set(bounds)) or bounds[0] <= 0:
                raise ValueError(
                    f"MetricsConfig.{name}={bounds!r} must be non-empty, positive and strictly "
                    "increasing. HINT: pass upper bounds in seconds such as (0.01, 0.1, 1.0)."
                )
        if self.flush_interval < 0:
            raise ValueError(
                f"MetricsConfig.flush_interval={self.flush_interval!r} is negative. "
                "HINT: use 0 to write the state file on every response."
            )
        if not self.namespace.isidentifier():
            raise ValueError(
                f"MetricsConfig.namespace={self.namespace!r} is not a valid metric prefix. "
                "HINT: use letters, digits and underscores, e.g. 'perf'."
            )


class Histogram:
    """Fixed buckets as a list of plain ints; the last slot counts values above every bound."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left finds the first bound >= value: Prometheus' "le" (less or equal).
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def observe_many(self, values: list[float]) -> None:
        """``observe`` each of ``values`` (sorted in place): one C-level sort and one bisect
        per bound instead of a Python call per value."""
        values.sort()
        counts = self.counts
        below = 0
        for index, bound in enumerate(self.bounds):
            upto = bisect_right(values, bound)  # values <= bound: the same "le" buckets
            counts[index] += upto - below
            below = upto
        counts[-1] += len(values) - below
        self.sum += sum(values)

    @property
    def count(self) -> int:
        return sum(self.counts)

    def state(self) -> dict[str, Any]:
        return {"bounds": list(self.bounds), "counts": list(self.counts), "sum": self.sum}


class CompressionCounters:
    """Bytes before/after and encoder time of one content coding."""

    __slots__ = ("bytes_in", "bytes_out", "responses", "seconds")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.responses = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.seconds = Histogram(bounds)

    def state(self) -> dict[str, Any]:
        return {
            "responses": self.responses,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "seconds": self.seconds.state(),
        }


class Metrics:
    """The middleware's counters; inject one instance and read it through the admin API.

    >>> m = Metrics()
    >>> m.observe_response(200, 0.004)
    >>> m.cache("memory").hit += 1
    """

    __slots__ = (
        "_cache",
        "_compression",
        "_durations",
        "_last_flush",
        "_multiprocess",
        "_not_modified",
        "_requests",
        "_response_time",
        "_sizes",
        "_status_classes",
        "_statuses",
        "config",
        "in_flight",
        "started_at",
    )

    def __init__(self, config: MetricsConfig | None = None) -> None:
        if config is None:
            config = MetricsConfig(multiprocess_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.config = config
        self.started_at = time.time()
        self.in_flight = 0
        self._requests = 0
        self._not_modified = 0
        self._status_classes = [0, 0, 0, 0, 0]  # 1xx .. 5xx
        self._response_time = Histogram(config.latency_buckets)
        # responses recorded but not yet folded into the four above (see observe_response)
        self._statuses: list[object] = []
        self._durations: list[float] = []
        self._cache: dict[str, CacheCounters] = {}
        self._sizes: dict[str, Any] = {}
        self._compression: dict[str, CompressionCounters] = {}
        self._last_flush = 0.0
        self._multiprocess = config.multiprocess_dir is not None

    # -- recording (hot path) ---------------------------------------------------------------

    def cache(self, backend: str) -> CacheCounters:
        """The counters of ``backend`` (e.g. ``"memory"``, ``"redis"``); fetch once, then add."""
        counters = self._cache.get(backend)
        if counters is None:
            counters = self._cache[backend] = CacheCounters()
        return counters

    def track_size(self, backend: str, stats: Any) -> None:
        """Expose ``stats.entries`` / ``stats.bytes`` (a backend's ``BackendStats``) as
        gauges; read at scrape time, so the request path pays nothing."""
        self._sizes[backend] = stats

    def compression(self, encoding: str) -> CompressionCounters:
        counters = self._compression.get(encoding)
        if counters is None:
            counters = CompressionCounters(self.config.compression_buckets)
            self._compression[encoding] = counters
        return counters

    def observe_compression(
        self, encoding: str, bytes_in: int, bytes_out: int, seconds: float
    ) -> None:
        """Record one compressed response body (totals over all of its chunks)."""
        counters = self.compression(encoding)
        counters.responses += 1
        counters.bytes_in += bytes_in
        counters.bytes_out += bytes_out
        counters.seconds.observe(seconds)

    def observe_response(self, status: object, seconds: float) -> None:
        """Record one finished HTTP response: its status and the time to its last byte (a
        status that is not an int, from a buggy app, is counted without a class).

        Two list appends, the cheapest record Python has: the responses are folded into the
        counters and the histogram in bulk (a C-level count, sort and bisect per bound)
        every ``FOLD_EVERY`` responses and whenever the figures are read."""
        statuses = self._statuses
        statuses.append(status)
        self._durations.append(seconds)
        if len(statuses) >= FOLD_EVERY or self._multiprocess:
            self._after_response()

    def response_done(self, status: object, started: float) -> None:
        """A response counted in ``in_flight`` finished: take it out and record it
        (``started``: its ``time.perf_counter()`` when it began)."""
        self.in_flight -= 1
        self.observe_response(status, time.perf_counter() - started)

    def _after_response(self) -> None:
        if len(self._statuses) >= FOLD_EVERY:
            self._fold()
        if self._multiprocess:
            now = time.monotonic()
            if now - self._last_flush >= self.config.flush_interval:
                self._last_flush = now
                self.flush()

    def _fold(self) -> None:
        statuses = self._statuses
        if not statuses:
            return
        durations = self._durations
        self._statuses = []
        self._durations = []
        self._requests += len(statuses)
        classes = self._status_classes
        for status, count in Counter(statuses).items():
            if isinstance(status, int) and 100 <= status < 600:
                classes[status // 100 - 1] += count
                if status == 304:
                    self._not_modified += count
        self._response_time.observe_many(durations)

    @property
    def requests(self) -> int:
        """Responses recorded."""
        self._fold()
        return self._requests

    @property
    def not_modified(self) -> int:
        """304 responses recorded."""
        self._fold()
        return self._not_modified

    @property
    def status_classes(self) -> list[int]:
        """Responses per status class, 1xx .. 5xx."""
        self._fold()
        return self._status_classes

    @property
    def response_time(self) -> Histogram:
        """Response times (to the last byte) in seconds."""
        self._fold()
        return self._response_time

    # -- state and exposition ---------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """This process' raw counts as plain JSON-able data (non-cumulative buckets)."""
        return {
            "version": STATE_VERSION,
            "started_at": self.started_at,
            "requests": self.requests,
            "in_flight": self.in_flight,
            "not_modified": self.not_modified,
            "status_classes": list(self.status_classes),
            "response_time": self.response_time.state(),
            "cache": {name: c.state() for name, c in sorted(self._cache.items())},
            "cache_size": {
                name: {"entries": int(stats.entries), "bytes": int(stats.bytes)}
                for name, stats in sorted(self._sizes.items())
            },
            "compression": {name: c.state() for name, c in sorted(self._compression.items())},
        }

    def flush(self) -> None:
        """Write this worker's state file (multi-process mode only)."""
        if self.config.multiprocess_dir is not None:
            write_state(self.config.multiprocess_dir, os.getpid(), self.state())

    def collect_state(self) -> dict[str, Any]:
        """The state to expose: this process', or in multi-process mode the sum of all workers'."""
        own = self.state()
        directory = self.config.multiprocess_dir
        if directory is None:
            return own
        write_state(directory, os.getpid(), own)
        return merge_states([own, *read_states(directory, exclude_pid=os.getpid())])

    def to_json(self) -> dict[str, Any]:
        """A readable summary with cumulative buckets, hit ratios and compression savings."""
        return state_to_json(self.collect_state())

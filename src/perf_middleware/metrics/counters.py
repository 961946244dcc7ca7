"""In-process counters and histograms for the middleware, cheap enough for every request.

Recording is a handful of integer additions on objects created once (per backend, per
encoding), so the hot path allocates nothing. Exposition (Prometheus text in
:mod:`perf_middleware.metrics.prometheus`, JSON via :meth:`Metrics.to_json`) is computed on
demand from a plain-dict *state*, which is also what worker processes write to a shared
directory so any worker can report the sum of all of them (see :class:`MetricsConfig`).

All recording happens on the event loop thread; the counters are not meant to be shared
between threads without an outer lock.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol

from perf_middleware.metrics.state import (
    CACHE_EVENTS,
    STATE_VERSION,
    CacheCounters,
    merge_states,
    read_states,
    state_to_json,
    write_state,
)
from perf_middleware.metrics.vitals import VitalsCounters
from perf_middleware.options import checked, describe

__all__ = [
    "CACHE_EVENTS",
    "CacheCounters",
    "CompressionCounters",
    "Histogram",
    "Metrics",
    "MetricsConfig",
]

logger = logging.getLogger("perf_middleware.metrics")
#: The clock of every duration the middleware records.
clock = time.perf_counter

#: Response-time buckets in seconds (upper bounds, ``le`` semantics).
DEFAULT_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
#: Compression-time buckets in seconds: on-the-fly codecs run in micro- to milliseconds.
DEFAULT_COMPRESSION_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
)  # fmt: skip


class SizeStats(Protocol):
    """What ``Metrics.track_size`` reads of a backend's stats (``BackendStats``)."""

    @property
    def entries(self) -> int: ...

    @property
    def bytes(self) -> int: ...


@checked()
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
        # the first bound >= value: Prometheus' "le" (less or equal). A scan from the
        # smallest bound, not a bisection: response times sit in the first few buckets.
        index = 0
        for bound in self.bounds:
            if value <= bound:
                break
            index += 1
        self.counts[index] += 1
        self.sum += value

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
        "_cache_reasons",
        "_compression",
        "_last_flush",
        "_multiprocess",
        "_sizes",
        "config",
        "in_flight",
        "not_modified",
        "requests",
        "response_time",
        "started_at",
        "status_classes",
        "vitals",
    )

    def __init__(self, config: MetricsConfig | None = None) -> None:
        if config is not None and not isinstance(config, MetricsConfig):
            raise TypeError(
                f"Metrics(config=...) must be a MetricsConfig or None, got {describe(config)}. "
                "HINT: Metrics(MetricsConfig(latency_buckets=(0.01, 0.1, 1.0)))."
            )
        if config is None:
            config = MetricsConfig(multiprocess_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.config = config
        self.started_at = time.time()
        self.in_flight = 0
        #: responses recorded
        self.requests = 0
        #: 304 responses recorded
        self.not_modified = 0
        #: responses per status class, 1xx .. 5xx
        self.status_classes = [0, 0, 0, 0, 0]
        #: response times (to the last byte) in seconds
        self.response_time = Histogram(config.latency_buckets)
        self._cache: dict[str, CacheCounters] = {}
        self._cache_reasons: dict[str, dict[str, int]] = {}
        self._sizes: dict[str, SizeStats] = {}
        self._compression: dict[str, CompressionCounters] = {}
        self._last_flush = 0.0
        self._multiprocess = config.multiprocess_dir is not None
        #: real-user Web Vitals; None until :meth:`enable_vitals` (the beacon is opt-in)
        self.vitals: VitalsCounters | None = None

    # -- recording (hot path) ---------------------------------------------------------------

    def cache(self, backend: str) -> CacheCounters:
        """The counters of ``backend`` (e.g. ``"memory"``, ``"redis"``); fetch once, then add."""
        counters = self._cache.get(backend)
        if counters is None:
            counters = self._cache[backend] = CacheCounters()
        return counters

    def cache_reasons(self, backend: str) -> dict[str, int]:
        """Stage event name -> count for ``backend``: why lookups missed, went stale or
        were bypassed (see ``perf_middleware.cache.events.OUTCOME_REASONS``)."""
        return self._cache_reasons.setdefault(backend, {})

    def track_size(self, backend: str, stats: SizeStats) -> None:
        """Expose ``stats.entries`` / ``stats.bytes`` (a backend's ``BackendStats``) as
        gauges; read at scrape time, so the request path pays nothing."""
        self._sizes[backend] = stats

    def compression(self, encoding: str) -> CompressionCounters:
        counters = self._compression.get(encoding)
        if counters is None:
            counters = CompressionCounters(self.config.compression_buckets)
            self._compression[encoding] = counters
        return counters

    def enable_vitals(self) -> VitalsCounters:
        """Start collecting Web Vitals beacons (their series appear from then on)."""
        if self.vitals is None:
            self.vitals = VitalsCounters()
        return self.vitals

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
        status that is not an int, from a buggy app, is counted without a class)."""
        self.requests += 1
        if isinstance(status, int) and 100 <= status < 600:
            self.status_classes[status // 100 - 1] += 1
            if status == 304:
                self.not_modified += 1
        self.response_time.observe(seconds)
        if self._multiprocess:
            self._flush_due()

    def response_done(self, status: object, started: float) -> None:
        """A response counted in ``in_flight`` finished: take it out and record it
        (``started``: its ``time.perf_counter()`` when it began)."""
        self.in_flight -= 1
        self.observe_response(status, clock() - started)

    def _flush_due(self) -> None:
        now = time.monotonic()
        if now - self._last_flush >= self.config.flush_interval:
            self._last_flush = now
            self.flush()

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
            "cache_reasons": {
                name: dict(sorted(r.items())) for name, r in sorted(self._cache_reasons.items())
            },
            "cache_size": {
                name: {"entries": int(stats.entries), "bytes": int(stats.bytes)}
                for name, stats in sorted(self._sizes.items())
            },
            "compression": {name: c.state() for name, c in sorted(self._compression.items())},
            **({"web_vitals": self.vitals.state()} if self.vitals is not None else {}),
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

"""Prometheus text exposition of :class:`~perf_middleware.metrics.counters.Metrics`.

A custom prometheus-client Collector reads the plain counters at scrape time, so the
request path never touches prometheus-client's locks. Each ``Metrics`` gets its own
``CollectorRegistry`` (no process-global registration): several middleware instances in one
process, or tests, never collide. To add the middleware's metrics to an application's own
registry, ``registry.register(MetricsCollector(metrics))``.

Multiple workers (uvicorn ``--workers``, gunicorn): set ``PROMETHEUS_MULTIPROC_DIR`` to an
empty directory shared by the workers before they start; every scrape then reports the sum
over all workers (see :class:`perf_middleware.metrics.counters.MetricsConfig`). ``in_flight`` is
summed as well, so it is only exact while all written states are recent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from perf_middleware.metrics.counters import CACHE_EVENTS, Metrics
from perf_middleware.metrics.state import OUTCOME_REASONS, hit_ratio
from perf_middleware.metrics.vitals import DROP_REASONS, METRICS

__all__ = ["CONTENT_TYPE", "MetricsCollector", "prometheus_text"]

#: Content type of the text exposition format produced by :func:`prometheus_text`.
CONTENT_TYPE = CONTENT_TYPE_LATEST

_EVENT_HELP = {
    "hit": "Responses served fresh from the response cache.",
    "miss": "Cache lookups that found no usable entry.",
    "stale": "Responses served stale (stale-while-revalidate / stale-if-error).",
    "bypass": "Requests the cache did not consider (method, Authorization, no-store ...).",
    "store": "Responses written to the cache.",
    "eviction": "Entries evicted to stay within the size limit.",
    "error": "Backend errors (the request was answered without the cache).",
    "coalesced": "Requests that waited for another request's app call (single-flight).",
    "revalidation": "Background revalidations started.",
    "revalidation_error": "Background revalidations that failed.",
    "invalidation": "Entries removed by invalidation (admin API, invalidate_* calls).",
    "breaker_open": "Times the backend's circuit breaker opened after repeated errors.",
}


def _buckets(hist: Mapping[str, Any]) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip(hist["bounds"], hist["counts"], strict=False):
        running += count
        out.append((repr(float(bound)), running))
    out.append(("+Inf", running + hist["counts"][-1]))
    return out


class MetricsCollector(Collector):
    """Turns a :class:`Metrics` state into metric families on each scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        state = self.metrics.collect_state()
        ns = self.metrics.config.namespace
        yield CounterMetricFamily(
            f"{ns}_requests", "HTTP responses seen by the middleware.", value=state["requests"]
        )
        by_class = CounterMetricFamily(
            f"{ns}_responses", "HTTP responses by status class.", labels=["status_class"]
        )
        for index, count in enumerate(state["status_classes"]):
            by_class.add_metric([f"{index + 1}xx"], count)
        yield by_class
        yield CounterMetricFamily(
            f"{ns}_not_modified",
            "304 Not Modified responses served.",
            value=state["not_modified"],
        )
        yield GaugeMetricFamily(
            f"{ns}_requests_in_flight",
            "Requests currently being answered.",
            value=state["in_flight"],
        )
        latency = state["response_time"]
        yield HistogramMetricFamily(
            f"{ns}_response_time_seconds",
            "Time from request to the last response byte.",
            buckets=_buckets(latency),
            sum_value=latency["sum"],
        )
        yield from self._cache_families(ns, state["cache"])
        yield from self._size_families(ns, state.get("cache_size", {}))
        reasons = CounterMetricFamily(
            f"{ns}_cache_lookup_reasons",
            "Lookups that were not fresh hits, by outcome (stale, miss, bypass) and reason.",
            labels=["backend", "outcome", "reason"],
        )
        for backend, by_name in state.get("cache_reasons", {}).items():
            for name, count in sorted(by_name.items()):
                outcome, reason = OUTCOME_REASONS.get(name, ("other", name))
                reasons.add_metric([backend, outcome, reason], count)
        yield reasons
        yield from self._compression_families(ns, state["compression"])
        if "web_vitals" in state:
            yield from self._vitals_families(ns, state["web_vitals"])

    @staticmethod
    def _cache_families(ns: str, cache: Mapping[str, Mapping[str, int]]) -> Iterator[Metric]:
        for event in CACHE_EVENTS:
            family = CounterMetricFamily(
                f"{ns}_cache_{event}", _EVENT_HELP[event], labels=["backend"]
            )
            for backend, events in cache.items():
                family.add_metric([backend], events.get(event, 0))
            yield family
        ratio = GaugeMetricFamily(
            f"{ns}_cache_hit_ratio",
            "(hit + stale) / (hit + stale + miss) since start; absent before the first lookup.",
            labels=["backend"],
        )
        for backend, events in cache.items():
            value = hit_ratio(events)
            if value is not None:
                ratio.add_metric([backend], value)
        yield ratio

    @staticmethod
    def _size_families(ns: str, sizes: Mapping[str, Mapping[str, int]]) -> Iterator[Metric]:
        for suffix, help_text, key in _SIZE_GAUGES:
            family = GaugeMetricFamily(f"{ns}_{suffix}", help_text, labels=["backend"])
            for backend, values in sizes.items():
                family.add_metric([backend], values[key])
            yield family

    @staticmethod
    def _compression_families(ns: str, comp: Mapping[str, Mapping[str, Any]]) -> Iterator[Metric]:
        for suffix, help_text, key in _COMPRESSION_COUNTERS:
            counter = CounterMetricFamily(f"{ns}_{suffix}", help_text, labels=["encoding"])
            for encoding, values in comp.items():
                counter.add_metric([encoding], values[key])
            yield counter
        seconds = HistogramMetricFamily(
            f"{ns}_compression_seconds", "Encoder time per response body.", labels=["encoding"]
        )
        for encoding, values in comp.items():
            seconds.add_metric([encoding], _buckets(values["seconds"]), values["seconds"]["sum"])
        yield seconds

    @staticmethod
    def _vitals_families(ns: str, vitals: Mapping[str, Any]) -> Iterator[Metric]:
        """One histogram per Web Vital, labelled by route template and served-by."""
        histograms = vitals.get("histograms", {})
        for name, spec in METRICS.items():
            suffix = "_seconds" if spec.unit == "seconds" else ""
            family = HistogramMetricFamily(
                f"{ns}_web_vitals_{name.lower()}{suffix}",
                f"Real-user {name} per page view (web-vitals beacons).",
                labels=["route", "served_by"],
            )
            for route, by_served in sorted(histograms.items()):
                for served, by_metric in sorted(by_served.items()):
                    hist = by_metric.get(name)
                    if hist is not None:
                        family.add_metric([route, served], _buckets(hist), hist["sum"])
            yield family
        dropped = CounterMetricFamily(
            f"{ns}_web_vitals_dropped",
            "Web Vitals beacons (or single values) not recorded, by reason.",
            labels=["reason"],
        )
        counts = vitals.get("dropped", {})
        for reason in DROP_REASONS:
            dropped.add_metric([reason], counts.get(reason, 0))
        yield dropped


#: (name suffix, help, key of the backend's size figures) of the in-process cache gauges.
_SIZE_GAUGES = (
    ("cache_entries", "Entries held by an in-process cache.", "entries"),
    ("cache_size_bytes", "Bytes held by an in-process cache.", "bytes"),
)

#: (name suffix, help, key of an encoding's figures) of the compression counters.
_COMPRESSION_COUNTERS = (
    ("compressed_responses", "Responses compressed on the fly.", "responses"),
    ("compression_input_bytes", "Body bytes before compression.", "bytes_in"),
    ("compression_output_bytes", "Body bytes after compression.", "bytes_out"),
)


def registry_for(metrics: Metrics) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(metrics))
    return registry


def prometheus_text(metrics: Metrics, registry: CollectorRegistry | None = None) -> bytes:
    """The text exposition of ``metrics`` (or of a prepared ``registry`` holding it)."""
    return generate_latest(registry if registry is not None else registry_for(metrics))

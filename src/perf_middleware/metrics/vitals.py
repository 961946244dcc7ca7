"""Real-user Web Vitals: validation of a browser's beacon and its histograms.

A beacon comes from an anonymous visitor, so everything in it is hostile until checked:
:func:`parse_beacon` is a pure function that keeps only the five known metrics with numbers
inside their plausible range, one of three ``served_by`` values and a route template the
server itself has seen rendered (:class:`VitalsRoutes`). Nothing a client sends can create
a new label value, so the metric cardinality is bounded by the application's own routes.

Units follow the web-vitals library: milliseconds for LCP, INP, FCP and TTFB (stored in
seconds, as Prometheus expects), a unitless score for CLS. The default buckets put an edge
on each "good" / "poor" threshold of https://web.dev/articles/vitals, so the share of page
views under a threshold is read off a bucket exactly.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "DROP_REASONS",
    "METRICS",
    "SERVED_BY",
    "VITALS_ROUTE_KEY",
    "Beacon",
    "BeaconError",
    "VitalsCounters",
    "VitalsRoutes",
    "merge_vitals",
    "parse_beacon",
    "vitals_to_json",
]

logger = logging.getLogger("perf_middleware.metrics")

#: Where the template helper notes the route template a page was rendered for; the
#: middleware reads it after the response, so only server-rendered routes become labels.
VITALS_ROUTE_KEY: Final = "perf_middleware.vitals_route"

#: How a navigation was served (decided in the browser from its navigation timing entry).
SERVED_BY: Final = ("network", "service-worker", "http-cache")

_TIME_BUCKETS: Final = (
    0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.8, 2.5, 3.0, 4.0, 6.0, 10.0, 20.0,
)  # fmt: skip
_CLS_BUCKETS: Final = (0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.0)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One Web Vital: its beacon name, unit scale to the stored unit, accepted range (in
    the beacon's unit), histogram buckets (stored unit) and the p75 thresholds of web.dev."""

    name: str
    scale: float
    maximum: float
    buckets: tuple[float, ...]
    good: float
    poor: float
    unit: str


#: The five metrics, in the order a page reports them. Ranges are generous on purpose (a
#: minute of LCP is possible on a bad link) but exclude what no browser reports.
METRICS: Final = {
    "TTFB": MetricSpec("TTFB", 0.001, 120_000.0, _TIME_BUCKETS, 0.8, 1.8, "seconds"),
    "FCP": MetricSpec("FCP", 0.001, 120_000.0, _TIME_BUCKETS, 1.8, 3.0, "seconds"),
    "LCP": MetricSpec("LCP", 0.001, 120_000.0, _TIME_BUCKETS, 2.5, 4.0, "seconds"),
    "INP": MetricSpec("INP", 0.001, 60_000.0, _TIME_BUCKETS, 0.2, 0.5, "seconds"),
    "CLS": MetricSpec("CLS", 1.0, 100.0, _CLS_BUCKETS, 0.1, 0.25, "score"),
}

#: Why a beacon (or one value in it) was not recorded; every reason is exported from the
#: start at zero, so a flood changes counts, never the set of series.
DROP_REASONS: Final = (
    "malformed",
    "too_large",
    "rate_limited",
    "cross_site",
    "unknown_route",
    "out_of_range",
)

MAX_ROUTE_LENGTH: Final = 200


class BeaconError(ValueError):
    """A beacon that is not recorded; ``reason`` is one of :data:`DROP_REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Beacon:
    route: str
    served_by: str
    #: metric name -> value in the stored unit (seconds, or the CLS score)
    values: tuple[tuple[str, float], ...]
    #: values present but dropped (wrong type, out of range)
    rejected: int


class VitalsRoutes:
    """The route templates beacons may name: given in the config, plus those the template
    helper rendered in this process, up to ``limit`` (an app has a fixed set of routes; a
    limit reached means templates are passing URLs instead of route templates)."""

    __slots__ = ("_routes", "_warned", "limit")

    def __init__(self, routes: Iterable[str] = (), *, limit: int = 200) -> None:
        self.limit = limit
        self._routes: set[str] = set()
        self._warned = False
        for route in routes:
            self.add(route)

    def add(self, route: object) -> None:
        if not isinstance(route, str) or route in self._routes:
            return
        if not route or len(route) > MAX_ROUTE_LENGTH:
            return
        if len(self._routes) >= self.limit:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "web vitals route ignored route=%r limit=%d HINT: pass the route template "
                    "(/decks/{id}) to web_vitals(route=...), not the URL",
                    route,
                    self.limit,
                )
            return
        self._routes.add(route)

    def __contains__(self, route: object) -> bool:
        return route in self._routes

    def __len__(self) -> int:
        return len(self._routes)


def parse_beacon(body: bytes, routes: VitalsRoutes) -> Beacon:
    """Validate one beacon body ``{"route": str, "served_by": str, "metrics": {name: number}}``.

    Unknown fields and unknown metric names are ignored; a value of the wrong type or out of
    range is dropped on its own (counted in ``rejected``). Raises :class:`BeaconError` when
    nothing can be recorded.
    """
    try:
        # UTF-8 only (RFC 8259 section 8.1; json.loads would also guess UTF-16 and -32)
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BeaconError("malformed", "beacon is not valid JSON") from None
    if not isinstance(data, dict):
        raise BeaconError("malformed", "beacon must be a JSON object")
    route = data.get("route")
    if not isinstance(route, str):
        raise BeaconError("malformed", "field 'route' must be a string")
    served_by = data.get("served_by", "network")
    if served_by not in SERVED_BY:
        raise BeaconError("malformed", f"field 'served_by' must be one of {SERVED_BY}")
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        raise BeaconError("malformed", "field 'metrics' must be an object")
    if route not in routes:
        raise BeaconError(
            "unknown_route",
            "route is not one this server rendered. HINT: the page's web_vitals() helper "
            "names its route template; an app serving several workers can list them in "
            "AdminConfig(web_vitals_routes=...)",
        )
    values: list[tuple[str, float]] = []
    rejected = 0
    for name, spec in METRICS.items():
        if name not in metrics:
            continue
        value = metrics[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value <= spec.maximum
        ):
            rejected += 1
            continue
        values.append((name, float(value) * spec.scale))
    if not values:
        raise BeaconError("out_of_range" if rejected else "malformed", "no valid metric values")
    return Beacon(route, served_by, tuple(values), rejected)


def _no_constant(name: str) -> Any:
    """``NaN`` / ``Infinity`` are not JSON (Python's parser accepts them by default)."""
    raise ValueError(f"{name} is not JSON")


def _new_histogram(spec: MetricSpec) -> dict[str, Any]:
    return {"bounds": list(spec.buckets), "counts": [0] * (len(spec.buckets) + 1), "sum": 0.0}


class VitalsCounters:
    """Histograms per route, served-by and metric, plus dropped-beacon counts; held by
    :class:`~perf_middleware.metrics.counters.Metrics` and recorded on the event loop."""

    __slots__ = ("dropped", "histograms")

    def __init__(self) -> None:
        #: route -> served_by -> metric -> {"bounds", "counts", "sum"}
        self.histograms: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        self.dropped = dict.fromkeys(DROP_REASONS, 0)

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] += count

    def record(self, beacon: Beacon) -> None:
        by_served = self.histograms.setdefault(beacon.route, {})
        by_metric = by_served.setdefault(beacon.served_by, {})
        for name, value in beacon.values:
            hist = by_metric.get(name)
            if hist is None:
                hist = by_metric[name] = _new_histogram(METRICS[name])
            index = 0
            for bound in hist["bounds"]:
                if value <= bound:
                    break
                index += 1
            hist["counts"][index] += 1
            hist["sum"] += value
        if beacon.rejected:
            self.drop("out_of_range", beacon.rejected)

    def state(self) -> dict[str, Any]:
        return {
            "histograms": json.loads(json.dumps(self.histograms)),
            "dropped": dict(self.dropped),
        }


def merge_vitals(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    """Add one worker's vitals state to ``into`` (both as from :meth:`VitalsCounters.state`)."""
    for reason, count in other.get("dropped", {}).items():
        into.setdefault("dropped", {})[reason] = into.get("dropped", {}).get(reason, 0) + count
    for route, by_served in other.get("histograms", {}).items():
        for served, by_metric in by_served.items():
            target = into.setdefault("histograms", {}).setdefault(route, {}).setdefault(served, {})
            for name, hist in by_metric.items():
                mine = target.get(name)
                if mine is None:
                    target[name] = json.loads(json.dumps(hist))
                elif mine["bounds"] == hist["bounds"]:
                    pairs = zip(mine["counts"], hist["counts"], strict=True)
                    mine["counts"] = [a + b for a, b in pairs]
                    mine["sum"] += hist["sum"]


def histogram_quantile(bounds: list[float], counts: list[int], q: float) -> float | None:
    """The ``q`` quantile of raw (non-cumulative) bucket counts, interpolated linearly
    inside its bucket as Prometheus' ``histogram_quantile`` does; None without values.
    A quantile in the overflow bucket is reported as the largest bound."""
    total = sum(counts)
    if not total:
        return None
    rank = q * total
    running = 0
    lower = 0.0
    for bound, count in zip(bounds, counts, strict=False):
        if count and running + count >= rank:
            return lower + (bound - lower) * (rank - running) / count
        running += count
        lower = bound
    return float(bounds[-1])


def _rating(spec: MetricSpec, value: float | None) -> str | None:
    if value is None:
        return None
    return "good" if value <= spec.good else "poor" if value > spec.poor else "needs-improvement"


def vitals_to_json(state: Mapping[str, Any]) -> dict[str, Any]:
    """Per route and served-by: count, p75 (as the field reports them) and its rating."""
    routes: dict[str, Any] = {}
    for route, by_served in sorted(state.get("histograms", {}).items()):
        out = routes[route] = {}
        for served, by_metric in sorted(by_served.items()):
            out[served] = {}
            for name, hist in by_metric.items():
                p75 = histogram_quantile(hist["bounds"], hist["counts"], 0.75)
                out[served][name] = {
                    "count": sum(hist["counts"]),
                    "sum": hist["sum"],
                    "p75": p75,
                    "unit": METRICS[name].unit,
                    "rating": _rating(METRICS[name], p75),
                }
    return {"routes": routes, "dropped": dict(state.get("dropped", {}))}

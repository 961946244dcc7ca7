"""Merging and rendering of :meth:`Metrics.state` snapshots.

States are plain JSON data with raw (non-cumulative) bucket counts, so summing workers is
element-wise addition; cumulative buckets and ratios are only computed when rendering.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from perf_middleware.metrics.vitals import merge_vitals, vitals_to_json

__all__ = [
    "CACHE_EVENTS",
    "OUTCOME_REASONS",
    "STATE_VERSION",
    "CacheCounters",
    "hit_ratio",
    "merge_states",
    "read_states",
    "state_to_json",
    "write_state",
]

logger = logging.getLogger("perf_middleware.metrics")

#: Cache outcomes counted per backend. ``coalesced`` counts requests that waited on another
#: request's app call (single-flight); ``revalidation`` counts background refreshes started
#: by stale-while-revalidate and ``revalidation_error`` those that failed. ``invalidation``
#: counts entries removed on request and ``breaker_open`` times a backend's circuit opened.
CACHE_EVENTS: Final = (
    "hit",
    "miss",
    "stale",
    "bypass",
    "store",
    "eviction",
    "error",
    "coalesced",
    "revalidation",
    "revalidation_error",
    "invalidation",
    "breaker_open",
)

#: Cache-stage event -> (outcome, reason): why a lookup was not a plain fresh hit, for the
#: dashboard's breakdown and ``perf_cache_lookup_reasons_total``. Fresh hits are counted on
#: the stage's fast path without an event: they are the ``hit`` counter itself.
OUTCOME_REASONS: Final = {
    "stale": ("stale", "while-revalidate"),
    "stale_if_error": ("stale", "if-error"),
    "miss": ("miss", "no-entry"),
    "revalidate": ("miss", "revalidate"),
    "bypass": ("bypass", "host-or-url"),
    "bypass_method": ("bypass", "method"),
    "bypass_request": ("bypass", "request-no-store"),
}


class CacheCounters:
    """Outcome counters of one cache backend (see :data:`CACHE_EVENTS`)."""

    __slots__ = CACHE_EVENTS
    hit: int  # the one the cache stage adds to directly on its hit path

    def __init__(self) -> None:
        for event in CACHE_EVENTS:
            setattr(self, event, 0)

    def add(self, event: str, count: int = 1) -> None:
        if event not in CACHE_EVENTS:
            raise ValueError(
                f"unknown cache event {event!r}. HINT: use one of {', '.join(CACHE_EVENTS)}."
            )
        setattr(self, event, getattr(self, event) + count)

    def state(self) -> dict[str, int]:
        return {event: int(getattr(self, event)) for event in CACHE_EVENTS}


STATE_VERSION: Final = 1
_STATE_PREFIX: Final = "perf_middleware."


def _state_path(directory: str, pid: int) -> Path:
    return Path(directory) / f"{_STATE_PREFIX}{pid}.json"


def write_state(directory: str, pid: int, state: Mapping[str, Any]) -> None:
    """Write one worker's state atomically (temp file + rename): readers never see half."""
    path = _state_path(directory, pid)
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning(
            "metrics state not written path=%s error=%s HINT: make PROMETHEUS_MULTIPROC_DIR "
            "an existing directory writable by every worker",
            path,
            exc,
        )


def read_states(directory: str, *, exclude_pid: int) -> list[dict[str, Any]]:
    """Every other worker's last written state; unreadable files are skipped with a warning."""
    own = _state_path(directory, exclude_pid).name
    states = []
    for path in sorted(Path(directory).glob(f"{_STATE_PREFIX}*.json")):
        if path.name == own:
            continue
        try:
            states.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            logger.warning("metrics state skipped path=%s error=%s", path, exc)
    return states


def _merge_histogram(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    if list(other["bounds"]) != list(into["bounds"]):
        logger.warning("metrics state with different histogram buckets skipped")
        return
    into["counts"] = [a + b for a, b in zip(into["counts"], other["counts"], strict=True)]
    into["sum"] += other["sum"]


def merge_states(states: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum worker states (counters add; ``started_at`` is the earliest start)."""
    merged: dict[str, Any] | None = None
    for state in states:
        if state.get("version") != STATE_VERSION:
            logger.warning("metrics state of unknown version %r skipped", state.get("version"))
            continue
        if merged is None:
            merged = json.loads(json.dumps(state))  # deep copy of plain data
            continue
        merged["started_at"] = min(merged["started_at"], state["started_at"])
        for key in ("requests", "in_flight", "not_modified"):
            merged[key] += state[key]
        merged["status_classes"] = [
            a + b for a, b in zip(merged["status_classes"], state["status_classes"], strict=True)
        ]
        _merge_histogram(merged["response_time"], state["response_time"])
        for backend, events in state["cache"].items():
            target = merged["cache"].setdefault(backend, dict.fromkeys(CACHE_EVENTS, 0))
            for event, value in events.items():
                target[event] = target.get(event, 0) + value
        for backend, reasons in state.get("cache_reasons", {}).items():
            target = merged.setdefault("cache_reasons", {}).setdefault(backend, {})
            for name, value in reasons.items():
                target[name] = target.get(name, 0) + value
        for backend, size in state.get("cache_size", {}).items():
            target = merged.setdefault("cache_size", {}).setdefault(
                backend, {"entries": 0, "bytes": 0}
            )
            target["entries"] += size["entries"]
            target["bytes"] += size["bytes"]
        for encoding, comp in state["compression"].items():
            if encoding not in merged["compression"]:
                merged["compression"][encoding] = json.loads(json.dumps(comp))
                continue
            target = merged["compression"][encoding]
            for key in ("responses", "bytes_in", "bytes_out"):
                target[key] += comp[key]
            _merge_histogram(target["seconds"], comp["seconds"])
        if "web_vitals" in state:
            merge_vitals(merged.setdefault("web_vitals", {}), state["web_vitals"])
    if merged is None:
        raise ValueError("no metrics state to merge")
    return merged


def _histogram_json(hist: Mapping[str, Any]) -> dict[str, Any]:
    buckets: dict[str, int] = {}
    running = 0
    for bound, count in zip([*hist["bounds"], "+Inf"], hist["counts"], strict=True):
        running += count
        buckets[str(bound)] = running
    return {"count": running, "sum": hist["sum"], "buckets": buckets}


def hit_ratio(events: Mapping[str, int]) -> float | None:
    """Share of cache lookups answered from the store (fresh or stale); None before any."""
    served = events.get("hit", 0) + events.get("stale", 0)
    lookups = served + events.get("miss", 0)
    return served / lookups if lookups else None


def _by_outcome(reasons: Mapping[str, int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for name, count in reasons.items():
        outcome, reason = OUTCOME_REASONS.get(name, ("other", name))
        out.setdefault(outcome, {})[reason] = count
    return out


def state_to_json(state: Mapping[str, Any]) -> dict[str, Any]:
    cache = {
        name: {**events, "hit_ratio": hit_ratio(events)} for name, events in state["cache"].items()
    }
    compression = {}
    for name, comp in state["compression"].items():
        saved = comp["bytes_in"] - comp["bytes_out"]
        compression[name] = {
            "responses": comp["responses"],
            "bytes_in": comp["bytes_in"],
            "bytes_out": comp["bytes_out"],
            "bytes_saved": saved,
            "ratio": comp["bytes_out"] / comp["bytes_in"] if comp["bytes_in"] else None,
            "seconds": _histogram_json(comp["seconds"]),
        }
    return {
        "uptime_seconds": round(time.time() - state["started_at"], 3),
        "requests": {
            "total": state["requests"],
            "in_flight": state["in_flight"],
            "not_modified": state["not_modified"],
            "by_status_class": {f"{i + 1}xx": n for i, n in enumerate(state["status_classes"])},
        },
        "response_time_seconds": _histogram_json(state["response_time"]),
        "cache": cache,
        "cache_size": dict(state.get("cache_size", {})),
        "cache_reasons": {
            backend: _by_outcome(reasons)
            for backend, reasons in state.get("cache_reasons", {}).items()
        },
        "compression": compression,
        **({"web_vitals": vitals_to_json(state["web_vitals"])} if "web_vitals" in state else {}),
    }

"""Cache events as metrics: the cache stage and the backends report ``events(name, amount)``;
these tables and ``cache_event_hook`` turn them into the counters of
:class:`~perf_middleware.metrics.counters.CacheCounters`.
"""

from __future__ import annotations

from collections.abc import Callable

from perf_middleware.metrics.counters import CacheCounters
from perf_middleware.metrics.state import OUTCOME_REASONS

#: Cache-stage event -> counter. A miss that a concurrent request satisfied counts
#: ``miss`` and ``coalesced``; a forced revalidation of a stored entry counts as a miss;
#: ``bypass`` counts disallowed hosts, other methods than GET/HEAD and no-store requests.
STAGE_EVENTS = {
    "hit": "hit",
    "stale": "stale",
    "stale_if_error": "stale",
    "miss": "miss",
    "revalidate": "miss",
    "bypass": "bypass",
    "bypass_method": "bypass",
    "bypass_request": "bypass",
    "collapsed": "coalesced",
    "stored": "store",
    "refresh": "revalidation",
    "refresh_error": "revalidation_error",
}
#: Backend event -> counter (the backend's own hit/miss/store duplicate the stage's).
BACKEND_EVENTS = {
    "eviction": "eviction",
    "invalidation": "invalidation",
    "error": "error",
    "breaker_open": "breaker_open",
}


def backend_label(backend: object) -> str:
    """``MemoryBackend`` -> ``memory``: the ``backend`` label of the cache metrics."""
    name = type(backend).__name__
    return (
        name[: -len("Backend")] if name.endswith("Backend") and name != "Backend" else name
    ).lower()


def cache_event_hook(
    counters: CacheCounters,
    mapping: dict[str, str],
    reasons: dict[str, int] | None = None,
) -> Callable[[str, int], None]:
    """An ``events(name, amount)`` callback adding to ``counters``; unmapped names are ignored.
    With ``reasons``, events of :data:`OUTCOME_REASONS` are also counted by name there."""

    def events(name: str, amount: int = 1) -> None:
        counter = mapping.get(name)
        if counter is not None:
            setattr(counters, counter, getattr(counters, counter) + amount)
            if reasons is not None and name in OUTCOME_REASONS:
                reasons[name] = reasons.get(name, 0) + amount

    return events

"""Freshness and age (RFC 9111 §4.2) and what a request's directives allow, as pure functions.

Times are floats in seconds since the epoch; ``now`` is always passed in, so tests move a fake
clock instead of sleeping.
"""

from __future__ import annotations

from enum import Enum

from perf_middleware.cache.entry import CacheEntry
from perf_middleware.http.cache_control import EMPTY_CACHE_CONTROL, MAX_STALE_ANY, CacheControl

# RFC 9110 §15.1: "heuristically cacheable" status codes
HEURISTIC_STATUSES = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})


def freshness_lifetime(
    cc: CacheControl,
    *,
    date: int | None,
    expires: int | None,
    expires_present: bool,
    last_modified: int | None,
    status: int,
    heuristic_fraction: float = 0.0,
    heuristic_max: float = 86400.0,
) -> float | None:
    """RFC 9111 §4.2.1 for a shared cache: s-maxage, then max-age, then Expires - Date,
    then (only if configured) the Last-Modified heuristic.  None = no freshness information.

    An Expires that is present but invalid means "already expired" (§5.3).
    """
    if cc.s_maxage is not None:
        return float(cc.s_maxage)
    if cc.max_age is not None:
        return float(cc.max_age)
    if expires_present:
        if expires is None or date is None:
            return 0.0
        return float(max(0, expires - date))
    if (
        heuristic_fraction > 0
        and last_modified is not None
        and (status in HEURISTIC_STATUSES or cc.public)
        and date is not None
    ):
        return min(heuristic_max, max(0.0, (date - last_modified) * heuristic_fraction))
    return None


def corrected_initial_age(
    *, age_value: int | None, date_value: int | None, request_time: float, response_time: float
) -> float:
    """RFC 9111 §4.2.3: the larger of the apparent age (clock skew guarded) and the Age the
    upstream reported plus the time the response took to arrive."""
    apparent_age = max(0.0, response_time - date_value) if date_value is not None else 0.0
    response_delay = max(0.0, response_time - request_time)
    corrected_age_value = (age_value or 0) + response_delay
    return max(apparent_age, corrected_age_value)


class Use(Enum):
    """How a stored entry may answer a request."""

    FRESH = "fresh"
    STALE_ALLOWED = "stale-allowed"  # the request's max-stale accepts it
    STALE_WHILE_REVALIDATE = "stale-while-revalidate"
    REVALIDATE = "revalidate"


def client_limits(request_cc: CacheControl) -> CacheControl:
    """The request directives a cache that shields its origin honours (RFC 9111 §5.2.1 makes
    none of them binding on a shared cache): those that bound what may be served (min-fresh,
    max-stale, only-if-cached), not those that send every request to the origin (no-cache,
    max-age, no-store; the last still keeps the response out of the store)."""
    if (
        request_cc.min_fresh is None
        and request_cc.max_stale is None
        and not request_cc.only_if_cached
    ):
        return EMPTY_CACHE_CONTROL
    return CacheControl(
        min_fresh=request_cc.min_fresh,
        max_stale=request_cc.max_stale,
        only_if_cached=request_cc.only_if_cached,
    )


def usable(
    entry: CacheEntry, request_cc: CacheControl, now: float, *, pragma_no_cache: bool = False
) -> Use:
    """RFC 9111 §4 + §5.2.1: may ``entry`` answer a request carrying ``request_cc``?"""
    if request_cc.no_cache or entry.no_cache or (pragma_no_cache and request_cc.max_age is None):
        return Use.REVALIDATE
    age = entry.age(now)
    lifetime = entry.freshness_lifetime
    if request_cc.max_age is not None and age > request_cc.max_age:
        # the client refuses anything this old; max-stale cannot widen an explicit max-age
        return Use.REVALIDATE
    if lifetime > age:
        if request_cc.min_fresh is not None and lifetime - age < request_cc.min_fresh:
            return Use.REVALIDATE
        return Use.FRESH
    if entry.must_revalidate:
        return Use.REVALIDATE
    staleness = age - lifetime
    max_stale = request_cc.max_stale
    if max_stale is not None and (max_stale == MAX_STALE_ANY or staleness <= max_stale):
        return Use.STALE_ALLOWED
    if staleness <= entry.stale_while_revalidate:
        return Use.STALE_WHILE_REVALIDATE
    return Use.REVALIDATE


def pragma_no_cache(value: bytes | None) -> bool:
    """RFC 9111 §5.4: ``Pragma: no-cache`` (all lines joined) asks for revalidation when the
    request has no Cache-Control max-age (checked by :func:`usable`)."""
    return value is not None and b"no-cache" in value.lower()


def stale_if_error_allows(entry: CacheEntry, request_cc: CacheControl, now: float) -> bool:
    """RFC 5861 §4: may this stale entry stand in for an error? Never when the response said
    must-revalidate/proxy-revalidate/s-maxage."""
    if entry.must_revalidate:
        return False
    window = max(entry.stale_if_error, float(request_cc.stale_if_error or 0))
    staleness = entry.age(now) - entry.freshness_lifetime
    return window > 0 and staleness <= window

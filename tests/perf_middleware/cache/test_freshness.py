"""RFC 9111 §4.2 freshness lifetime and age, and request-directive decisions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perf_middleware.cache.entry import CacheEntry
from perf_middleware.cache.freshness import (
    Use,
    client_limits,
    corrected_initial_age,
    freshness_lifetime,
    stale_if_error_allows,
    usable,
)
from perf_middleware.http.cache_control import EMPTY_CACHE_CONTROL, CacheControl
from perf_middleware.http.cache_control import parse_cache_control as cc

D = 1_700_000_000


def lifetime(value: str, **kw):
    args = {
        "date": D,
        "expires": None,
        "expires_present": False,
        "last_modified": None,
        "status": 200,
    }
    args.update(kw)
    return freshness_lifetime(cc(value), **args)


def test_s_maxage_beats_max_age_beats_expires():
    assert lifetime("max-age=10, s-maxage=20", expires=D + 99, expires_present=True) == 20
    assert lifetime("max-age=10", expires=D + 99, expires_present=True) == 10
    assert lifetime("", expires=D + 99, expires_present=True) == 99


def test_invalid_or_past_expires_means_stale():
    assert lifetime("", expires=None, expires_present=True) == 0
    assert lifetime("", expires=D - 50, expires_present=True) == 0


def test_heuristic_only_when_configured():
    assert lifetime("", last_modified=D - 1000) is None
    assert lifetime("", last_modified=D - 1000, heuristic_fraction=0.1) == 100
    assert lifetime("", last_modified=D - 10**7, heuristic_fraction=0.1, heuristic_max=500) == 500
    assert lifetime("", last_modified=D - 1000, heuristic_fraction=0.1, status=302) is None


def test_corrected_initial_age_per_rfc():
    # Age header 30 plus 2 s transit; apparent age from Date is 5 s: the larger wins
    assert (
        corrected_initial_age(age_value=30, date_value=D - 5, request_time=D - 2, response_time=D)
        == 32
    )
    assert (
        corrected_initial_age(age_value=None, date_value=D - 50, request_time=D, response_time=D)
        == 50
    )
    # a Date in the future (clock skew) never makes the age negative
    assert (
        corrected_initial_age(age_value=None, date_value=D + 500, request_time=D, response_time=D)
        == 0
    )


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**6), st.integers(-(10**6), 10**6), st.floats(0, 100))
def test_corrected_age_is_never_below_reported_age(age, skew, delay):
    value = corrected_initial_age(
        age_value=age, date_value=D + skew, request_time=D - delay, response_time=D
    )
    assert value >= age


def entry(**kw) -> CacheEntry:
    base = {"primary": "k", "response_time": D, "freshness_lifetime": 60.0}
    base.update(kw)
    return CacheEntry(**base)


def test_current_age_adds_resident_time_and_a_clock_stepped_back_adds_none():
    stored = entry(corrected_initial_age=7.0)
    assert stored.age(D + 12.5) == 19.5
    assert stored.ttl(D + 12.5) == 40.5
    # the clock went back after the response was stored: never younger than when it arrived
    assert stored.age(D - 300) == 7.0
    assert stored.ttl(D - 300) == 53.0


@pytest.mark.parametrize(
    ("kw", "request_cc", "at", "expected"),
    [
        ({}, "", 30, Use.FRESH),
        ({}, "", 61, Use.REVALIDATE),
        ({}, "max-age=10", 30, Use.REVALIDATE),
        ({}, "min-fresh=40", 30, Use.REVALIDATE),
        ({}, "min-fresh=20", 30, Use.FRESH),
        ({}, "max-stale=100", 120, Use.STALE_ALLOWED),
        ({}, "max-stale", 10**6, Use.STALE_ALLOWED),
        ({}, "max-stale=10", 120, Use.REVALIDATE),
        ({"must_revalidate": True}, "max-stale=100", 120, Use.REVALIDATE),
        ({}, "no-cache", 1, Use.REVALIDATE),
        ({"no_cache": True}, "", 1, Use.REVALIDATE),
        ({"stale_while_revalidate": 30.0}, "", 80, Use.STALE_WHILE_REVALIDATE),
        ({"stale_while_revalidate": 30.0}, "", 100, Use.REVALIDATE),
    ],
)
def test_usable(kw, request_cc, at, expected):
    assert usable(entry(**kw), cc(request_cc), D + at) is expected


def test_pragma_no_cache_only_without_cache_control_max_age():
    assert usable(entry(), cc(""), D + 1, pragma_no_cache=True) is Use.REVALIDATE


def test_stale_if_error_window_from_response_or_request():
    assert stale_if_error_allows(entry(stale_if_error=100.0), cc(""), D + 120)
    assert not stale_if_error_allows(entry(stale_if_error=10.0), cc(""), D + 120)
    assert stale_if_error_allows(entry(), cc("stale-if-error=100"), D + 120)
    assert not stale_if_error_allows(
        entry(stale_if_error=100.0, must_revalidate=True), cc(""), D + 120
    )


def test_client_limits_keep_only_what_bounds_a_stored_answer():
    given = cc("no-cache, max-age=0, no-store, min-fresh=5, max-stale=9")
    assert client_limits(given) == CacheControl(min_fresh=5, max_stale=9)
    assert client_limits(cc("no-cache, max-age=0")) is EMPTY_CACHE_CONTROL
    assert client_limits(cc("only-if-cached")).only_if_cached

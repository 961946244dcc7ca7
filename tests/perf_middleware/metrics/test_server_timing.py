"""Server-Timing header values (W3C Server Timing syntax)."""

from __future__ import annotations

from perf_middleware.metrics.server_timing import server_timing_value


def test_all_parts_in_order_with_millisecond_durations():
    value = server_timing_value(cache="hit", app_seconds=0.0123, compress_seconds=0.0004)
    assert value == "cache;desc=hit, app;dur=12.3, compress;dur=0.4"


def test_missing_parts_are_left_out():
    assert server_timing_value(cache="miss") == "cache;desc=miss"
    assert server_timing_value(app_seconds=1.5) == "app;dur=1500"
    assert server_timing_value() == ""


def test_durations_round_to_microseconds():
    assert server_timing_value(app_seconds=0.0000004) == "app;dur=0"
    assert server_timing_value(app_seconds=0.0012345) == "app;dur=1.234"


def test_non_token_descriptions_are_quoted():
    assert server_timing_value(cache="stale-while-revalidate") == (
        "cache;desc=stale-while-revalidate"
    )
    assert server_timing_value(cache="a b") == 'cache;desc="a b"'
    assert server_timing_value(cache="é") == 'cache;desc="\\u00e9"'


def test_cache_status_outcomes():
    from perf_middleware.cache.serve import outcome

    assert outcome(("hit",)) == "hit"
    assert outcome(("hit", "fwd=stale")) == "stale"
    assert outcome(("fwd=uri-miss", "fwd-status=200", "stored")) == "miss"
    assert outcome(("fwd=method", "fwd-status=200")) == "bypass"
    assert outcome(("fwd=request", "fwd-status=200")) == "bypass"
    assert outcome(("fwd=stale", "fwd-status=304", "stored")) == "revalidated"
    assert outcome(("fwd=vary-miss",)) == "miss"
    assert outcome(()) is None

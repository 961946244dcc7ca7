from __future__ import annotations

import calendar
import email.utils
import time

import pytest

from perf_middleware.http.dates import format_http_date, parse_http_date

TS = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        b"Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "sun, 06 nov 1994 08:49:37 gmt",
        "  Sun, 06 Nov 1994 08:49:37 GMT  ",
        "Mon, 06 Nov 1994 08:49:37 GMT",  # wrong weekday is tolerated
    ],
)
def test_three_formats_parse_to_the_same_instant(value: str | bytes) -> None:
    assert parse_http_date(value) == TS


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "yesterday",
        "Sun, 06 Nov 1994 08:49:37 PST",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT",
        "Sun, 06 Nov 1994 08:60:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
        "1994-11-06T08:49:37Z",
        "Sun, 06 Nov 0000 08:49:37 GMT",
        "Sun, \u06606 Nov 1994 08:49:37 GMT",
    ],
)
def test_invalid_dates_are_none(value: str | None) -> None:
    assert parse_http_date(value) is None


def test_leap_second_clamps() -> None:
    assert parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT") == calendar.timegm(
        (2016, 12, 31, 23, 59, 59)
    )


def test_rfc850_two_digit_year_window() -> None:
    this_year = time.gmtime().tm_year
    yy = (this_year + 51) % 100
    parsed = parse_http_date(f"Monday, 01-Jan-{yy:02d} 00:00:00 GMT")
    assert parsed is not None
    assert time.gmtime(parsed).tm_year == this_year + 51 - 100
    parsed_near = parse_http_date(f"Monday, 01-Jan-{(this_year + 1) % 100:02d} 00:00:00 GMT")
    assert parsed_near is not None
    assert time.gmtime(parsed_near).tm_year == this_year + 1


def test_format_http_date_matches_stdlib_and_round_trips() -> None:
    assert format_http_date(TS) == "Sun, 06 Nov 1994 08:49:37 GMT"
    now = time.time()
    assert format_http_date(now) == email.utils.formatdate(int(now), usegmt=True)
    assert parse_http_date(format_http_date(now)) == int(now)


def test_format_http_date_clamps_out_of_range() -> None:
    assert format_http_date(-5) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert format_http_date(1e300) == "Fri, 31 Dec 9999 23:59:59 GMT"
    assert format_http_date(float("inf")) == "Fri, 31 Dec 9999 23:59:59 GMT"
    assert format_http_date(float("nan")) == "Thu, 01 Jan 1970 00:00:00 GMT"

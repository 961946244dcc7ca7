"""Range / If-Range / Content-Range rules (perf_middleware.http.ranges)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perf_middleware.http.dates import format_http_date
from perf_middleware.http.ranges import (
    UNSATISFIABLE,
    ByteRange,
    content_range,
    if_range_allows,
    parse_range,
    unsatisfied_content_range,
)


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-499", 1000, ByteRange(0, 500)),
        ("bytes=500-", 1000, ByteRange(500, 1000)),
        ("bytes=-200", 1000, ByteRange(800, 1000)),
        ("bytes=-5000", 1000, ByteRange(0, 1000)),
        ("bytes=900-5000", 1000, ByteRange(900, 1000)),
        ("bytes=999-999", 1000, ByteRange(999, 1000)),
        ("BYTES = 0-0", 1000, ByteRange(0, 1)),
        (b"bytes=10-19", 1000, ByteRange(10, 20)),
        ("bytes=0-9, 10-19", 1000, ByteRange(0, 20)),  # adjacent: coalesced
        ("bytes=0-50, 20-30", 1000, ByteRange(0, 51)),  # overlapping: coalesced
        ("bytes=2000-3000, 0-9", 1000, ByteRange(0, 10)),  # unsatisfiable member dropped
    ],
)
def test_satisfiable(header: str | bytes, size: int, expected: ByteRange) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=1000-", 1000),
        ("bytes=1000-2000", 1000),
        ("bytes=-0", 1000),
        ("bytes=0-", 0),
        ("bytes=-10", 0),
    ],
)
def test_unsatisfiable(header: str, size: int) -> None:
    assert parse_range(header, size) is UNSATISFIABLE


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "items=0-5",
        "bytes=abc",
        "bytes=5-1",
        "bytes=-",
        "bytes=1-2-3",
        "bytes=0-9,20-29",
        "bytes=+1-5",
        "bytes=0x10-20",
        "bytes=" + ",".join(["0-1"] * 17),
        "bytes=\u0661-2",
    ],
)
def test_ignored(header: str | None) -> None:
    assert parse_range(header, 1000) is None


def test_content_range_headers() -> None:
    assert content_range(ByteRange(0, 500), 1234) == "bytes 0-499/1234"
    assert unsatisfied_content_range(1234) == "bytes */1234"


LM = 1_700_000_000


def test_if_range_etag_must_match_strongly() -> None:
    assert if_range_allows(None, etag='"abc"', last_modified=LM)
    assert if_range_allows('"abc"', etag='"abc"', last_modified=LM)
    assert not if_range_allows('"abd"', etag='"abc"', last_modified=LM)
    assert not if_range_allows('W/"abc"', etag='"abc"', last_modified=LM)
    assert not if_range_allows('"abc"', etag='W/"abc"', last_modified=LM)
    assert not if_range_allows('"abc"', etag=None, last_modified=LM)


def test_if_range_date_must_equal_last_modified() -> None:
    assert if_range_allows(format_http_date(LM), etag='"a"', last_modified=LM)
    assert not if_range_allows(format_http_date(LM - 1), etag='"a"', last_modified=LM)
    assert not if_range_allows(format_http_date(LM + 1), etag='"a"', last_modified=LM)
    assert not if_range_allows(format_http_date(LM), etag='"a"', last_modified=None)
    assert not if_range_allows("yesterday", etag='"a"', last_modified=LM)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=80), st.binary(max_size=80)), st.integers(0, 10_000))
def test_never_raises_and_stays_in_bounds(value: str | bytes, size: int) -> None:
    result = parse_range(value, size)
    if isinstance(result, ByteRange):
        assert 0 <= result.start < result.stop <= size
    else:
        assert result is None or result is UNSATISFIABLE
    assert isinstance(if_range_allows(value, etag='"x"', last_modified=LM), bool)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 5000), st.integers(0, 5000), st.integers(1, 5000))
def test_valid_first_last_ranges(first: int, length: int, size: int) -> None:
    last = first + length
    result = parse_range(f"bytes={first}-{last}", size)
    if first >= size:
        assert result is UNSATISFIABLE
    else:
        assert result == ByteRange(first, min(last + 1, size))

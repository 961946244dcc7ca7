"""Any bytes or text into any parser: never an exception, always the documented type."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from perf_middleware.http.accept_encoding import choose_encoding, parse_accept_encoding
from perf_middleware.http.cache_control import CacheControl, parse_cache_control
from perf_middleware.http.conditional import Precondition, evaluate_conditional
from perf_middleware.http.dates import format_http_date, parse_http_date
from perf_middleware.http.etag import (
    etag_matches_any,
    etag_matches_strong,
    parse_etag,
    parse_etag_list,
    strong_match,
    weak_match,
    weaken,
)
from perf_middleware.http.vary import merge_vary, parse_vary

HEADERISH = st.sampled_from(
    [
        ",",
        ";",
        "=",
        '"',
        "\\",
        " ",
        "*",
        "W/",
        "q=",
        "0.5",
        "max-age",
        "gzip",
        "br",
        "zstd",
        "identity",
        "no-cache",
        "GMT",
        "Nov",
        "1994",
        "08:49:37",
        "\x00",
        "\xff",
        "é",
    ]
)
TEXT = st.one_of(
    st.text(max_size=80),
    st.lists(HEADERISH, max_size=12).map("".join),
)
VALUE = st.one_of(st.none(), TEXT, st.binary(max_size=80))
SETTINGS = settings(max_examples=400, deadline=None)


@SETTINGS
@given(VALUE)
def test_cache_control_never_raises(value: str | bytes | None) -> None:
    cc = parse_cache_control(value)
    assert isinstance(cc, CacheControl)
    for attr in ("max_age", "s_maxage", "max_stale", "min_fresh"):
        v = getattr(cc, attr)
        assert v is None or 0 <= v <= 2147483648


@SETTINGS
@given(VALUE, st.lists(st.sampled_from(["zstd", "br", "gzip", "identity"]), max_size=4))
def test_accept_encoding_never_raises(value: str | bytes | None, available: list[str]) -> None:
    weights = parse_accept_encoding(value)
    assert all(0.0 <= q <= 1.0 for q in weights.values())
    choice = choose_encoding(value, available)
    assert choice is None or choice == "identity" or choice in available


@SETTINGS
@given(VALUE, VALUE)
def test_etag_functions_never_raise(a: str | bytes | None, b: str | bytes | None) -> None:
    tag = parse_etag(a)
    assert tag is None or isinstance(tag.opaque, str)
    if tag is not None:
        assert parse_etag(str(tag)) == tag
    parse_etag_list(a)
    assert isinstance(strong_match(a, b), bool)
    assert isinstance(weak_match(a, b), bool)
    assert isinstance(etag_matches_any(a, b), bool)
    assert isinstance(etag_matches_strong(a, b), bool)
    if isinstance(a, str):
        assert isinstance(weaken(a), str)


@SETTINGS
@given(VALUE)
def test_dates_and_vary_never_raise(value: str | bytes | None) -> None:
    ts = parse_http_date(value)
    if ts is not None:
        assert parse_http_date(format_http_date(ts)) == ts
    fields = parse_vary(value)
    assert all(f == f.lower() for f in fields)
    assert isinstance(merge_vary(value, "Accept-Encoding"), str)


@SETTINGS
@given(
    st.sampled_from(["GET", "HEAD", "POST", "PUT", "\x00"]),
    VALUE,
    VALUE,
    VALUE,
    VALUE,
    st.one_of(st.none(), TEXT),
    st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40)),
)
def test_conditional_never_raises(
    method: str,
    im: str | bytes | None,
    inm: str | bytes | None,
    ims: str | bytes | None,
    ius: str | bytes | None,
    etag: str | None,
    lm: int | None,
) -> None:
    result = evaluate_conditional(
        method,
        if_match=im,
        if_none_match=inm,
        if_modified_since=ims,
        if_unmodified_since=ius,
        etag=etag,
        last_modified=lm,
    )
    assert isinstance(result, Precondition)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(2**70), max_value=2**70)
)
def test_format_http_date_never_raises(ts: float) -> None:
    assert format_http_date(ts).endswith(" GMT")

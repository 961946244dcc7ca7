"""What a shared cache may store (RFC 9111 §3), with the reason when it may not."""

from __future__ import annotations

import time

import pytest

from perf_middleware.cache.config import CacheConfig
from perf_middleware.cache.storing import (
    RequestFacts,
    parse_tags,
    refresh_headers,
    response_reason,
    stored_headers,
)
from perf_middleware.http.cache_control import parse_cache_control as cc

CONFIG = CacheConfig()
RFC_ONLY = CacheConfig(store_only_shareable=False)  # RFC 9111's rules without the default's


def reason(
    headers: dict[str, str] | list[tuple[str, str]],
    *,
    status: int = 200,
    request: str = "",
    auth: bool = False,
    cookie: bool = False,
    unkeyed: tuple[str, ...] = (),
    config=RFC_ONLY,
):
    pairs = headers.items() if isinstance(headers, dict) else headers
    raw = [(k.encode(), v.encode()) for k, v in pairs]
    facts = RequestFacts(cc(request), auth, time.time(), "/p", unkeyed, has_cookie=cookie)
    return response_reason(status, raw, facts, config)


@pytest.mark.parametrize(
    ("headers", "kw", "expected"),
    [
        ({"cache-control": "max-age=60"}, {}, None),
        ({"cache-control": "max-age=60"}, {"status": 206}, "partial"),
        ({"cache-control": "max-age=60"}, {"status": 418}, "status"),
        ({"cache-control": "no-store, max-age=60"}, {}, "no-store"),
        ({"cache-control": "max-age=60"}, {"request": "no-store"}, "request-no-store"),
        ({"cache-control": "private, max-age=60"}, {}, "private"),
        ({"cache-control": 'private="x-user", max-age=60'}, {}, None),
        ({"cache-control": "max-age=60"}, {"auth": True}, "authorization"),
        ({"cache-control": "public, max-age=60"}, {"auth": True}, None),
        ({"cache-control": "s-maxage=60"}, {"auth": True}, None),
        ({"cache-control": "max-age=60, must-revalidate"}, {"auth": True}, None),
        ({"cache-control": "max-age=60", "set-cookie": "a=b"}, {}, "set-cookie"),
        ({"cache-control": "max-age=60", "vary": "Accept, *"}, {}, "vary-star"),
        ({"cache-control": "no-cache"}, {}, "no-cache-without-validator"),
        ({"cache-control": "no-cache", "etag": '"x"'}, {}, None),
        ({}, {}, "no-freshness"),
        ({"etag": '"x"'}, {}, None),
        ({"etag": '"x"'}, {"status": 302}, "no-freshness"),
        ({"cache-control": "max-age=0"}, {}, "no-freshness"),
        ({"cache-control": "max-age=0, must-revalidate", "etag": '"x"'}, {}, None),
        (
            {"expires": "Thu, 01 Jan 2099 00:00:00 GMT", "date": "Thu, 01 Jan 2026 00:00:00 GMT"},
            {},
            None,
        ),
        (
            {"cache-control": "max-age=60"},
            {"unkeyed": ("x-forwarded-host",)},
            "unkeyed-header:x-forwarded-host",
        ),
        (
            {"cache-control": "max-age=60", "vary": "X-Forwarded-Host"},
            {"unkeyed": ("x-forwarded-host",)},
            None,
        ),
    ],
)
def test_storable_reasons(headers, kw, expected):
    assert reason(headers, **kw) == expected


@pytest.mark.parametrize(
    ("headers", "kw", "expected"),
    [
        ({}, {}, "not-shareable"),
        ({"etag": '"x"'}, {}, "not-shareable"),
        ({"cache-control": "no-cache", "etag": '"x"'}, {}, "not-shareable"),
        ({"cache-control": "must-revalidate", "etag": '"x"'}, {}, "not-shareable"),
        ({"cache-control": "public", "etag": '"x"'}, {}, None),
        ({"cache-control": "public, no-cache", "etag": '"x"'}, {}, None),
        ({"cache-control": "max-age=60"}, {}, None),
        ({"cache-control": "max-age=0", "etag": '"x"'}, {}, None),
        ({"cache-control": "s-maxage=60"}, {}, None),
        (
            {"expires": "Thu, 01 Jan 2099 00:00:00 GMT", "date": "Thu, 01 Jan 2026 00:00:00 GMT"},
            {},
            None,
        ),
        ({"cache-control": "max-age=60"}, {"cookie": True}, "cookie"),
        ({"cache-control": "public, max-age=60"}, {"cookie": True}, None),
        ({"cache-control": "s-maxage=60"}, {"cookie": True}, None),
        ({"cache-control": "max-age=60", "etag": '"x"'}, {"cookie": True}, "cookie"),
        ({"cache-control": "max-age=60"}, {"auth": True}, "authorization"),
        ({"cache-control": "max-age=60, must-revalidate"}, {"auth": True}, None),
        ({"cache-control": "s-maxage=60"}, {"auth": True}, None),
    ],
)
def test_default_stores_only_what_says_it_is_shareable(headers, kw, expected):
    assert reason(headers, config=CONFIG, **kw) == expected


def test_rfc_only_setting_stores_revalidation_entries_and_ignores_cookie():
    assert reason({"etag": '"x"'}, cookie=True) is None
    assert reason({"cache-control": "max-age=60"}, cookie=True) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("cache-control", "public, max-age=3600"), ("age", "7200, 0")], "stale-on-arrival"),
        (
            [("cache-control", "public, max-age=3600"), ("age", "7200"), ("age", "0")],
            "stale-on-arrival",
        ),
        ([("cache-control", "public, max-age=3600"), ("age", "a lot")], "stale-on-arrival"),
        ([("cache-control", "public, max-age=3600"), ("age", "-1")], "stale-on-arrival"),
        ([("cache-control", "public, max-age=3600"), ("age", "0, 7200")], None),
        ([("cache-control", "public, max-age=10"), ("age", "15")], "stale-on-arrival"),
        ([("cache-control", "public, max-age=10"), ("age", "15"), ("etag", '"x"')], None),
        (
            [("cache-control", "public, max-age=10, stale-while-revalidate=30"), ("age", "15")],
            None,
        ),
    ],
)
def test_age_first_value_and_stale_on_arrival(headers, expected):
    """RFC 9111 §5.1: the first Age value counts; one that is not delta-seconds means
    stale, never age 0.  Nothing a backend would keep is reported as not storable."""
    assert reason(headers, config=CONFIG) == expected


def test_set_cookie_route_opt_in():
    config = CacheConfig(set_cookie_routes=("/p",))
    assert reason({"cache-control": "max-age=60", "set-cookie": "a=b"}, config=config) is None


def test_stored_headers_drop_hop_by_hop_cookie_tags_and_named_private_fields():
    raw = [
        (b"Connection", b"close"),
        (b"content-length", b"5"),
        (b"set-cookie", b"a=b"),
        (b"cache-tag", b"t"),
        (b"x-user", b"alice"),
        (b"x-keep", b"1"),
        (b"age", b"3"),
    ]
    kept = stored_headers(raw, cc('private="x-user"'), CONFIG)
    assert kept == ((b"x-keep", b"1"),)


def test_refresh_headers_replaces_named_fields_but_not_framing():
    stored = ((b"content-type", b"text/html"), (b"x-version", b"1"), (b"etag", b'"a"'))
    update = [(b"X-Version", b"2"), (b"content-length", b"0"), (b"content-type", b"text/plain")]
    merged = refresh_headers(stored, update)
    assert (b"x-version", b"2") in merged
    assert (b"x-version", b"1") not in merged
    assert (b"content-type", b"text/html") in merged
    assert all(k != b"content-length" for k, _ in merged)


def test_parse_tags():
    assert parse_tags(b"a, b c,,a") == ("a", "b", "c")
    assert parse_tags(None) == ()


def test_config_errors_have_hints():
    with pytest.raises(ValueError, match="HINT"):
        CacheConfig(codings=("lzma",))
    with pytest.raises(ValueError, match="HINT"):
        CacheConfig(heuristic_fraction=2)
    with pytest.raises(ValueError, match="HINT"):
        CacheConfig(route_tags={"api/*": ("x",)})
    with pytest.raises(TypeError, match="HINT"):
        CacheConfig(allowed_hosts="example.com")

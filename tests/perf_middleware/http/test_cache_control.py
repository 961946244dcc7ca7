from __future__ import annotations

import pytest

from perf_middleware.http.cache_control import (
    EMPTY_CACHE_CONTROL,
    MAX_STALE_ANY,
    CacheControl,
    parse_age,
    parse_cache_control,
    parse_targeted,
)


def test_empty_and_none_give_the_empty_value() -> None:
    assert parse_cache_control(None) is EMPTY_CACHE_CONTROL
    assert parse_cache_control("") is EMPTY_CACHE_CONTROL
    assert parse_cache_control(b"  ") is EMPTY_CACHE_CONTROL
    assert CacheControl() == EMPTY_CACHE_CONTROL


def test_response_directives() -> None:
    cc = parse_cache_control(
        "public, max-age=60, s-maxage=120, must-revalidate, proxy-revalidate, immutable, "
        "no-transform, stale-while-revalidate=30, stale-if-error=600, must-understand, no-store"
    )
    assert cc.public
    assert cc.must_revalidate
    assert cc.proxy_revalidate
    assert cc.immutable
    assert cc.no_transform
    assert cc.must_understand
    assert cc.no_store
    assert (cc.max_age, cc.s_maxage) == (60, 120)
    assert (cc.stale_while_revalidate, cc.stale_if_error) == (30, 600)
    assert not cc.private
    assert not cc.no_cache


def test_request_directives() -> None:
    cc = parse_cache_control(b"max-age=0, max-stale=5, min-fresh=10, only-if-cached, no-cache")
    assert cc.max_age == 0
    assert cc.max_stale == 5
    assert cc.min_fresh == 10
    assert cc.only_if_cached
    assert cc.no_cache


def test_bare_max_stale_means_any() -> None:
    assert parse_cache_control("max-stale").max_stale == MAX_STALE_ANY


def test_names_are_case_insensitive_and_whitespace_tolerant() -> None:
    cc = parse_cache_control("  MAX-AGE=10 ,No-Cache,PUBLIC  ")
    assert cc.max_age == 10
    assert cc.no_cache
    assert cc.public


def test_quoted_delta_seconds_accepted() -> None:
    assert parse_cache_control('max-age="42"').max_age == 42


@pytest.mark.parametrize(
    "value", ["max-age=abc", "max-age=-1", "max-age=1.5", "max-age=", 'max-age="1']
)
def test_invalid_delta_is_ignored(value: str) -> None:
    assert parse_cache_control(value).max_age is None


def test_invalid_value_does_not_hide_other_directives() -> None:
    cc = parse_cache_control("max-age=x, no-store")
    assert cc.max_age is None
    assert cc.no_store


def test_huge_delta_clamps_to_2_pow_31() -> None:
    assert parse_cache_control("max-age=99999999999999999999").max_age == 2147483648
    assert parse_cache_control("s-maxage=2147483649").s_maxage == 2147483648


def test_identical_duplicates_are_kept() -> None:
    assert parse_cache_control("max-age=5, max-age=5").max_age == 5


def test_conflicting_max_age_is_treated_as_stale() -> None:
    assert parse_cache_control("max-age=5, max-age=50").max_age == 0
    assert parse_cache_control("s-maxage=5, s-maxage=50").s_maxage == 0


def test_conflicting_other_deltas_resolve_conservatively() -> None:
    cc = parse_cache_control(
        "max-stale=10, max-stale=3, min-fresh=1, min-fresh=9, stale-if-error=5, stale-if-error=2"
    )
    assert cc.max_stale == 3
    assert cc.min_fresh == 9
    assert cc.stale_if_error == 2


def test_qualified_no_cache_and_private() -> None:
    cc = parse_cache_control('no-cache="Set-Cookie, X-Foo", private="Authorization"')
    assert cc.no_cache
    assert cc.no_cache_fields == frozenset({"set-cookie", "x-foo"})
    assert cc.private
    assert cc.private_fields == frozenset({"authorization"})


def test_quoted_string_with_comma_does_not_split_the_list() -> None:
    cc = parse_cache_control('private="a,b", max-age=3')
    assert cc.private_fields == frozenset({"a", "b"})
    assert cc.max_age == 3


def test_unqualified_no_cache_has_no_fields() -> None:
    cc = parse_cache_control("no-cache")
    assert cc.no_cache
    assert cc.no_cache_fields == frozenset()


def test_extensions_keep_unknown_directives() -> None:
    cc = parse_cache_control('community="UCI", foo, bar=baz, foo=second')
    assert dict(cc.extensions) == {"community": "UCI", "foo": None, "bar": "baz"}


def test_empty_members_and_garbage_are_skipped() -> None:
    cc = parse_cache_control(",,, =5, max-age=7,,")
    assert cc.max_age == 7


def test_parse_is_cached() -> None:
    assert parse_cache_control("max-age=77, public") is parse_cache_control("max-age=77, public")


def test_result_is_immutable() -> None:
    cc = parse_cache_control("x=1")
    with pytest.raises(TypeError):
        cc.extensions["y"] = "2"  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (b"15", 15),
        (b"7200, 0", 7200),  # RFC 9111 §5.1: the first value
        (b"0, 7200", 0),
        (b"99999999999", MAX_STALE_ANY),  # clamped like any delta-seconds
        (b"soon", MAX_STALE_ANY),  # unknown age: stale, never 0
        (b"-1", MAX_STALE_ANY),
        (b"1.5", MAX_STALE_ANY),
        (b'"5"', MAX_STALE_ANY),
        (b"", MAX_STALE_ANY),
    ],
)
def test_parse_age(value: bytes | None, expected: int | None) -> None:
    assert parse_age(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=60", CacheControl(max_age=60)),
        ("max-age=60, private", CacheControl(max_age=60, private=True)),
        ("no-store", CacheControl(no_store=True)),
        ("no-cache, public", CacheControl(no_cache=True, public=True)),
        ("public=?1, max-age=5;ext=1", CacheControl(public=True, max_age=5)),
        ("private=?0, max-age=5", CacheControl(max_age=5)),  # false boolean: absent
    ],
)
def test_parse_targeted_valid(value: str, expected: CacheControl) -> None:
    assert parse_targeted(value) == expected


@pytest.mark.parametrize(
    "value",
    [None, "", "  ", "Max-Age=60", "max-age=", "max-age=60,,", "a b", "max-age=60; ", '"x"'],
)
def test_parse_targeted_invalid_or_empty_is_ignored(value: str | None) -> None:
    """RFC 9213 §2.2: a field that is not a valid Structured Field Dictionary is ignored."""
    assert parse_targeted(value) is None

from __future__ import annotations

from perf_middleware.http.headers import (
    combine_fields,
    content_length,
    content_type,
    get_all,
    get_header,
    get_joined,
    has_header,
)


def raw() -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"Text/HTML; charset=utf-8"),
        (b"Vary", b"Cookie"),
        (b"vary", b"Origin"),
        (b"content-length", b"12"),
    ]


def test_get_is_case_insensitive_and_returns_first() -> None:
    assert get_header(raw(), b"vary") == b"Cookie"
    assert get_header(raw(), b"etag") is None
    assert get_all(raw(), b"vary") == [b"Cookie", b"Origin"]
    assert get_joined(raw(), b"vary") == b"Cookie, Origin"
    assert get_joined(raw(), b"content-length") == b"12"
    assert get_joined(raw(), b"etag") is None
    assert has_header(raw(), b"content-type")
    assert not has_header(raw(), b"etag")


def test_content_type_and_length() -> None:
    assert content_type(raw()) == "text/html"
    assert content_type([]) == ""
    assert content_length(raw()) == 12
    assert content_length([(b"content-length", b"-1")]) is None
    assert content_length([(b"content-length", b"1e3")]) is None
    assert content_length([]) is None


def test_combine_fields_joins_lines_in_order_and_names_ambiguous_ones() -> None:
    fields, ambiguous = combine_fields(
        [
            (b"accept-language", b"xx"),
            (b"cookie", b"a=1"),
            (b"host", b"a.test"),
            (b"accept-language", b"en"),
            (b"cookie", b"b=2"),
            (b"host", b"b.test"),
        ]
    )
    assert fields == {
        b"accept-language": b"xx, en",
        b"cookie": b"a=1; b=2",
        b"host": b"a.test, b.test",
    }
    assert ambiguous == {b"host"}
    assert combine_fields([(b"accept", b"*/*")]) == ({b"accept": b"*/*"}, frozenset())

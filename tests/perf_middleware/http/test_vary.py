from __future__ import annotations

from perf_middleware.http.vary import merge_vary, parse_vary


def test_parse_vary_lowercases_dedupes_and_keeps_star() -> None:
    assert parse_vary("Accept-Encoding, Cookie, accept-encoding") == ("accept-encoding", "cookie")
    assert parse_vary(b"*") == ("*",)
    assert parse_vary(None) == ()
    assert parse_vary(",, bad header, Origin") == ("origin",)


def test_merge_vary_adds_once() -> None:
    assert merge_vary(None, "Accept-Encoding") == "Accept-Encoding"
    assert merge_vary("Cookie", "Accept-Encoding") == "Cookie, Accept-Encoding"
    assert merge_vary("accept-encoding", "Accept-Encoding") == "accept-encoding"
    assert (
        merge_vary(b"Cookie, cookie", "Accept-Encoding", "Accept-Encoding")
        == "Cookie, Accept-Encoding"
    )


def test_merge_vary_star_absorbs() -> None:
    assert merge_vary("*", "Accept-Encoding") == "*"
    assert merge_vary("Cookie", "*") == "*"


def test_merge_vary_drops_invalid_tokens() -> None:
    assert merge_vary("a b, Cookie", "bad field") == "Cookie"
    assert (
        merge_vary(
            "",
        )
        == ""
    )

from __future__ import annotations

import pytest

from perf_middleware.http.accept_encoding import choose_encoding, parse_accept_encoding

PREF = ("zstd", "br", "gzip")


def test_parse_q_values() -> None:
    parsed = parse_accept_encoding("gzip;q=0.5, br, zstd;q=0, *;q=0.1, identity;q=1.000")
    assert dict(parsed) == {"gzip": 0.5, "br": 1.0, "zstd": 0.0, "*": 0.1, "identity": 1.0}


@pytest.mark.parametrize("bad", ["q=2", "q=1.5", "q=0.1234", "q=abc", "q=", "q=-0", "q=1.001"])
def test_invalid_q_drops_the_member(bad: str) -> None:
    assert "gzip" not in parse_accept_encoding(f"gzip;{bad}, br")
    assert parse_accept_encoding(f"gzip;{bad}, br")["br"] == 1.0


def test_parse_is_case_insensitive_aliases_and_cached() -> None:
    parsed = parse_accept_encoding(b"GZIP;Q=0.3, X-Gzip;q=0.2")
    assert dict(parsed) == {"gzip": 0.2}
    assert parse_accept_encoding("br, gzip") is parse_accept_encoding("br, gzip")


def test_other_params_are_ignored() -> None:
    assert dict(parse_accept_encoding("gzip;level=3;q=0.4")) == {"gzip": 0.4}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br, zstd", "zstd"),  # server preference among equal q
        ("gzip, br", "br"),
        ("gzip", "gzip"),
        ("gzip;q=0", "identity"),  # q=0 excludes
        ("gzip;q=0.5, br;q=0.8", "br"),  # higher q beats server preference
        ("*", "zstd"),
        ("*;q=0.5, zstd;q=0", "br"),  # star covers the rest
        ("*;q=0", None),  # nothing acceptable, identity excluded by star
        ("*;q=0, identity", "identity"),
        ("identity;q=0", None),
        ("identity;q=0, gzip", "gzip"),
        ("gzip;q=0.5", "gzip"),  # identity unnamed = least preferred
        ("gzip;q=0.5, identity;q=1", "identity"),  # identity strictly preferred
        ("gzip;q=1, identity;q=1", "gzip"),
        ("deflate, compress", "identity"),  # nothing we have
        ("", "identity"),  # present but empty: identity only
        ("x-gzip", "gzip"),
        ("gz ip, ;;, br;q=abc", "identity"),
    ],
)
def test_choose_encoding(header: str, expected: str | None) -> None:
    assert choose_encoding(header, PREF) == expected


def test_missing_header_negotiates_identity() -> None:
    assert choose_encoding(None, PREF) == "identity"


def test_server_preference_order_is_respected() -> None:
    assert choose_encoding("gzip, br, zstd", ["gzip", "br"]) == "gzip"
    assert choose_encoding(b"gzip, br, zstd", ["br", "gzip"]) == "br"


def test_empty_available_gives_identity_or_none() -> None:
    assert choose_encoding("br", []) == "identity"
    assert choose_encoding("br, identity;q=0", []) is None

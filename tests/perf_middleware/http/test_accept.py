"""Accept parsing and image-format negotiation (perf_middleware.http.accept)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perf_middleware.http.accept import (
    MediaRange,
    choose_image_format,
    media_type_quality,
    parse_accept,
)

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
FIREFOX_OLD = "image/webp,*/*"
SAFARI_14 = "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"


def test_parse_accept_members_and_q() -> None:
    ranges = parse_accept("text/html, image/webp;q=0.5, */*;q=0.1")
    assert ranges == (
        MediaRange("text", "html", 1.0),
        MediaRange("image", "webp", 0.5),
        MediaRange("*", "*", 0.1),
    )


def test_parse_accept_bytes_and_case() -> None:
    assert parse_accept(b"IMAGE/AVIF;Q=0.9") == (MediaRange("image", "avif", 0.9),)


@pytest.mark.parametrize(
    "header",
    ["", "   ", ",,,", "image", "image/", "/webp", "*/webp", "im age/webp", "image/we bp"],
)
def test_malformed_members_dropped(header: str) -> None:
    assert parse_accept(header) == ()


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("1", 1.0),
        ("1.000", 1.0),
        ("0", 0.0),
        ("0.5", 0.5),
        ("0.123", 0.123),
        ("1.5", 0.0),
        ("2", 0.0),
        ("abc", 0.0),
        ("0.1234", 0.0),
        ("-1", 0.0),
        ("", 0.0),
    ],
)
def test_q_values(q: str, expected: float) -> None:
    assert parse_accept(f"image/webp;q={q}")[0].q == expected


def test_media_params_kept_until_q() -> None:
    (rng,) = parse_accept('text/html;level=1;q=0.7;ext="x"')
    assert rng.params == (("level", "1"),)
    assert rng.q == 0.7
    assert rng.specificity == 3


def test_most_specific_range_decides() -> None:
    assert media_type_quality("image/*;q=1, image/webp;q=0", "image/webp") == 0.0
    assert media_type_quality("image/*;q=0.2, */*;q=0.9", "image/png") == 0.2
    assert media_type_quality("*/*;q=0.3", "image/png") == 0.3
    assert media_type_quality("text/html", "image/png") == 0.0


def test_missing_header_accepts_everything_but_not_explicitly() -> None:
    assert media_type_quality(None, "image/avif") == 1.0
    assert media_type_quality(None, "image/avif", explicit=True) == 0.0
    assert media_type_quality(CHROME, "image/avif", explicit=True) == 1.0
    assert media_type_quality("*/*", "image/avif", explicit=True) == 0.0


AVIF = ("image/avif", 300)
WEBP = ("image/webp", 400)
PNG = ("image/png", 1000)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (CHROME, "image/avif"),
        (FIREFOX_OLD, "image/webp"),
        (SAFARI_14, "image/png"),
        ("*/*", "image/png"),
        ("image/*", "image/png"),
        (None, "image/png"),
        ("", "image/png"),
        ("image/avif;q=0.5, image/webp", "image/webp"),
        ("image/avif;q=0, image/webp;q=0, image/png", "image/png"),
        ("image/avif, image/webp, image/png;q=0", "image/avif"),
        ("image/png;q=0", "image/png"),  # nothing acceptable: fallback, never a 406
        ("image/webp,image/avif", "image/avif"),  # equal q: smallest wins
    ],
)
def test_choose_image_format(accept: str | None, expected: str) -> None:
    assert choose_image_format(accept, [AVIF, WEBP], original=PNG) == expected


def test_choose_image_format_never_picks_a_larger_alternate_on_tie() -> None:
    assert choose_image_format(CHROME, [("image/avif", 2000)], original=PNG) == "image/png"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_never_raises(value: str | bytes) -> None:
    ranges = parse_accept(value)
    assert all(0.0 <= r.q <= 1.0 for r in ranges)
    assert 0.0 <= media_type_quality(value, "image/webp") <= 1.0
    assert choose_image_format(value, [AVIF, WEBP], original=PNG) in {
        "image/avif",
        "image/webp",
        "image/png",
    }

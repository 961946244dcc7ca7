from __future__ import annotations

import base64
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perf_middleware.http.etag import (
    EntityTag,
    ETagList,
    base_opaque,
    encoding_etag,
    etag_bytes,
    etag_matches_any,
    etag_matches_strong,
    make_etag,
    parse_etag,
    parse_etag_list,
    strong_match,
    weak_match,
    weaken,
)


def test_make_etag_is_strong_quoted_and_content_addressed() -> None:
    tag = make_etag(b"hello")
    parsed = parse_etag(tag)
    assert parsed is not None
    assert not parsed.weak
    assert len(parsed.opaque) == 22  # 128 bits in base64, unpadded
    assert len(base64.b64decode(parsed.opaque + "==", validate=True)) == 16
    assert make_etag(b"hello") == tag
    assert make_etag(b"hello!") != tag


@settings(max_examples=300)
@given(st.binary(max_size=256))
def test_generated_tags_never_end_like_an_encoding_variant(body: bytes) -> None:
    opaque = make_etag(body)[1:-1]
    assert re.fullmatch(r"[A-Za-z0-9+/]{22}", opaque)
    assert base_opaque(opaque) == opaque  # no "-br"/"-gzip"... suffix to strip


def test_make_etag_is_stable_across_processes() -> None:
    code = "from perf_middleware.http.etag import make_etag; print(make_etag(b'abc'))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert outputs == {make_etag(b"abc")}


def test_str_gives_header_form() -> None:
    assert str(EntityTag("x")) == '"x"'
    assert str(EntityTag("x", weak=True)) == 'W/"x"'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"abc"', EntityTag("abc")),
        ('W/"abc"', EntityTag("abc", True)),
        (b' "abc" ', EntityTag("abc")),
        ('""', EntityTag("")),
        ("abc", EntityTag("abc")),  # lenient: unquoted token
        ('"a"b"', None),
        ("W/abc", None),
        ('"abc', None),
        ("", None),
        (None, None),
        ('"a b"', None),  # space is not an etagc
    ],
)
def test_parse_etag(value: str | bytes | None, expected: EntityTag | None) -> None:
    assert parse_etag(value) == expected


def test_parse_etag_list_handles_star_weak_and_garbage() -> None:
    assert parse_etag_list("*") == ETagList(any=True)
    parsed = parse_etag_list('"a", W/"b",  gar bage, "c,d"')
    assert parsed.tags == (EntityTag("a"), EntityTag("b", True), EntityTag("c,d"))
    assert not parsed.any
    assert parse_etag_list(None) == ETagList()
    assert parse_etag_list(b"") == ETagList()


def test_strong_and_weak_comparison_table() -> None:
    # RFC 9110 §8.8.3.2 example table
    assert not strong_match('W/"1"', 'W/"1"')
    assert weak_match('W/"1"', 'W/"1"')
    assert not strong_match('W/"1"', 'W/"2"')
    assert not weak_match('W/"1"', 'W/"2"')
    assert not strong_match('W/"1"', '"1"')
    assert weak_match('W/"1"', '"1"')
    assert strong_match('"1"', '"1"')
    assert weak_match('"1"', '"1"')
    assert not strong_match(None, '"1"')
    assert not weak_match("garbage\x00", '"1"')


def test_weaken() -> None:
    assert weaken('"x"') == 'W/"x"'
    assert weaken('W/"x"') == 'W/"x"'
    assert weaken("not an etag ,") == "not an etag ,"


def test_encoding_etag_is_weak_for_compressed_and_unchanged_for_identity() -> None:
    assert encoding_etag('"abc"', "br") == 'W/"abc"'
    assert encoding_etag('"abc"', "identity") == '"abc"'
    assert encoding_etag('W/"abc"', "zstd") == 'W/"abc"'


def test_if_none_match_uses_weak_comparison_and_lists() -> None:
    assert etag_matches_any('"x", "abc"', '"abc"')
    assert etag_matches_any('W/"abc"', '"abc"')
    assert etag_matches_any('"abc"', 'W/"abc"')
    assert not etag_matches_any('"abd"', '"abc"')
    assert etag_matches_any("*", '"abc"')
    assert etag_matches_any("*", None)
    assert not etag_matches_any('"abc"', None)
    assert not etag_matches_any(None, '"abc"')


def test_either_validator_of_an_encoded_variant_matches() -> None:
    identity = make_etag(b"body")
    compressed = encoding_etag(identity, "gzip")
    assert etag_matches_any(identity, compressed)
    assert etag_matches_any(compressed, identity)
    suffixed = identity[:-1] + '-br"'
    assert etag_matches_any(suffixed, identity)
    assert etag_matches_any(identity, suffixed)
    assert not etag_matches_any('"other-br"', identity)


def test_base_opaque() -> None:
    assert base_opaque("abc-gzip") == "abc"
    assert base_opaque("-br") == "-br"
    assert base_opaque("abc") == "abc"


def test_if_match_uses_strong_comparison() -> None:
    assert etag_matches_strong('"a", "b"', '"b"')
    assert not etag_matches_strong('W/"b"', '"b"')
    assert not etag_matches_strong('"b"', 'W/"b"')
    assert etag_matches_strong("*", None)
    assert not etag_matches_strong('"b"', None)


def test_etag_bytes_is_make_etag_as_header_bytes() -> None:
    for body in (b"", b"x", b"{}" * 512, bytes(range(256)) * 40):
        assert etag_bytes(body) == make_etag(body).encode("latin-1")

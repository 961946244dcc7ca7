"""RFC 9842 header rules: Available-Dictionary, Use-As-Dictionary, the cross-origin test."""

from __future__ import annotations

import base64
import hashlib

import pytest

from perf_middleware.http.dictionary import (
    accepts_coding,
    dictionary_allowed,
    dictionary_request,
    parse_available_dictionary,
    use_as_dictionary,
)

DIGEST = hashlib.sha256(b"v1").digest()
VALUE = b":" + base64.b64encode(DIGEST) + b":"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (VALUE, DIGEST),
        (b"  " + VALUE + b"\t", DIGEST),  # optional whitespace around a field value
        (None, None),
        (b"", None),
        (base64.b64encode(DIGEST), None),  # not a Byte Sequence (no colons)
        (b":" + base64.b64encode(DIGEST[:20]) + b":", None),  # not a SHA-256
        (b":not base64!:", None),
        (b":" + base64.b64encode(DIGEST).rstrip(b"=") + b"x:", None),
        (b":", None),
    ],
)
def test_available_dictionary_is_a_byte_sequence_of_32_bytes(
    raw: bytes | None, expected: bytes | None
) -> None:
    assert parse_available_dictionary(raw) == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (b"gzip, br, zstd, dcb, dcz", True),
        (b"DCZ;q=0.5", True),
        (b"dcz;q=0", False),
        (b"*", False),  # a wildcard never asks for a dictionary coding
        (b"br, zstd", False),
        (None, False),
    ],
)
def test_dcz_must_be_named(accept: bytes | None, expected: bool) -> None:
    assert accepts_coding(accept, "dcz") is expected


def test_use_as_dictionary_is_a_structured_dictionary() -> None:
    assert use_as_dictionary("/static/js/app.*.js") == 'match="/static/js/app.*.js"'
    assert (
        use_as_dictionary("/s/a\\(b\\).*.js", ("script",))
        == 'match="/s/a\\\\(b\\\\).*.js", match-dest=("script")'
    )
    assert use_as_dictionary('/a"b', ("style", "script")) == (
        'match="/a\\"b", match-dest=("style" "script")'
    )
    with pytest.raises(ValueError, match=r"not printable ASCII.*HINT: percent-encode"):
        use_as_dictionary("/düsseldorf/*")


@pytest.mark.parametrize(
    ("site", "mode", "origin", "allow", "expected"),
    [
        (None, None, None, None, True),  # not a browser fetch
        (b"same-origin", b"no-cors", None, None, True),
        (b"cross-site", None, None, None, True),
        (b"none", b"navigate", None, None, True),
        (b"same-site", b"same-origin", None, None, True),
        (b"cross-site", b"no-cors", b"https://a.example", None, False),
        (b"same-site", b"no-cors", None, "*", False),
        (b"cross-site", b"cors", b"https://a.example", None, False),
        (b"cross-site", b"cors", None, "*", False),
        (b"cross-site", b"cors", b"https://a.example", "*", True),
        (b"cross-site", b"cors", b"https://a.example", "https://a.example", True),
        (b"cross-site", b"cors", b"https://b.example", "https://a.example", False),
        (b"cross-site", b"websocket", b"https://a.example", "*", False),
    ],
)
def test_cross_origin_requests_need_a_readable_response(
    site: bytes | None, mode: bytes | None, origin: bytes | None, allow: str | None, expected: bool
) -> None:
    """RFC 9842 section 8.4, step by step."""
    assert (
        dictionary_allowed(
            sec_fetch_site=site, sec_fetch_mode=mode, origin=origin, allow_origin=allow
        )
        is expected
    )


SHA = bytes(range(32))
OFFER = b":" + base64.b64encode(SHA) + b":"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"available-dictionary", OFFER), (b"accept-encoding", b"br, zstd, dcz")], True),
        ([(b"available-dictionary", OFFER), (b"accept-encoding", b"br, zstd")], False),
        ([(b"available-dictionary", OFFER), (b"accept-encoding", b"*")], False),
        ([(b"available-dictionary", OFFER), (b"accept-encoding", b"dcz;q=0")], False),
        ([(b"accept-encoding", b"dcz")], False),
        ([(b"available-dictionary", b":" + base64.b64encode(b"x" * 32) + b":"),
          (b"accept-encoding", b"dcz")], False),
        ([(b"available-dictionary", OFFER), (b"available-dictionary", OFFER),
          (b"accept-encoding", b"dcz")], False),  # two lines: not one Byte Sequence
        ([(b"available-dictionary", OFFER), (b"accept-encoding", b"br"),
          (b"accept-encoding", b"dcz")], True),  # lines combined (RFC 9110 section 5.3)
        ([(b"available-dictionary", OFFER), (b"accept-encoding", b"dcz"),
          (b"sec-fetch-site", b"cross-site"), (b"sec-fetch-mode", b"no-cors")], False),
        ([(b"available-dictionary", OFFER), (b"accept-encoding", b"dcz"),
          (b"sec-fetch-site", b"cross-site"), (b"sec-fetch-mode", b"cors"),
          (b"origin", b"https://elsewhere.example")], False),  # no ACAO on a page
        ([(b"available-dictionary", OFFER), (b"accept-encoding", b"dcz"),
          (b"sec-fetch-site", b"same-site"), (b"sec-fetch-mode", b"navigate")], True),
    ],
    ids=["holder", "no-dcz", "wildcard", "refused", "no-offer", "other-dictionary",
         "repeated-offer", "combined-lines", "cross-site-no-cors", "cross-site-cors",
         "navigation"],
)  # fmt: skip
def test_dictionary_request_needs_this_dictionary_dcz_and_the_origin_rule(
    headers: list[tuple[bytes, bytes]], expected: bool
) -> None:
    assert dictionary_request(headers, SHA) is expected
    assert dictionary_request(None, SHA) is False

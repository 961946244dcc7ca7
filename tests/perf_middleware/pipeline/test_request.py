"""The request fields the pipeline reads, one value per field (RFC 9110 §5.3)."""

from __future__ import annotations

from perf_middleware.pipeline.request import request_fields


def test_no_preconditions_gives_only_accept_encoding() -> None:
    scope = {"headers": [(b"accept-encoding", b"gzip"), (b"cookie", b"a=b")]}
    assert request_fields(scope) == (b"gzip", None)
    assert request_fields({}) == (None, None)


def test_repeated_lines_are_joined_first_to_last() -> None:
    scope = {
        "headers": [
            (b"if-none-match", b'"a"'),
            (b"accept-encoding", b"gzip"),
            (b"if-none-match", b'"b"'),
            (b"accept-encoding", b"br"),
        ]
    }
    assert request_fields(scope) == (b"gzip, br", (None, b'"a", "b"', None, None))


def test_the_four_preconditions_in_their_fixed_order() -> None:
    scope = {
        "headers": [
            (b"if-unmodified-since", b"d2"),
            (b"if-modified-since", b"d1"),
            (b"if-none-match", b'"n"'),
            (b"if-match", b'"m"'),
        ]
    }
    assert request_fields(scope) == (None, (b'"m"', b'"n"', b"d1", b"d2"))

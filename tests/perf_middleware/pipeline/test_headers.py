"""The pure header helpers of the pipeline (the cache stage builds on them too)."""

from __future__ import annotations

from perf_middleware.http.headers import media_type
from perf_middleware.pipeline.headers import (
    mark_encoded,
    not_modified_from,
    not_modified_headers,
    scan,
)

HEADERS = [
    (b"content-type", b"Text/HTML; charset=utf-8"),
    (b"ETag", b'"abc"'),
    (b"vary", b"Cookie"),
    (b"Vary", b"Origin"),
    (b"content-length", b"100"),
    (b"cache-control", b"no-cache"),
    (b"set-cookie", b"a=b"),
    (b"expires", b"0"),
]


def test_scan_reads_every_field_once_case_insensitively() -> None:
    found = scan(HEADERS)
    assert found.content_type == b"Text/HTML; charset=utf-8"
    assert found.content_encoding is None
    assert found.cache_control == b"no-cache"
    assert found.etag == b'"abc"'
    assert found.last_modified is None
    assert found.content_length == b"100"
    assert found.vary == b"Cookie, Origin"


def test_media_type() -> None:
    assert media_type(b"Text/HTML; charset=utf-8") == "text/html"
    assert media_type(None) == ""
    assert media_type(b"") == ""


def test_not_modified_from_keeps_rfc_fields_and_weakens_for_a_coding() -> None:
    out = not_modified_from(HEADERS, "br", vary=True)
    assert out == [
        (b"ETag", b'W/"abc"'),
        (b"cache-control", b"no-cache"),
        (b"expires", b"0"),
        (b"vary", b"Cookie, Origin, Accept-Encoding"),
    ]
    plain = not_modified_from(HEADERS, "identity", vary=False)
    assert (b"ETag", b'"abc"') in plain
    assert (b"vary", b"Cookie, Origin") in plain


def test_not_modified_headers_filters_only() -> None:
    names = {k.lower() for k, _ in not_modified_headers(HEADERS)}
    assert names == {b"etag", b"vary", b"cache-control", b"expires"}


def test_mark_encoded_sets_coding_drops_length_and_merges_vary_once() -> None:
    headers = list(HEADERS)
    mark_encoded(headers, "zstd")
    names = [k.lower() for k, _ in headers]
    assert b"content-length" not in names
    assert names.count(b"vary") == 1
    assert dict((k.lower(), v) for k, v in headers)[b"vary"] == b"Cookie, Origin, Accept-Encoding"
    assert dict((k.lower(), v) for k, v in headers)[b"etag"] == b'W/"abc"'
    assert (b"content-encoding", b"zstd") in headers


def test_mark_encoded_identity_only_adds_vary() -> None:
    headers = [(b"content-length", b"5"), (b"etag", b'"x"')]
    mark_encoded(headers, "identity")
    assert headers == [(b"content-length", b"5"), (b"etag", b'"x"'), (b"vary", b"Accept-Encoding")]

"""The site dictionary attacked the way the outside world will: a real uvicorn, requests
written byte for byte (repeated and malformed lines httpx would normalise away), responses
whose headers repeat or come in odd casing, streamed pages, and a response cache in front."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.backends.redis import RedisBackend
from perf_middleware.compression.codecs import CompressionConfig
from perf_middleware.compression.site_dictionary import SiteDictionary, SiteDictionaryConfig
from perf_middleware.middleware import PerformanceMiddleware
from tests.perf_middleware.cache.raw_http import Raw, raw_request
from tests.support.servers import UvicornServer
from tests.support.site_pages import page_body, render

AE = "gzip, deflate, br, zstd, dcz"
PAGE = render("Page 3", page_body(3)).encode()
FORM_HEAD = render("Form", "<form method='post'>").encode()
SECRET_TAIL = b' name="csrfmiddlewaretoken" value="t0ken-abc123"></form>' + PAGE[-4000:]


#: path -> (raw response header lines, body chunks); more than one chunk is a stream
ROUTES: dict[str, tuple[list[tuple[bytes, bytes]], list[bytes]]] = {
    "/page": ([(b"content-type", b"text/html; charset=utf-8")], [PAGE]),
    "/cached-page": (
        [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"public, max-age=60")],
        [PAGE],
    ),
    "/two-cookies": (
        [
            (b"content-type", b"text/html"),
            (b"set-cookie", b"a=1; Path=/"),
            (b"set-cookie", b"session=s3cr3t; HttpOnly"),
        ],
        [PAGE],
    ),
    "/vary-upper": (
        [(b"content-type", b"text/html"), (b"vary", b"ACCEPT-LANGUAGE, COOKIE")],
        [PAGE],
    ),
    "/vary-lines": (
        [(b"content-type", b"text/html"), (b"vary", b"Accept-Language"), (b"vary", b"cOoKiE")],
        [PAGE],
    ),
    "/upper-type": ([(b"content-type", b"Text/HTML; Charset=UTF-8")], [PAGE]),
    "/json": ([(b"content-type", b"application/json")], [b'{"html": "' + PAGE[:6000] + b'"}']),
    "/gzipped": (
        [(b"content-type", b"text/html"), (b"content-encoding", b"gzip")],
        [gzip.compress(PAGE)],
    ),
    "/no-transform": (
        [(b"content-type", b"text/html"), (b"cache-control", b"public, no-transform")],
        [PAGE],
    ),
    # a CSRF field written with single quotes / as a minifier writes it (no quotes)
    "/form-single-quotes": (
        [(b"content-type", b"text/html")],
        [render("Form", "<form><input type='hidden' name='_token' value='t0k'></form>").encode()],
    ),
    "/form-minified": (
        [(b"content-type", b"text/html")],
        [
            render(
                "Form", "<form><input type=hidden name=csrfmiddlewaretoken value=t0k></form>"
            ).encode()
        ],
    ),
    "/head-empty": (
        [(b"content-type", b"text/html"), (b"content-length", b"%d" % len(PAGE))],
        [PAGE],
    ),
    "/stream": ([(b"content-type", b"text/html")], [PAGE[:5000], PAGE[5000:]]),
    # a CSRF field whose marker is cut in two by the chunk boundary
    "/stream-secret": (
        [(b"content-type", b"text/html"), (b"cache-control", b"public, max-age=60")],
        [FORM_HEAD + b'<input type="hid', b'den"' + SECRET_TAIL],
    ),
}


async def origin(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    headers, chunks = ROUTES.get(scope["path"], ([(b"content-type", b"text/plain")], [b"none"]))
    status = 200 if scope["path"] in ROUTES else 404
    if scope["path"] == "/head-empty" and scope["method"] == "HEAD":
        chunks = [b""]  # an app that sends no body on HEAD (the length still says it)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    for n, chunk in enumerate(chunks):
        more = n < len(chunks) - 1
        await send({"type": "http.response.body", "body": chunk, "more_body": more})


@pytest.fixture(scope="module")
def dictionary_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("attacks") / "site.dict"
    out.write_bytes(
        render("Page 1", page_body(1)).encode() + render("Page 2", page_body(2)).encode()
    )
    return out


@pytest.fixture(scope="module")
def site(dictionary_file: Path) -> SiteDictionary:
    return SiteDictionary.load(SiteDictionaryConfig(path=dictionary_file))


def make(dictionary_file: Path, **options: Any) -> PerformanceMiddleware:
    config = CompressionConfig(site_dictionary=SiteDictionaryConfig(path=dictionary_file))
    return PerformanceMiddleware(origin, compression=config, **options)


@pytest.fixture(scope="module")
def server(dictionary_file: Path) -> Iterator[UvicornServer]:
    with UvicornServer(make(dictionary_file)) as running:
        yield running


def offer(site: SiteDictionary) -> str:
    return ":" + base64.b64encode(site.sha256).decode() + ":"


def fetch(server: UvicornServer, path: str, *lines: tuple[str, str], method: str = "GET") -> Raw:
    return raw_request(server.port, path, [("Host", "t.test"), *lines], method=method)


def holder(site: SiteDictionary, accept_encoding: str = AE) -> tuple[tuple[str, str], ...]:
    return (("Accept-Encoding", accept_encoding), ("Available-Dictionary", offer(site)))


def vary(r: Raw) -> list[str]:
    return [v.strip().lower() for v in r.header("vary").split(",") if v.strip()]


def test_a_holder_gets_dcz_that_decodes_to_the_page(
    server: UvicornServer, site: SiteDictionary
) -> None:
    r = fetch(server, "/page", *holder(site))
    assert (r.status, r.header("content-encoding")) == (200, "dcz")
    assert site.decode(r.body) == PAGE


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(lambda s: [("Available-Dictionary", offer(s))] * 2, id="same-line-twice"),
        pytest.param(
            lambda s: [
                ("Available-Dictionary", ":" + base64.b64encode(b"x" * 32).decode() + ":"),
                ("Available-Dictionary", offer(s)),
            ],
            id="two-lines-ours-last",
        ),
        pytest.param(
            lambda s: [
                ("Available-Dictionary", offer(s)),
                ("Available-Dictionary", ":" + base64.b64encode(b"x" * 32).decode() + ":"),
            ],
            id="two-lines-ours-first",
        ),
        pytest.param(lambda s: [("Available-Dictionary", f"{offer(s)}, {offer(s)}")], id="list"),
        pytest.param(
            lambda s: [
                ("Available-Dictionary", ":" + base64.b64encode(s.sha256[:31]).decode() + ":")
            ],
            id="31-bytes",
        ),
        pytest.param(
            lambda s: [
                ("Available-Dictionary", ":" + base64.b64encode(s.sha256 + b"\0").decode() + ":")
            ],
            id="33-bytes",
        ),
        pytest.param(lambda s: [("Available-Dictionary", offer(s)[:-1] + "*:")], id="not-base64"),
        pytest.param(lambda s: [("Available-Dictionary", offer(s).strip(":"))], id="no-colons"),
        pytest.param(lambda s: [("Available-Dictionary", s.sha256.hex())], id="hex"),
        pytest.param(lambda s: [("Available-Dictionary", ":" + "A" * 7000 + ":")], id="huge"),
    ],
)
def test_repeated_or_malformed_available_dictionary_gets_plain_zstd_never_an_error(
    server: UvicornServer, site: SiteDictionary, lines: Any
) -> None:
    r = fetch(server, "/page", ("Accept-Encoding", AE), *lines(site))
    assert r.status == 200
    assert r.header("content-encoding") == "zstd"
    assert vary(r) == ["accept-encoding", "available-dictionary"]


@pytest.mark.parametrize(
    ("accept_encoding", "expected"),
    [
        ("gzip, dcz;q=0", "gzip"),
        ("gzip, dcz;Q=0.000", "gzip"),
        ("*", "zstd"),
        ("gzip, *", "zstd"),  # the wildcard admits zstd, never dcz
        ("identity", None),
        ("DCZ, GZIP", "dcz"),  # codings are case-insensitive (RFC 9110 section 8.4.1)
    ],
)
def test_accept_encoding_decides_whether_dcz_is_named(
    server: UvicornServer, site: SiteDictionary, accept_encoding: str, expected: str | None
) -> None:
    r = fetch(server, "/page", *holder(site, accept_encoding))
    assert r.status == 200
    assert (r.header("content-encoding") or None) == expected


def test_dcz_on_two_accept_encoding_lines_is_one_list(
    server: UvicornServer, site: SiteDictionary
) -> None:
    r = fetch(
        server,
        "/page",
        ("Accept-Encoding", "gzip"),
        ("Accept-Encoding", "dcz"),
        ("Available-Dictionary", offer(site)),
    )
    assert r.header("content-encoding") == "dcz"


@pytest.mark.parametrize(
    ("lines", "dcz"),
    [
        ((("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Mode", "cors")), True),
        ((("Sec-Fetch-Site", "none"), ("Sec-Fetch-Mode", "navigate")), True),
        ((("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "navigate")), True),
        ((("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "no-cors")), False),
        ((("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Mode", "no-cors")), False),
        (
            (
                ("Sec-Fetch-Site", "cross-site"),
                ("Sec-Fetch-Mode", "cors"),
                ("Origin", "https://evil.example"),
            ),
            False,
        ),
        # a repeated mode is no single mode: the permissive line does not win
        (
            (
                ("Sec-Fetch-Site", "cross-site"),
                ("Sec-Fetch-Mode", "no-cors"),
                ("Sec-Fetch-Mode", "navigate"),
            ),
            False,
        ),
        (
            (
                ("Sec-Fetch-Site", "cross-site"),
                ("Sec-Fetch-Site", "same-origin"),
                ("Sec-Fetch-Mode", "no-cors"),
            ),
            False,
        ),
    ],
)
def test_the_cross_origin_rule_of_rfc_9842_section_8_4(
    server: UvicornServer, site: SiteDictionary, lines: tuple[tuple[str, str], ...], dcz: bool
) -> None:
    r = fetch(server, "/page", *holder(site), *lines)
    assert (r.header("content-encoding") == "dcz") is dcz


def test_validators_never_cross_between_dcz_and_other_codings_wrongly(
    server: UvicornServer, site: SiteDictionary
) -> None:
    """A dcz answer and a zstd answer carry the same weak validator (the same content); a
    304 only ever comes for a matching validator, and always varies on the dictionary."""
    dcz = fetch(server, "/page", *holder(site))
    plain = fetch(server, "/page", ("Accept-Encoding", "gzip, br, zstd"))
    assert dcz.header("etag") == plain.header("etag")
    assert dcz.header("etag").startswith('W/"')
    for request in (holder(site), (("Accept-Encoding", "zstd"),)):
        r = fetch(server, "/page", *request, ("If-None-Match", dcz.header("etag")))
        assert (r.status, r.body) == (304, b"")
        assert vary(r) == ["accept-encoding", "available-dictionary"]
        stale = fetch(server, "/page", *request, ("If-None-Match", 'W/"other"'))
        assert stale.status == 200
    # a validator of another representation entirely (an identity strong tag of another
    # body) never revalidates
    r = fetch(server, "/page", *holder(site), ("If-None-Match", '"0000"'))
    assert (r.status, r.header("content-encoding")) == (200, "dcz")


def test_head_by_a_holder_is_dcz_headers_without_bytes(
    server: UvicornServer, site: SiteDictionary
) -> None:
    get = fetch(server, "/page", *holder(site))
    r = fetch(server, "/page", *holder(site), method="HEAD")
    assert (r.status, r.header("content-encoding"), r.body) == (200, "dcz", b"")
    assert r.header("etag") == get.header("etag")
    assert vary(r) == ["accept-encoding", "available-dictionary"]


def test_head_without_a_body_varies_like_the_get(
    server: UvicornServer, site: SiteDictionary
) -> None:
    """RFC 9110 section 9.3.2: HEAD carries the fields GET would. An app that sends no body
    on HEAD leaves the bytes unseen, so no dcz is announced, but the response still varies
    on the dictionary as the GET does."""
    get = fetch(server, "/head-empty", *holder(site))
    assert get.header("content-encoding") == "dcz"
    r = fetch(server, "/head-empty", *holder(site), method="HEAD")
    assert (r.status, r.body) == (200, b"")
    assert vary(r) == vary(get) == ["accept-encoding", "available-dictionary"]


def test_a_range_request_gets_the_whole_page_never_dictionary_bytes_at_offsets(
    server: UvicornServer, site: SiteDictionary
) -> None:
    """Ranges of a dynamic page are not served (RFC 9110 section 14.2 lets a server ignore
    Range): the holder gets the whole page, which decodes to the exact identity bytes."""
    r = fetch(server, "/page", *holder(site), ("Range", "bytes=0-9"))
    assert (r.status, r.header("content-encoding")) == (200, "dcz")
    assert not r.header("content-range")
    assert site.decode(r.body) == PAGE


@pytest.mark.parametrize(
    "path", ["/two-cookies", "/vary-upper", "/vary-lines"], ids=lambda p: p.strip("/")
)
def test_personal_looking_responses_are_never_dcz(
    server: UvicornServer, site: SiteDictionary, path: str
) -> None:
    r = fetch(server, path, *holder(site))
    assert r.status == 200
    assert r.header("content-encoding") == "zstd"
    assert "available-dictionary" not in vary(r)


def test_a_content_type_in_odd_casing_is_still_html(
    server: UvicornServer, site: SiteDictionary
) -> None:
    r = fetch(server, "/upper-type", *holder(site))
    assert r.header("content-encoding") == "dcz"
    assert site.decode(r.body) == PAGE


@pytest.mark.parametrize(
    ("path", "coding"),
    [("/json", "zstd"), ("/gzipped", "gzip"), ("/no-transform", "")],
    ids=["json", "already-encoded", "no-transform"],
)
def test_not_html_already_encoded_or_no_transform_is_never_dcz(
    server: UvicornServer, site: SiteDictionary, path: str, coding: str
) -> None:
    r = fetch(server, path, *holder(site))
    assert r.status == 200
    assert r.header("content-encoding") == coding
    assert "available-dictionary" not in vary(r)
    if path == "/gzipped":
        assert gzip.decompress(r.body) == PAGE


@pytest.mark.parametrize("path", ["/form-single-quotes", "/form-minified"])
def test_a_csrf_field_in_any_attribute_quoting_keeps_the_page_from_dcz(
    server: UvicornServer, site: SiteDictionary, path: str
) -> None:
    r = fetch(server, path, *holder(site))
    assert r.status == 200
    assert r.header("content-encoding") == "zstd"


def test_a_streamed_page_is_compressed_per_chunk_without_the_dictionary(
    server: UvicornServer, site: SiteDictionary
) -> None:
    r = fetch(server, "/stream", *holder(site))
    assert r.header("content-encoding") == "zstd"
    assert "available-dictionary" not in vary(r)


def test_a_csrf_marker_split_across_stream_chunks_keeps_the_page_from_dcz(
    server: UvicornServer, site: SiteDictionary
) -> None:
    r = fetch(server, "/stream-secret", *holder(site))
    assert r.header("content-encoding") != "dcz"


@pytest.fixture(params=["memory", "redis"])
def cached_server(request: pytest.FixtureRequest, dictionary_file: Path) -> Iterator[UvicornServer]:
    if request.param == "memory":
        backend: Any = MemoryBackend()
    else:
        backend = RedisBackend(request.getfixturevalue("redis_url"))  # flushed per test
    with UvicornServer(make(dictionary_file, cache=backend)) as running:
        yield running


def test_a_cached_dcz_answer_is_never_served_to_a_client_without_the_dictionary(
    cached_server: UvicornServer, site: SiteDictionary
) -> None:
    first = fetch(cached_server, "/cached-page", *holder(site))  # the holder fills the cache
    assert first.header("content-encoding") == "dcz"
    for request in (
        (("Accept-Encoding", "gzip, br, zstd"),),
        (("Accept-Encoding", AE),),  # dcz named, no dictionary
        (("Accept-Encoding", AE), ("Available-Dictionary", ":" + "A" * 43 + "=:")),
        (("Accept-Encoding", "identity"),),
        holder(site, "gzip, br, zstd"),  # the dictionary, dcz not named
    ):
        r = fetch(cached_server, "/cached-page", *request)
        assert "hit" in r.header("cache-status"), request
        assert r.header("content-encoding") != "dcz", request
        assert vary(r) == ["accept-encoding", "available-dictionary"]
    again = fetch(cached_server, "/cached-page", *holder(site))
    assert "hit" in again.header("cache-status")
    assert again.header("content-encoding") == "dcz"
    assert site.decode(again.body) == PAGE
    # HEAD by a holder on a hit: the dcz headers, no bytes
    head = fetch(cached_server, "/cached-page", *holder(site), method="HEAD")
    assert (head.status, head.header("content-encoding"), head.body) == (200, "dcz", b"")
    assert head.header("content-length") == again.header("content-length")
    # revalidating a cached dcz answer: 304 varying on the dictionary, no body
    r = fetch(cached_server, "/cached-page", *holder(site), ("If-None-Match", again.header("etag")))
    assert (r.status, r.body) == (304, b"")
    assert vary(r) == ["accept-encoding", "available-dictionary"]
    # repeated dictionary lines on a hit name no dictionary, as on a miss
    r = fetch(
        cached_server,
        "/cached-page",
        ("Accept-Encoding", AE),
        ("Available-Dictionary", ":" + base64.b64encode(b"x" * 32).decode() + ":"),
        ("Available-Dictionary", offer(site)),
    )
    assert "hit" in r.header("cache-status")
    assert r.header("content-encoding") != "dcz"


def test_a_cached_stream_with_a_split_csrf_marker_is_never_dcz_from_the_cache(
    cached_server: UvicornServer, site: SiteDictionary
) -> None:
    """The stored copy is the whole page: the marker the stream cut in two is whole again,
    and the hit for a dictionary holder is not dictionary-compressed."""
    fetch(cached_server, "/stream-secret", ("Accept-Encoding", "zstd"))
    for _ in range(2):
        r = fetch(cached_server, "/stream-secret", *holder(site))
        assert "hit" in r.header("cache-status")
        assert r.header("content-encoding") == "zstd"


def test_the_dictionary_url_answers_its_exact_path_only(
    server: UvicornServer, site: SiteDictionary
) -> None:
    url = site.url
    ok = fetch(server, url)
    assert (ok.status, ok.body) == (200, site.data)
    assert ok.header("use-as-dictionary")
    # a percent-encoded letter names the same resource
    encoded = url.replace("/dictionary/", "/%64ictionary/")
    assert fetch(server, encoded).body == site.data
    for other in (
        url.replace("/dictionary/", "/dictionary/../dictionary/"),
        url.rsplit("/", 1)[0] + "/" + "0" * 64 + ".dict",  # another (old) version
        url + "x",
        url + "/",
        url[:-5],
    ):
        r = fetch(server, other)
        assert r.status == 404, other
        assert not r.header("use-as-dictionary"), other
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        r = fetch(server, url, ("Content-Length", "0"), method=method)
        assert (r.status, r.header("allow")) == (405, "GET, HEAD"), method
    head = fetch(server, url, method="HEAD")
    assert (head.status, head.body) == (200, b"")
    assert head.header("content-length") == str(len(site.data))
    r = fetch(server, url, ("If-None-Match", ok.header("etag")))
    assert (r.status, r.body) == (304, b"")
    assert r.header("use-as-dictionary")
    r = fetch(server, url, ("If-None-Match", '"' + "0" * 64 + '"'))
    assert r.status == 200


def test_the_encoded_body_memo_keeps_dcz_and_zstd_bytes_apart(
    server: UvicornServer, site: SiteDictionary
) -> None:
    """The same page (one ETag digest) asked for in turn by holders and others: once the
    memo holds both encodings, each client still gets the bytes of its own coding."""
    for _ in range(3):
        dcz = fetch(server, "/page", *holder(site))
        plain = fetch(
            server, "/page", ("Accept-Encoding", "zstd"), ("Available-Dictionary", offer(site))
        )
        assert dcz.header("content-encoding") == "dcz"
        assert site.decode(dcz.body) == PAGE
        assert plain.header("content-encoding") == "zstd"
        assert zstandard.ZstdDecompressor().decompress(plain.body) == PAGE

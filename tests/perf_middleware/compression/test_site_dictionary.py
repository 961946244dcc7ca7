"""The site dictionary's rules and encoding (``compression.site_dictionary``) and its URL
(``compression.dictionary_resource``), without a server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import brotli
import pytest
import zstandard

from perf_middleware.compression.codecs import Codecs, CompressionConfig
from perf_middleware.compression.dictionary_resource import DictionaryResource
from perf_middleware.compression.site_dictionary import (
    SiteDictionary,
    SiteDictionaryConfig,
    carries_secret,
    html_candidate,
    personal_headers,
)
from perf_middleware.pipeline.headers import mark_encoded, not_modified_from
from tests.perf_middleware.asgi_driver import call
from tests.support.site_pages import page_body, render

PAGE = render("Page 7", page_body(7)).encode()


@pytest.fixture
def dictionary_path(tmp_path: Path) -> Path:
    path = tmp_path / "site.dict"
    path.write_bytes(b"".join(render(f"P{n}", page_body(n)).encode() for n in range(1, 5)))
    return path


@pytest.fixture
def site(dictionary_path: Path) -> SiteDictionary:
    return SiteDictionary.load(SiteDictionaryConfig(path=dictionary_path))


def test_encode_writes_the_rfc_9842_header_and_a_frame_the_dictionary_decodes(
    site: SiteDictionary,
) -> None:
    body = site.encode(PAGE)
    assert body[:8] == bytes([0x5E, 0x2A, 0x4D, 0x18, 0x20, 0, 0, 0])
    assert body[8:40] == hashlib.sha256(site.data).digest()
    raw = zstandard.ZstdCompressionDict(site.data, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    assert zstandard.ZstdDecompressor(dict_data=raw).decompress(body[40:]) == PAGE
    assert site.decode(body) == PAGE
    assert len(body) * 2 < len(zstandard.ZstdCompressor(level=3).compress(PAGE))


def test_decode_refuses_a_body_made_with_another_dictionary(site: SiteDictionary) -> None:
    with pytest.raises(ValueError, match="names another one"):
        site.decode(b"\x00" * 40 + b"frame")


def test_the_url_and_link_name_the_dictionarys_hash(site: SiteDictionary) -> None:
    digest = hashlib.sha256(site.data).hexdigest()
    assert site.url == f"/_perf/dictionary/{digest}.dict"
    assert site.link_tag() == f'<link rel="compression-dictionary" href="{site.url}">'
    assert site.use_as == b'match="/*", match-dest=("document")'


@pytest.mark.parametrize(
    ("set_cookie", "cache_control", "vary", "expected"),
    [
        (None, None, None, False),
        (None, b"no-cache", b"Accept-Language", False),
        (b"session=1", None, None, True),
        (None, b"private, max-age=0", None, True),
        (None, b"no-store", None, True),
        (None, None, b"Accept-Language, Cookie", True),
        (None, None, b"authorization", True),
        (None, None, b"*", True),
    ],
    ids=["public", "no-cache", "set-cookie", "private", "no-store", "vary-cookie",
         "vary-authorization", "vary-star"],
)  # fmt: skip
def test_personal_headers_are_the_signals_frameworks_send_with_per_user_pages(
    set_cookie: bytes | None, cache_control: bytes | None, vary: bytes | None, expected: bool
) -> None:
    assert personal_headers(set_cookie, cache_control, vary) is expected


def test_html_candidate_is_a_page_whose_headers_do_not_look_personal(
    dictionary_path: Path,
) -> None:
    config = SiteDictionaryConfig(path=dictionary_path)
    assert html_candidate("text/html", config)
    assert not html_candidate("application/json", config)
    assert not html_candidate("text/html", config, set_cookie=b"a=1")
    assert not html_candidate("text/html", config, cache_control=b"private")
    assert not html_candidate("text/html", config, vary=b"Cookie")
    allowed = SiteDictionaryConfig(path=dictionary_path, cookies=True)
    assert html_candidate("text/html", allowed, set_cookie=b"a=1", vary=b"Cookie")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (PAGE, False),
        (PAGE + b'<input type="hidden" name="csrfmiddlewaretoken" value="x">', True),
        (b'<input type="hidden" name="authenticity_token" value="x" autocomplete="off" />', True),
        (b'<meta name="csrf-token" content="x" />', True),
        (b'<input name="__RequestVerificationToken" type="hidden" value="x" />', True),
        (b'<form action="/search"><input type="search" name="q"></form>', False),
        # hand-written templates quote with ', minifiers drop quotes (HTML allows both)
        (b"<input type='hidden' name='_token' value='x'>", True),
        (b"<input type=hidden name=csrfmiddlewaretoken value=x>", True),
        (b"<meta name=csrf-token content=x>", True),
        (b"<meta name='csrf-token' content='x'>", True),
        (b'<div class="hidden" aria-hidden="true" style="overflow:hidden">', False),
    ],
    ids=[
        "page",
        "django",
        "rails-form",
        "rails-laravel-meta",
        "aspnet",
        "search-form",
        "single-quotes",
        "minified",
        "minified-meta",
        "single-quoted-meta",
        "hidden-elsewhere",
    ],
)
def test_carries_secret_finds_the_usual_csrf_names(
    dictionary_path: Path, body: bytes, expected: bool
) -> None:
    assert carries_secret(body, SiteDictionaryConfig(path=dictionary_path)) is expected
    assert not carries_secret(body, SiteDictionaryConfig(path=dictionary_path, secret_markers=()))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url_prefix": "dict"}, "must start with '/'"),
        ({"url_prefix": "/dict/"}, "must start with '/'"),
        ({"level": 0}, "out of range"),
        ({"max_age": -1}, "negative"),
        ({"secret_markers": (b"",)}, "non-empty bytes"),
        ({"match": "/caf\u00e9/*"}, "not printable ASCII"),
    ],
)
def test_config_errors_name_the_option_with_a_hint(
    dictionary_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        SiteDictionaryConfig(path=dictionary_path, **options)  # type: ignore[arg-type]
    assert "HINT" in str(info.value)


def test_a_missing_or_tiny_dictionary_file_is_a_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot be read.*HINT: write one"):
        SiteDictionary.load(SiteDictionaryConfig(path=tmp_path / "absent.dict"))
    (tmp_path / "tiny.dict").write_bytes(b"<html>")
    with pytest.raises(ValueError, match=r"holds 6 bytes\. HINT"):
        SiteDictionary.load(SiteDictionaryConfig(path=tmp_path / "tiny.dict"))
    with pytest.raises(TypeError, match=r"must be a str or Path, got NoneType\. HINT"):
        SiteDictionaryConfig(path=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="SiteDictionaryConfig or None"):
        CompressionConfig(site_dictionary="site.dict")  # type: ignore[arg-type]


def test_codecs_compress_dcz_with_the_dictionary(dictionary_path: Path) -> None:
    codecs = Codecs(CompressionConfig(site_dictionary=SiteDictionaryConfig(path=dictionary_path)))
    assert codecs.dictionary is not None
    assert codecs.dictionary.decode(codecs.compress(PAGE, "dcz")) == PAGE
    assert Codecs(CompressionConfig()).dictionary is None


def test_vary_names_available_dictionary_for_responses_it_may_select() -> None:
    headers = [(b"etag", b'"abc"'), (b"vary", b"Cookie"), (b"content-length", b"9")]
    mark_encoded(headers, "dcz", dictionary=True)
    assert headers == [
        (b"etag", b'W/"abc"'),
        (b"vary", b"Cookie, Accept-Encoding, Available-Dictionary"),
        (b"content-encoding", b"dcz"),
    ]
    plain: list[tuple[bytes, bytes]] = [(b"etag", b'"abc"')]
    mark_encoded(plain, None, dictionary=True)
    assert plain == [(b"etag", b'"abc"'), (b"vary", b"Accept-Encoding, Available-Dictionary")]
    not_modified = not_modified_from([(b"etag", b'"abc"')], "dcz", vary=True, dictionary=True)
    assert not_modified == [
        (b"etag", b'W/"abc"'),
        (b"vary", b"Accept-Encoding, Available-Dictionary"),
    ]


async def test_the_resource_picks_the_smallest_coding_and_answers_304(site: SiteDictionary) -> None:
    resource = DictionaryResource(site)
    assert resource.matches(site.url)
    assert not resource.matches(site.url + "x")
    weak = 'W/"' + site.sha256.hex() + '"'
    result = await call(resource, site.url, headers=[("accept-encoding", "br")])
    assert result.status == 200
    assert result.header("content-encoding") == "br"
    assert result.header("etag") == weak
    assert brotli.decompress(result.body) == site.data
    head = await call(resource, site.url, method="HEAD", headers=[("accept-encoding", "zstd")])
    assert (head.status, head.body, head.header("content-encoding")) == (200, b"", "zstd")
    again = await call(resource, site.url, headers=[("if-none-match", weak)])
    assert again.status == 304
    assert {k for k, _ in again.raw_headers} == {
        b"etag",
        b"cache-control",
        b"vary",
        b"use-as-dictionary",
    }
    refused = await call(resource, site.url, method="DELETE")
    assert (refused.status, refused.header("allow")) == (405, "GET, HEAD")

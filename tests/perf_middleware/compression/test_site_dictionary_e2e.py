"""Site-dictionary compression of HTML end to end: a real uvicorn serving the site of
``tests/support/site_pages.py``, its dictionary written by the training CLI from pages
fetched from the running app."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import brotli
import httpx
import pytest
import zstandard

from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.compression.site_dictionary import SiteDictionary, SiteDictionaryConfig
from perf_middleware.compression.training import main as train
from tests.support.servers import UvicornServer
from tests.support.site_pages import make_app

TRAINING_PAGES = range(1, 21)
AE = "gzip, deflate, br, zstd, dcz"


@pytest.fixture(scope="module")
def dictionary_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dictionary trained from twenty pages of the running site (no dictionary yet)."""
    out = tmp_path_factory.mktemp("dictionary") / "site.dict"
    with UvicornServer(make_app()) as server:
        urls = [a for n in TRAINING_PAGES for a in ("--url", f"{server.url}/page/{n}")]
        assert train([*urls, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def site(dictionary_file: Path) -> SiteDictionary:
    return SiteDictionary.load(SiteDictionaryConfig(path=dictionary_file))


@pytest.fixture(scope="module")
def server(dictionary_file: Path) -> Iterator[UvicornServer]:
    with UvicornServer(make_app(str(dictionary_file))) as running:
        yield running


def holder(site: SiteDictionary, accept_encoding: str = AE) -> dict[str, str]:
    """The request headers of a browser holding ``site``'s dictionary."""
    offered = base64.b64encode(site.sha256).decode()
    return {"accept-encoding": accept_encoding, "available-dictionary": f":{offered}:"}


class Fetched:
    """A response's status, headers and body bytes as they came on the wire (httpx would
    decode the codings it knows)."""

    def __init__(self, response: httpx.Response, content: bytes) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.content = content


def get(server: UvicornServer, path: str, headers: dict[str, str]) -> Fetched:
    with (
        httpx.Client(base_url=server.url, timeout=10) as client,
        client.stream("GET", path, headers=headers) as response,
    ):
        return Fetched(response, b"".join(response.iter_raw()))


def vary(response: Fetched) -> list[str]:
    return [v.strip().lower() for v in response.headers.get("vary", "").split(",")]


def test_the_training_cli_wrote_a_dictionary_of_the_sites_pages(dictionary_file: Path) -> None:
    data = dictionary_file.read_bytes()
    assert 1024 < len(data) <= 110 * 1024
    assert b"<nav><ul class='nav'>" in data  # the shared layout, from the fetched pages


def test_a_dictionary_holder_gets_dcz_that_decodes_to_the_exact_page(
    server: UvicornServer, site: SiteDictionary, tmp_path: Path
) -> None:
    identity = get(server, "/page/42", {"accept-encoding": "identity"})
    plain = get(server, "/page/42", {"accept-encoding": "zstd"})
    response = get(server, "/page/42", holder(site))
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "dcz"
    assert vary(response) == ["accept-encoding", "available-dictionary"]
    assert response.headers["etag"] == "W/" + identity.headers["etag"]
    body = response.content
    assert int(response.headers["content-length"]) == len(body)
    assert body[8:40] == hashlib.sha256(site.data).digest()
    assert site.decode(body) == identity.content
    assert len(body) * 2 < len(plain.content)  # the layout travels in the dictionary
    assert shutil.which("zstd"), "the zstd CLI is missing: `make system-deps` installs it"
    (tmp_path / "frame.zst").write_bytes(body[40:])
    decoded = subprocess.run(
        ["zstd", "-d", "-c", "-D", str(server_dictionary(site, tmp_path)), "--no-check",
         str(tmp_path / "frame.zst")],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    assert decoded == identity.content


def server_dictionary(site: SiteDictionary, tmp_path: Path) -> Path:
    path = tmp_path / "site.dict"
    path.write_bytes(site.data)
    return path


@pytest.mark.parametrize(
    ("headers", "coding"),
    [
        ({"accept-encoding": "gzip, br, zstd, dcz"}, "zstd"),  # no Available-Dictionary
        (
            {
                "accept-encoding": "gzip, br, zstd, dcz",
                "available-dictionary": ":" + base64.b64encode(b"x" * 32).decode() + ":",
            },
            "zstd",
        ),
        ({"accept-encoding": "gzip, br"}, "br"),  # holds it but did not ask for dcz
        ({"accept-encoding": "*"}, "zstd"),  # a wildcard never selects dcz
    ],
    ids=["no-dictionary", "another-dictionary", "no-dcz", "wildcard"],
)
def test_without_the_dictionary_the_page_is_negotiated_as_usual(
    server: UvicornServer, site: SiteDictionary, headers: dict[str, str], coding: str
) -> None:
    if headers.get("accept-encoding") == "gzip, br":
        headers = {**holder(site, "gzip, br")}
    response = get(server, "/page/3", headers)
    assert response.headers["content-encoding"] == coding
    assert vary(response) == ["accept-encoding", "available-dictionary"]


def test_a_cross_site_subresource_request_gets_no_dictionary(
    server: UvicornServer, site: SiteDictionary
) -> None:
    headers = {**holder(site), "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors"}
    assert get(server, "/page/3", headers).headers["content-encoding"] == "zstd"
    navigation = {**holder(site), "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"}
    assert get(server, "/page/3", navigation).headers["content-encoding"] == "dcz"


@pytest.mark.parametrize("path", ["/account", "/profile", "/private"])
def test_pages_whose_headers_look_personal_are_not_dictionary_compressed_by_default(
    server: UvicornServer, site: SiteDictionary, path: str
) -> None:
    response = get(server, path, holder(site))
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "zstd"
    assert "available-dictionary" not in vary(response)  # it never depends on the dictionary


def test_a_page_carrying_a_csrf_token_is_not_dictionary_compressed_by_default(
    server: UvicornServer, site: SiteDictionary
) -> None:
    response = get(server, "/form", holder(site))
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "zstd"
    assert b"csrfmiddlewaretoken" in zstandard.ZstdDecompressor().decompress(response.content)


def test_a_revalidation_by_a_holder_is_a_304_varying_on_the_dictionary(
    server: UvicornServer, site: SiteDictionary
) -> None:
    first = get(server, "/page/5", holder(site))
    again = get(server, "/page/5", {**holder(site), "if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["etag"] == first.headers["etag"]
    assert vary(again) == ["accept-encoding", "available-dictionary"]


def test_the_dictionary_is_served_with_use_as_dictionary_and_long_caching(
    server: UvicornServer, site: SiteDictionary
) -> None:
    assert site.url == f"/_perf/dictionary/{site.sha256.hex()}.dict"
    page = get(server, "/page/1", {"accept-encoding": "identity"})
    assert site.link_tag().encode() in page.content
    response = get(server, site.url, {"accept-encoding": "br, zstd"})
    assert response.status_code == 200
    assert response.headers["use-as-dictionary"] == 'match="/*", match-dest=("document")'
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "br"
    assert brotli.decompress(response.content) == site.data
    identity = get(server, site.url, {"accept-encoding": "identity"})
    assert identity.content == site.data
    assert identity.headers["etag"] == f'"{site.sha256.hex()}"'
    again = get(server, site.url, {"if-none-match": identity.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["use-as-dictionary"] == response.headers["use-as-dictionary"]
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.post(site.url).status_code == 405


def test_a_cached_page_is_dcz_for_holders_and_zstd_for_others(
    dictionary_file: Path, site: SiteDictionary
) -> None:
    app = make_app(str(dictionary_file), cache=MemoryBackend())
    with UvicornServer(app) as server:
        first = get(server, "/page/9", {"accept-encoding": "zstd"})  # miss: stored once
        assert "fwd=uri-miss" in first.headers["cache-status"]
        identity = zstandard.ZstdDecompressor().decompress(first.content)
        for _ in range(2):  # the dcz variant is encoded once, then reused
            hit = get(server, "/page/9", holder(site))
            assert "hit" in hit.headers["cache-status"]
            assert hit.headers["content-encoding"] == "dcz"
            assert vary(hit) == ["accept-encoding", "available-dictionary"]
            assert site.decode(hit.content) == identity
        other = get(server, "/page/9", {"accept-encoding": "br, zstd"})
        assert "hit" in other.headers["cache-status"]
        assert other.headers["content-encoding"] in ("br", "zstd")
        assert vary(other) == ["accept-encoding", "available-dictionary"]
        holder_miss = get(server, "/page/10", holder(site))  # a miss answered as dcz too
        assert holder_miss.headers["content-encoding"] == "dcz"
        assert site.decode(holder_miss.content).startswith(b"<!doctype html>")


def test_head_by_a_holder_announces_dcz_without_a_body(
    server: UvicornServer, site: SiteDictionary
) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        response = client.head("/page/4", headers=holder(site))
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "dcz"
    assert vary(response) == ["accept-encoding", "available-dictionary"]  # type: ignore[arg-type]
    assert response.content == b""

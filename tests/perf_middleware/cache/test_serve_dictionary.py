"""Stored entries answered with the site dictionary (``cache.serve.Answers``), without a
server: which entries and requests get the ``dcz`` variant, and the Vary every variant of
an applicable entry carries."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest
import zstandard

from perf_middleware.cache.entry import CacheEntry
from perf_middleware.cache.serve import Answers
from perf_middleware.compression.site_dictionary import SiteDictionary, SiteDictionaryConfig
from tests.support.site_pages import page_body, render

PAGE = render("Page 7", page_body(7)).encode()


@pytest.fixture
def site(tmp_path: Path) -> SiteDictionary:
    path = tmp_path / "site.dict"
    path.write_bytes(b"".join(render(f"P{n}", page_body(n)).encode() for n in range(1, 5)))
    return SiteDictionary.load(SiteDictionaryConfig(path=path))


def entry(body: bytes = PAGE, content_type: bytes = b"text/html; charset=utf-8") -> CacheEntry:
    headers = ((b"content-type", content_type), (b"etag", b'"e1"'))
    bodies = {"zstd": zstandard.ZstdCompressor(level=3).compress(body), "identity": body}
    return CacheEntry("http://h/p", headers=headers, bodies=bodies, freshness_lifetime=60)


def holder(site: SiteDictionary, digest: bytes | None = None) -> dict[bytes, bytes]:
    offered = base64.b64encode(digest or site.sha256)
    return {b"accept-encoding": b"zstd, dcz", b"available-dictionary": b":" + offered + b":"}


def coding_and_vary(answers: Answers, stored: CacheEntry, headers: dict[bytes, bytes]) -> tuple:
    chosen, _ = answers.answer(headers, stored, 0.0, ("hit",))
    fields = dict(chosen.headers)
    return fields.get(b"content-encoding"), fields.get(b"vary"), chosen


def test_a_holder_gets_dcz_and_everyone_varies_on_the_dictionary(site: SiteDictionary) -> None:
    answers = Answers("test", site)
    stored = entry()
    coding, vary, chosen = coding_and_vary(answers, stored, holder(site))
    assert (coding, vary) == (b"dcz", b"Accept-Encoding, Available-Dictionary")
    assert site.decode(chosen.body) == PAGE
    assert dict(chosen.headers)[b"etag"] == b'W/"e1"'
    again = coding_and_vary(answers, stored, holder(site))[2]
    assert again is chosen  # encoded once per entry and process
    coding, vary, _ = coding_and_vary(answers, stored, {b"accept-encoding": b"zstd"})
    assert (coding, vary) == (b"zstd", b"Accept-Encoding, Available-Dictionary")


@pytest.mark.parametrize(
    "case", ["another-dictionary", "json", "secret", "no-gain", "no-dictionary-configured"]
)
def test_otherwise_the_stored_coding_is_served(site: SiteDictionary, case: str) -> None:
    answers = Answers("test", None if case == "no-dictionary-configured" else site)
    headers = holder(site)
    stored = entry()
    if case == "another-dictionary":
        headers = holder(site, b"x" * 32)
    elif case == "json":
        stored = entry(b'{"items": [' + b"1, " * 500 + b"1]}", b"application/json")
    elif case == "secret":
        stored = entry(PAGE + b'<input type="hidden" name="csrfmiddlewaretoken" value="t">')
    elif case == "no-gain":
        stored = entry(random.Random(5).randbytes(600))  # incompressible: dcz is larger
    coding, _, _ = coding_and_vary(answers, stored, headers)
    assert coding == b"zstd"

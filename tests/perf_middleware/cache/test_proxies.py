"""The response cache behind a REAL nginx configured as ingress controllers configure it.

nginx adds ``X-Forwarded-Host``/``-Proto``/``-Port``/``-For`` to every request. Without a
trusted-proxy setting those are unkeyed fields a client could forge, so nothing is stored
(and one warning says which setting to change); with ``forwarded_allow_ips`` naming the
proxy, the forwarded origin is the key, ``allowed_hosts`` applies to it, and a direct peer
sending the same fields still gets today's refusal. nginx connects from 127.0.0.2
(``proxy_bind``) so the app can tell it from a direct client on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from perf_middleware import CacheConfig, MemoryBackend, PerformanceMiddleware
from tests.support.servers import NginxServer, UvicornServer

PROXY = "127.0.0.2"


def site(calls: list[str]):
    async def app(scope, receive, send):
        headers = dict(scope["headers"])
        # reflects the forwarded host, as apps building absolute URLs do
        seen = headers.get(b"x-forwarded-host", headers.get(b"host", b"")).decode()
        calls.append(f"{scope['path']} {seen}")
        body = f"<a href='https://{seen}/next'>next</a>".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/html"),
                    (b"cache-control", b"public, max-age=60"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


class Stack:
    def __init__(self, workdir: Path, config: CacheConfig) -> None:
        self.calls: list[str] = []
        self.backend = MemoryBackend()
        app = PerformanceMiddleware(site(self.calls), cache=self.backend, cache_config=config)
        self.uvicorn = UvicornServer(app, proxy_headers=False)
        self.nginx = NginxServer(
            workdir / "nginx",
            f"http://127.0.0.1:{self.uvicorn.port}",
            bind=PROXY,
            locations={
                "/": [],
                # TLS ends at a load balancer ahead; the upstream gets its own Host name
                "/tls/": [
                    "proxy_set_header X-Forwarded-Proto https;",
                    "proxy_set_header Host upstream.internal;",
                ],
            },
        )

    def __enter__(self) -> Stack:
        self.uvicorn.start()
        self.nginx.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.nginx.stop()
        self.uvicorn.stop()


@pytest.fixture
def trusted(tmp_path: Path) -> Iterator[Stack]:
    config = CacheConfig(allowed_hosts=("site.test",), forwarded_allow_ips=(PROXY,))
    with Stack(tmp_path, config) as stack:
        yield stack


def get(base: str, path: str, host: str, **headers: str) -> httpx.Response:
    sent = {"host": host, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return httpx.get(base + path, headers=sent, timeout=20)


def test_behind_a_trusted_proxy_the_forwarded_origin_is_the_key(trusted: Stack) -> None:
    first = get(trusted.nginx.url, "/page", "site.test")
    again = get(trusted.nginx.url, "/page", "site.test")
    assert first.status_code == again.status_code == 200
    assert "stored" in first.headers["cache-status"]
    assert "hit" in again.headers["cache-status"]
    assert trusted.calls == ["/page site.test"]
    # the key is the public origin nginx reports, not the Host it sends upstream
    get(trusted.nginx.url, "/tls/page", "site.test")
    hit = get(trusted.nginx.url, "/tls/page", "site.test")
    assert "hit" in hit.headers["cache-status"]
    assert asyncio.run(trusted.backend.entry_info("https://site.test/tls/page"))
    assert not asyncio.run(trusted.backend.entry_info("http://upstream.internal/tls/page"))


def test_the_host_allow_list_applies_to_the_forwarded_host(trusted: Stack) -> None:
    for _ in range(2):
        r = get(trusted.nginx.url, "/page", "evil.test")
        assert r.status_code == 200
        assert "hit" not in r.headers["cache-status"]
    assert trusted.calls == ["/page evil.test", "/page evil.test"]
    assert "site.test" not in get(trusted.nginx.url, "/page", "evil.test").text


def test_a_direct_peer_forging_forwarded_fields_is_not_stored(trusted: Stack) -> None:
    # the same fields from 127.0.0.1, which is not the proxy: a poisoning attempt
    for _ in range(2):
        r = get(trusted.uvicorn.url, "/page", "site.test", x_forwarded_host="evil.test")
        assert "detail=unkeyed-header:x-forwarded-host" in r.headers["cache-status"]
    assert trusted.calls == ["/page evil.test", "/page evil.test"]
    clean = get(trusted.nginx.url, "/page", "site.test")  # the real visitors' page is clean
    assert "evil.test" not in clean.text


def test_an_untrusted_proxy_stores_nothing_and_says_which_setting_to_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # today's default behind ingress-nginx: every response refused, one warning
    with (
        caplog.at_level(logging.WARNING, logger="perf_middleware.cache"),
        Stack(tmp_path, CacheConfig(allowed_hosts=("site.test",))) as stack,
    ):
        for _ in range(3):
            r = get(stack.nginx.url, "/page", "site.test")
            assert "detail=unkeyed-header:x-forwarded-host" in r.headers["cache-status"]
    assert len(stack.calls) == 3
    warnings = [rec for rec in caplog.records if "unkeyed-header" in rec.getMessage()]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "x-forwarded-host" in text
    assert "forwarded_allow_ips" in text
    assert "HINT" in text


def test_the_setting_takes_addresses_networks_star_and_unix() -> None:
    from perf_middleware.cache.proxies import TrustedProxies

    proxies = TrustedProxies(["10.0.0.0/8", "::1", "unix:"])
    assert proxies.trusts(("10.1.2.3", 5000))
    assert proxies.trusts(("::1", 5000))
    assert not proxies.trusts(("192.0.2.1", 5000))
    assert not proxies.trusts(("not-an-ip", 1))
    assert proxies.trusts(None)  # a Unix socket peer has no address
    assert TrustedProxies(["*"]).trusts(("192.0.2.1", 1))
    assert not TrustedProxies(["127.0.0.1"]).trusts(None)
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not an IP address.*HINT"):
        CacheConfig(forwarded_allow_ips=("10.0.0.300",))
    with pytest.raises(TypeError, match="HINT"):
        CacheConfig(forwarded_allow_ips="127.0.0.1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="HINT"):
        CacheConfig(forwarded_allow_ips=(127,))  # type: ignore[arg-type]

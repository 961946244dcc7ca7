"""The example under real servers as a user runs it: hypercorn over HTTP/2 (103 Early
Hints), and uvicorn with two worker processes sharing Redis and the SQLite store."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest

from asset_pipeline.manifest import load_manifest
from tests.support.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def serve(argv: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        argv, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, timeout=30)
    except TimeoutError:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(err.decode(errors="replace")) from None
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def example_env(dist: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PERF_DEMO_DIST": str(dist),
        "DECK_DB": str(tmp_path / "decks.sqlite3"),
        "DECK_QUERY_DELAY": "0.01",
        **extra,
    }


def hypercorn_argv(port: int, *tls: str) -> list[str]:
    argv = [sys.executable, "-m", "hypercorn", "examples.starlette_app.app:app"]
    return [*argv, "--bind", f"127.0.0.1:{port}", *tls]


@pytest.fixture
def hypercorn(example_dist: Path, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    process = serve(hypercorn_argv(port), example_env(example_dist, tmp_path), port)
    try:
        yield port
    finally:
        stop(process)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (browsers speak HTTP/2 over TLS only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.mark.browser
def test_chromium_receives_the_early_hints_and_fetches_each_asset_once(
    example_dist: Path, tmp_path: Path, chromium: Any
) -> None:
    """hypercorn over TLS + HTTP/2, as a browser reaches it: Chromium records the 103
    (DevTools ``Network.responseReceivedEarlyHints``) and, since the hints carry what the
    tags carry, uses every preload instead of fetching a file twice."""
    manifest = load_manifest(example_dist)
    cert, key = self_signed(tmp_path)
    port = free_port()
    tls = ("--certfile", str(cert), "--keyfile", str(key))
    process = serve(hypercorn_argv(port, *tls), example_env(example_dist, tmp_path), port)
    context = chromium.new_context(ignore_https_errors=True, service_workers="block")
    try:
        page = context.new_page()
        devtools = context.new_cdp_session(page)
        devtools.send("Network.enable")
        hints: list[dict[str, Any]] = []
        requested: Counter[str] = Counter()
        devtools.on("Network.responseReceivedEarlyHints", lambda e: hints.append(e))
        devtools.on("Network.requestWillBeSent", lambda e: requested.update([e["request"]["url"]]))
        response = page.goto(f"https://127.0.0.1:{port}/decks/1/1", wait_until="load")
        assert response.status == 200
        assert (
            page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol") == "h2"
        )
        page.wait_for_function("document.fonts.status === 'loaded'")
        assert len(hints) == 1
        link = {k.lower(): v for k, v in hints[0]["headers"].items()}["link"]
        assert f"</static/{manifest['css/app.css'].path}>" in link
        assets = {url: n for url, n in requested.items() if "/static/" in url}
        assert f"https://127.0.0.1:{port}/static/{manifest['css/app.css'].path}" in assets
        assert {url: n for url, n in assets.items() if n != 1} == {}
    finally:
        context.close()
        stop(process)


def h2_get(port: int, path: str) -> list[tuple[int, dict[str, str]]]:
    """``GET path`` over cleartext HTTP/2 (prior knowledge): the status and headers of
    every response head, informational ones included, in order."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    heads: list[tuple[int, dict[str, str]]] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        conn.initiate_connection()
        headers = [
            (":method", "GET"),
            (":path", path),
            (":scheme", "http"),
            (":authority", f"127.0.0.1:{port}"),
            ("accept", "text/html"),
        ]
        conn.send_headers(1, headers, end_stream=True)
        sock.sendall(conn.data_to_send())
        done = False
        while not done:
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(
                    event, h2.events.InformationalResponseReceived | h2.events.ResponseReceived
                ):
                    fields: dict[str, str] = {}
                    for key, value in event.headers:  # repeated fields (link) joined
                        name = key.decode()
                        fields[name] = ", ".join(filter(None, [fields.get(name), value.decode()]))
                    heads.append((int(fields[":status"]), fields))
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                    done = True
            sock.sendall(conn.data_to_send())
    return heads


def test_hypercorn_sends_early_hints_on_a_cache_miss(hypercorn: int, example_dist: Path) -> None:
    """The module-level ``app`` loads under hypercorn; the first visit to a deck page (a
    cache miss) gets a 103 with the layout's stylesheet, font and modules; a cache hit is
    answered at once, without one."""
    manifest = load_manifest(example_dist)
    heads = h2_get(hypercorn, "/decks/1/1")
    assert [status for status, _ in heads] == [103, 200]
    hints = heads[0][1]["link"]
    for name in ("css/app.css", "fonts/deck-serif.ttf", "js/app.js", "js/pager.js"):
        assert f"</static/{manifest[name].path}>" in hints, name
    assert "rel=modulepreload" in hints
    again = h2_get(hypercorn, "/decks/1/1")
    assert [status for status, _ in again] == [200]
    assert "hit" in again[0][1]["cache-status"]
    # an edit drops the page from the cache: the next visit is a miss, with a 103 again
    with httpx.Client(base_url=f"http://127.0.0.1:{hypercorn}") as client:
        assert client.post("/decks/1/edit", data={"title": "Edited"}).status_code == 303
    after = h2_get(hypercorn, "/decks/1/1")
    assert [status for status, _ in after] == [103, 200]
    assert "miss" in after[1][1]["cache-status"]


@pytest.mark.usefixtures("redis_url")
def test_two_workers_share_the_store_and_the_cache(
    example_dist: Path, tmp_path: Path, redis_url: str
) -> None:
    """``uvicorn --workers 2`` with ``REDIS_URL``: after every edit, every read (over new
    connections, so both processes answer) shows the new title."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "examples.starlette_app.app:app", "--workers", "2"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = serve(argv, example_env(example_dist, tmp_path, REDIS_URL=redis_url), port)
    base = f"http://127.0.0.1:{port}"
    try:
        stale = []
        for edit in range(12):
            # warm both workers' view of the deck before the edit
            for _ in range(4):
                with httpx.Client(base_url=base) as client:
                    assert client.get("/decks/1/1").status_code == 200
            title = f"Edit number {edit}"
            with httpx.Client(base_url=base) as client:
                saved = client.post("/decks/1/edit", data={"title": title})
                assert saved.status_code == 303
            for _ in range(4):
                with httpx.Client(base_url=base) as client:
                    page = client.get("/decks/1/1")
                    api = client.get("/api/presentations").json()
                if title not in page.text or api[0]["title"] != title:
                    stale.append(edit)
        assert stale == []
    finally:
        stop(process)

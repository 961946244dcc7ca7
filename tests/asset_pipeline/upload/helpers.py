"""Helpers for the upload tests: build directories written through manifest.py, and a
real loopback HTTP proxy in front of moto that logs every request and can reject keys."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import brotli
from blake3 import blake3

from asset_pipeline.manifest import EncodedVariant, ImageAlternate, Manifest, ManifestEntry
from asset_pipeline.manifest import write_manifest as _write_manifest

BUCKET = "assets-bucket"

DEFAULT_SOURCES: dict[str, bytes] = {
    "css/app.css": b"body{color:#123;background:url(../img/logo.png)}\n" * 40,
    "js/main.js": b"import './util.js';console.log('hello world');\n" * 40,
    "js/util.js": b"export const answer = 42;\n" * 30,
    "img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "fonts/serif.woff2": b"wOF2" + bytes(range(200)),
}


def _fingerprint(logical: str, digest: str) -> str:
    stem, dot, ext = logical.rpartition(".")
    return f"{stem}.{digest[:10]}.{ext}" if dot else f"{logical}.{digest[:10]}"


def _content_type(logical: str) -> str:
    return {
        "css": "text/css",
        "js": "text/javascript",
        "png": "image/png",
        "woff2": "font/woff2",
        "html": "text/html",
    }[logical.rsplit(".", 1)[-1]]


def make_build(
    dist: Path,
    sources: dict[str, bytes] | None = None,
    *,
    sw: bytes = b"self.addEventListener('fetch', () => {});\n",
    html: bytes = b"<!doctype html><title>x</title>\n",
    build_id: str = "build-1",
) -> Manifest:
    """A build like ``asset-pipeline build`` makes: fingerprinted files with .br/.gz
    siblings for text, a WebP alternate for the PNG, plus unhashed entry points."""
    dist.mkdir(parents=True, exist_ok=True)
    for old in dist.rglob("*"):
        if old.is_file():
            old.unlink()
    files: dict[str, ManifestEntry] = {}
    for logical, data in sorted((sources or DEFAULT_SOURCES).items()):
        digest = blake3(data).hexdigest()
        out = _fingerprint(logical, digest)
        (dist / out).parent.mkdir(parents=True, exist_ok=True)
        (dist / out).write_bytes(data)
        ctype = _content_type(logical)
        encodings: dict[str, EncodedVariant] = {}
        if ctype.startswith("text/"):
            for coding, suffix, packed in (
                ("br", ".br", brotli.compress(data)),
                ("gzip", ".gz", gzip.compress(data, mtime=0)),
            ):
                (dist / (out + suffix)).write_bytes(packed)
                encodings[coding] = EncodedVariant(out + suffix, len(packed))
        alternates: tuple[ImageAlternate, ...] = ()
        if logical.endswith(".png"):
            webp = out[: -len(".png")] + ".webp"
            (dist / webp).write_bytes(b"RIFF" + data[:64])
            alternates = (ImageAlternate("webp", "image/webp", webp, 68, 16, 16),)
        files[logical] = ManifestEntry(
            path=out,
            size=len(data),
            content_type=ctype,
            hash=digest,
            integrity="sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode(),
            fingerprinted=True,
            encodings=encodings,
            alternates=alternates,
        )
    (dist / "sw.js").write_bytes(sw)
    (dist / "sw.js.br").write_bytes(brotli.compress(sw))
    (dist / "index.html").write_bytes(html)
    manifest = Manifest(files=files, build_id=build_id)
    (dist / "staticfiles.json").write_text(json.dumps(manifest.django_staticfiles()))
    _write_manifest(manifest, dist)
    return manifest


class S3Proxy:
    """Forwards to moto; logs ``(method, path)``; answers ``faults[key] = status`` itself
    for PUTs of that key (counting the attempts) so retries and failures are real HTTP."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.log: list[tuple[str, str]] = []
        self.faults: dict[str, int] = {}
        self.fault_hits: dict[str, int] = {}
        #: request headers (lower-case names) of the last request to each path
        self.headers: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = unquote(urlsplit(self.path).path)
                with proxy._lock:
                    proxy.log.append((self.command, path))
                    proxy.headers[path] = {k.lower(): v for k, v in self.headers.items()}
                    status = next(
                        (s for k, s in proxy.faults.items() if path == f"/{BUCKET}/{k}"), None
                    )
                    if status is not None and self.command == "PUT":
                        proxy.fault_hits[path] = proxy.fault_hits.get(path, 0) + 1
                if status is not None and self.command == "PUT":
                    code = "AccessDenied" if status == 403 else "InternalError"
                    self._reply(
                        status,
                        [("Content-Type", "application/xml")],
                        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                        f"<Message>injected by the test proxy</Message></Error>".encode(),
                    )
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("expect", "connection", "transfer-encoding")
                }
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                self._reply(response.status, response.getheaders(), data)

            def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> S3Proxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def clear(self) -> None:
        with self._lock:
            self.log.clear()

    def requests(self, method: str | None = None) -> list[str]:
        """Paths (``/bucket/key``) of logged requests, optionally of one method."""
        with self._lock:
            return [p for m, p in self.log if method is None or m == method]

    def object_puts(self) -> list[str]:
        """Keys PUT, in order, without the tool's own state files."""
        prefix = f"/{BUCKET}/"
        return [
            p[len(prefix) :]
            for p in self.requests("PUT")
            if p.startswith(prefix) and ".asset-pipeline/" not in p
        ]

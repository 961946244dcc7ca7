"""A tiny in-process ASGI driver that keeps every message (tests assert on chunks)."""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import brotli
import zstandard


@dataclass
class Result:
    status: int
    raw_headers: list[tuple[bytes, bytes]]
    chunks: list[bytes] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def header(self, name: str) -> str | None:
        values = [v.decode("latin-1") for k, v in self.raw_headers if k.lower() == name.encode()]
        return ", ".join(values) if values else None

    def header_count(self, name: str) -> int:
        return sum(1 for k, _ in self.raw_headers if k.lower() == name.encode())


async def call(
    app: Callable[..., Awaitable[None]],
    path: str = "/",
    *,
    method: str = "GET",
    headers: Sequence[tuple[str | bytes, str | bytes]] = (),
    raw_path: bytes | None = None,
    extensions: dict[str, Any] | None = None,
) -> Result:
    """One request through ``app``; ``raw_path`` defaults to ``path`` encoded, and
    ``extensions`` is the scope's (e.g. ``{"http.response.pathsend": {}}``)."""
    raw = [
        (
            (k.encode("latin-1") if isinstance(k, str) else k).lower(),
            v.encode("latin-1") if isinstance(v, str) else v,
        )
        for k, v in headers
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode() if raw_path is None else raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    if extensions is not None:
        scope["extensions"] = extensions
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    result = Result(start["status"], list(start.get("headers", [])), messages=messages)
    result.chunks = [m.get("body", b"") for m in messages if m["type"] == "http.response.body"]
    return result


def make_app(
    body: bytes | Sequence[bytes] = b"",
    *,
    status: int = 200,
    headers: Sequence[tuple[bytes, bytes]] = (),
    content_type: bytes | None = b"text/html; charset=utf-8",
    content_length: bool = True,
) -> Callable[..., Awaitable[None]]:
    """An ASGI app sending ``body`` in one message (bytes) or one message per chunk (list)."""
    chunks = [body] if isinstance(body, bytes) else list(body)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        out = list(headers)
        if content_type is not None:
            out.append((b"content-type", content_type))
        if content_length and isinstance(body, bytes):
            out.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        for i, chunk in enumerate(chunks):
            more = i < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


def decode(data: bytes, coding: str | None) -> bytes:
    """``data`` with its content coding (``zstd``, ``br``, ``gzip`` or none) undone."""
    if coding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    if coding == "br":
        return brotli.decompress(data)
    if coding == "gzip":
        return gzip.decompress(data)
    return data

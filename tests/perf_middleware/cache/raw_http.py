"""Requests written byte for byte to a real server (httpx would normalise repeated fields
away), and a scripted raw ASGI origin whose responses may repeat header lines."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Raw:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    elapsed: float

    def header(self, name: str) -> str:
        return ", ".join(v for k, v in self.headers if k == name)


def raw_request(
    port: int, target: str, headers: Sequence[tuple[str, str]], method: str = "GET"
) -> Raw:
    """``method target`` with exactly these header lines (Host only when given, repeats
    kept) and ``Connection: close``; the response read to EOF."""
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
    request = "".join(f"{line}\r\n" for line in lines)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"{request}Connection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    elapsed = time.monotonic() - started
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    parsed = [(k.strip().lower(), v.strip()) for k, _, v in (f.partition(":") for f in fields)]
    return Raw(int(status_line.split()[1]), parsed, body, elapsed)


def raw_get(port: int, path: str, *lines: str) -> Raw:
    """``GET path`` for ``Host: t.test`` with these extra ``Name: value`` lines."""
    extra = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines)]
    return raw_request(port, path, [("Host", "t.test"), *extra])


@dataclass
class Script:
    """What the scripted origin answers for one path: raw header lines, repeats allowed."""

    headers: list[tuple[str, str]]
    body: bytes = b"body"
    status: int = 200


@dataclass
class ScriptedOrigin:
    """A raw ASGI app answering ``routes[path]``; ``calls[path]`` counts app calls and
    ``seen[path]`` keeps each call's request header lines."""

    routes: dict[str, Script] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    seen: dict[str, list[list[tuple[bytes, bytes]]]] = field(default_factory=dict)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        self.calls[path] = self.calls.get(path, 0) + 1
        self.seen.setdefault(path, []).append(list(scope["headers"]))
        script = self.routes.get(path, Script([("content-type", "text/plain")], b"none", 404))
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in script.headers]
        await send({"type": "http.response.start", "status": script.status, "headers": headers})
        await send({"type": "http.response.body", "body": script.body})

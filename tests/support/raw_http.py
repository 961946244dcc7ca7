"""HTTP/1.1 requests written byte for byte on a socket, for what httpx normalises away:
repeated header lines, percent-encoded paths, odd Host values."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (case-insensitive), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def raw_request(
    port: int, target: str, headers: list[tuple[str, str]], method: str = "GET"
) -> RawResponse:
    """Send ``method target`` with exactly these header lines (``Host`` included only when
    given) and ``Connection: close``; read the whole response."""
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
    lines.append("Connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    parsed = [(k.strip(), v.strip()) for k, _, v in (f.partition(":") for f in fields)]
    return RawResponse(int(status_line.split()[1]), parsed, body)

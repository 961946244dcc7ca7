"""Child process of the RSS bound test: floods a middleware-wrapped app with unique URLs.

Run as ``python -m tests.perf_middleware.cache.rss_flood COUNT MAX_BYTES``; prints one JSON
line: the process's RSS (bytes, from /proc/self/status) before the flood, after each tenth of
it, and the backend's counters.  Requests go through the full cache stage (lookup, miss,
store, eviction) with a minimal ASGI driver instead of sockets, so 500k requests fit in a
test's time.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from typing import Any

from perf_middleware import MemoryBackend, PerformanceMiddleware

BODY = b'{"ok":true}'
HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"public, max-age=600"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def flood(count: int, max_bytes: int) -> dict[str, Any]:
    backend = MemoryBackend(max_bytes=max_bytes)
    middleware = PerformanceMiddleware(app, cache=backend)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def request(path: str) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"flood.test"), (b"accept-encoding", b"gzip, br")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        await middleware(scope, receive, send)
        sent.clear()

    await request("/warm-up")
    gc.collect()
    samples = [rss()]
    step = count // 10
    for i in range(count):
        await request(f"/items/{i:09d}/details?page=1")
        if (i + 1) % step == 0:
            samples.append(rss())
    return {
        "rss": samples,
        "entries": backend.stats.entries,
        "bytes": backend.stats.bytes,
        "stores": backend.stats.stores,
        "evictions": backend.stats.evictions,
    }


if __name__ == "__main__":
    result = asyncio.run(flood(int(sys.argv[1]), int(sys.argv[2])))
    print(json.dumps(result))

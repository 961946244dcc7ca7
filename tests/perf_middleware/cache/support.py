"""A scriptable origin app and a client factory for the cache-stage tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from perf_middleware.cache.config import CacheConfig
from perf_middleware.middleware import PerformanceMiddleware


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    raises: bool = False


class Origin:
    """Counts calls and records request headers; ``routes[path]`` is a Reply or a function of
    the request headers returning one."""

    def __init__(self) -> None:
        self.calls = 0
        self.requests: list[dict[str, str]] = []
        self.routes: dict[str, Reply | Callable[[dict[str, str]], Reply]] = {}

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        cache_control: str | None = "max-age=60",
        content_type: str = "application/json",
        **headers: str,
    ) -> Reply:
        hdrs = {
            "content-type": content_type,
            **{k.replace("_", "-"): v for k, v in headers.items()},
        }
        if cache_control is not None:
            hdrs["cache-control"] = cache_control
        reply = Reply(status, hdrs, body.encode() if isinstance(body, str) else body)
        self.routes[path] = reply
        return reply

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.calls += 1
        req = {k.decode(): v.decode() for k, v in scope["headers"]}
        req[":method"] = scope["method"]
        self.requests.append(req)
        target = self.routes.get(scope["path"])
        if target is None:
            reply = Reply(404, {"content-type": "text/plain"}, b"no route")
        elif callable(target):
            reply = target(req)
        else:
            reply = target
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raises:
            raise RuntimeError("origin exploded")
        headers = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})


def json_body(size: int) -> bytes:
    items = [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(size // 40 + 1)]
    return json.dumps(items).encode()[:size]


def make(origin: Origin, backend: Any, clock: Any, **config: Any) -> PerformanceMiddleware:
    config.setdefault("clock", clock)
    return PerformanceMiddleware(origin, cache=backend, cache_config=CacheConfig(**config))


def client(app: Any, host: str = "example.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}")


def status_of(response: httpx.Response) -> str:
    return response.headers.get("cache-status", "")

"""The app the near-cache coherence test runs in separate uvicorn processes.

``uvicorn --factory tests.support.near_app:create_app`` with ``NEAR_REDIS_URL``,
``NEAR_MAX_LAG`` (seconds) and ``NEAR_VERSION_FILE`` (the page body: the test edits it to
publish a new version) in the environment.  ``/deck`` is cacheable with the tag ``deck``;
``/_near`` reports how many hits this process served from its near cache."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from perf_middleware import PerformanceMiddleware, RedisBackend
from perf_middleware.cache.config import CacheConfig


def create_app() -> PerformanceMiddleware:
    backend = RedisBackend(
        os.environ["NEAR_REDIS_URL"],
        namespace="near",
        near_cache_max_lag=float(os.environ["NEAR_MAX_LAG"]),
    )
    version = Path(os.environ["NEAR_VERSION_FILE"])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/_near":
            assert backend.near is not None
            near, tracker = backend.near, backend.tracker
            assert tracker is not None
            state = {"near_hits": near.hits, "copies": len(near.entries)}
            state["tracking_sessions"] = tracker.sessions
            body = json.dumps(state).encode()
            headers = [(b"cache-control", b"no-store")]
        else:
            body = await asyncio.to_thread(version.read_bytes)
            headers = [(b"cache-control", b"max-age=600"), (b"cache-tag", b"deck")]
        headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return PerformanceMiddleware(
        app, cache=backend, cache_config=CacheConfig(honor_request_no_cache=True)
    )

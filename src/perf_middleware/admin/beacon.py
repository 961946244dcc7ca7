"""``POST <prefix>/vitals``: the public endpoint the Web Vitals script sends beacons to.

It is the one admin path open to anonymous visitors, so it is built as a hostile-input
boundary: the cheap refusals first (method, cross-site origin, per-client rate limit,
declared size), then a bounded body read, then :func:`~perf_middleware.metrics.vitals.
parse_beacon`. Every refusal is a 4xx saying why and is counted by reason; nothing a
client sends reaches a code path that can raise, so the endpoint never answers 5xx.
"""

from __future__ import annotations

import logging
from typing import Final

from perf_middleware.admin.io import empty_response, json_response, read_bounded
from perf_middleware.admin.ratelimit import RateLimiter
from perf_middleware.metrics.vitals import BeaconError, VitalsCounters, VitalsRoutes, parse_beacon
from perf_middleware.types import Receive, Scope, Send

__all__ = ["MAX_BEACON_BYTES", "BeaconEndpoint"]

logger = logging.getLogger("perf_middleware.admin")

#: A beacon is about 150 bytes; this leaves room for long route templates and nothing else.
MAX_BEACON_BYTES: Final = 4096
#: What ``navigator.sendBeacon(url, string)`` sends, and JSON for other clients.
_CONTENT_TYPES: Final = (b"", b"text/plain", b"application/json")
#: Sec-Fetch-Site values of a beacon from the site's own pages (or a non-browser client).
_SAME_SITE: Final = (None, b"same-origin", b"same-site", b"none")


class BeaconEndpoint:
    __slots__ = ("limiter", "routes", "vitals")

    def __init__(self, vitals: VitalsCounters, routes: VitalsRoutes, limiter: RateLimiter) -> None:
        self.vitals = vitals
        self.routes = routes
        self.limiter = limiter

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, client: str | None
    ) -> None:
        if scope["method"] != "POST":
            await json_response(
                send,
                405,
                {"error": "beacons are sent with POST", "allow": ["POST"]},
                [(b"allow", b"POST")],
            )
            return
        headers = dict(scope.get("headers", ()))
        if headers.get(b"sec-fetch-site") not in _SAME_SITE:
            await self._refuse(send, 403, "cross_site", "beacons are accepted from this site only")
            return
        if not self.limiter.allow(client):
            self.vitals.drop("rate_limited")
            await empty_response(send, 429, [(b"retry-after", b"10")])
            return
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if content_type not in _CONTENT_TYPES:
            await self._refuse(
                send, 415, "malformed", "Content-Type must be text/plain or application/json"
            )
            return
        body = await read_bounded(headers.get(b"content-length"), receive, MAX_BEACON_BYTES)
        if body is None:
            await self._refuse(
                send, 413, "too_large", f"beacon larger than {MAX_BEACON_BYTES} bytes"
            )
            return
        try:
            beacon = parse_beacon(body, self.routes)
        except BeaconError as exc:
            status = 400 if exc.reason == "malformed" else 422
            await self._refuse(send, status, exc.reason, exc.message)
            return
        self.vitals.record(beacon)
        await empty_response(send, 204)

    async def _refuse(self, send: Send, status: int, reason: str, message: str) -> None:
        self.vitals.drop(reason)
        logger.debug("web vitals beacon dropped reason=%s", reason)
        await json_response(send, status, {"error": message, "reason": reason})

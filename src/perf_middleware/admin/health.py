"""The health verdict of ``GET /health``: ping the cache backend, bounded in time.

A backend that errors, times out or answers slower than the configured limit is *degraded*
(HTTP 503 with the reason), so a load balancer or an alert can act on it; a failing ping is
a result here, never an exception.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["check_health"]

logger = logging.getLogger("perf_middleware.admin")


async def check_health(
    cache: Any, *, ping_timeout: float, max_latency_ms: float
) -> tuple[int, dict[str, Any]]:
    """``(status, body)`` for ``GET /health``; ``cache`` may be None (nothing to check)."""
    if cache is None:
        return 200, {"status": "ok", "cache": None}
    backend = type(cache).__name__
    latency: float | None = None
    try:
        result = await asyncio.wait_for(cache.ping(), ping_timeout)
    except TimeoutError:
        reason = f"backend did not answer within {ping_timeout}s"
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
    else:
        latency = round(result.latency_ms, 3)
        if result.ok and latency <= max_latency_ms:
            return 200, {"status": "ok", "cache": backend, "latency_ms": latency}
        reason = (
            result.detail or "ping failed"
            if not result.ok
            else f"latency {latency} ms above {max_latency_ms} ms"
        )
    logger.warning("admin health degraded backend=%s reason=%s", backend, reason)
    return 503, {"status": "degraded", "cache": backend, "reason": reason, "latency_ms": latency}

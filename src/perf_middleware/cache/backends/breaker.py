"""Circuit breaker: stop waiting on a dead store and retry it now and then.

After ``threshold`` consecutive failures the breaker opens: calls fail fast (the cache acts
empty) until ``retry_after`` seconds pass, then one call is let through to probe the store.
Errors are logged at most once per ``log_interval`` so an outage does not flood the logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger("perf_middleware.cache")


class CircuitBreaker:
    """Counts failures of one backend; ``allow()`` says whether to try the store now."""

    __slots__ = (
        "_last_log",
        "_suppressed",
        "clock",
        "failures",
        "log_interval",
        "name",
        "open_until",
        "retry_after",
        "threshold",
        "trips",
    )

    def __init__(
        self,
        name: str,
        *,
        threshold: int = 3,
        retry_after: float = 5.0,
        log_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.threshold = max(1, threshold)
        self.retry_after = retry_after
        self.log_interval = log_interval
        self.clock = clock
        self.failures = 0
        self.open_until = 0.0
        self.trips = 0
        self._last_log = float("-inf")
        self._suppressed = 0

    @property
    def is_open(self) -> bool:
        return self.failures >= self.threshold and self.clock() < self.open_until

    def allow(self) -> bool:
        """False while open; once ``retry_after`` passed, a probe call is allowed."""
        if self.failures < self.threshold:
            return True
        now = self.clock()
        if now >= self.open_until:
            # half-open: let this call probe; if it fails the breaker re-opens at once
            self.open_until = now + self.retry_after
            return True
        return False

    def success(self) -> None:
        if self.failures >= self.threshold:
            logger.warning("cache backend %s recovered", self.name)
        self.failures = 0

    def failure(self, operation: str, exc: BaseException) -> bool:
        """Record a failure; returns True when this one opened the breaker."""
        self.failures += 1
        opened = self.failures == self.threshold
        if opened or self.failures > self.threshold:
            self.open_until = self.clock() + self.retry_after
        if opened:
            self.trips += 1
        now = self.clock()
        if now - self._last_log >= self.log_interval:
            logger.warning(
                "cache backend %s unavailable (op=%s error=%s: %s; %d similar errors "
                "suppressed); requests go to the app until it recovers",
                self.name,
                operation,
                type(exc).__name__,
                exc,
                self._suppressed,
            )
            self._last_log = now
            self._suppressed = 0
        else:
            self._suppressed += 1
        return opened

"""Per-client token buckets for the public beacon endpoint.

Anonymous visitors may post beacons, so one client must not be able to fill the histograms
(or the server's memory): each address gets ``burst`` beacons and earns ``rate`` more per
second. The table of clients is bounded too; the least recently seen is forgotten first,
which at worst lets a forgotten client start again from a full bucket.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    __slots__ = ("_buckets", "burst", "clock", "max_clients", "rate")

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self.clock = clock
        #: client -> (tokens, time of the last update)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str | None) -> bool:
        """Take one token from ``client``'s bucket; False when it is empty."""
        key = client or "-"
        now = self.clock()
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)

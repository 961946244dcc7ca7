"""Shared HTTP response cache (RFC 9111) and a function-result cache on the same backends.

Only light names are re-exported here; the Redis backend is imported on demand so an app
that never uses Redis never imports the client library.
"""

from __future__ import annotations

from perf_middleware.cache.backends.base import CacheBackend, EntryInfo, Lookup, PingResult
from perf_middleware.cache.entry import CacheEntry

__all__ = ["CacheBackend", "CacheEntry", "EntryInfo", "Lookup", "PingResult"]

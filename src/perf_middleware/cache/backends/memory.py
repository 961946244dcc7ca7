"""In-process LRU store bounded by total bytes: the embedded default backend.

A hit is one dict lookup and a ``move_to_end``; the entry object itself is handed out, so the
per-process header lists the stage precomputes on it survive between hits.  Everything is
single-threaded asyncio, so no locks are needed; cross-process locks degrade to
in-process ones (single-flight across processes needs a shared store such as Redis).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable

from perf_middleware.cache.backends.base import (
    BackendStats,
    EntryInfo,
    EventHook,
    Lookup,
    PingResult,
    compile_pattern,
)
from perf_middleware.cache.entry import CacheEntry
from perf_middleware.options import check_callable, check_range, checked

__all__ = ["MemoryBackend"]

_NOTHING: tuple[None, None] = (None, None)
# bytes this backend's own records cost per entry beyond ``CacheEntry.size``: the LRU
# dict's node, the size record, the primary's record with its set of variants, the key str
INDEX_OVERHEAD = 100 + 70 + 60 + 48 + 216 + 49
# keys handled between two yields to the event loop in bulk invalidation: a few ms of work
BATCH = 500


class _Primary:
    __slots__ = ("secondaries", "vary")

    def __init__(self, vary: tuple[str, ...]) -> None:
        self.vary = vary
        self.secondaries: set[str] = set()


@checked(
    max_bytes="max_bytes=64 * 2**20 (bytes; the default).",
    max_entry_bytes="max_entry_bytes=1 * 2**20 (bytes), or None for max_bytes // 8.",
)
class MemoryBackend:
    """LRU by bytes with per-entry expiry.

    Options (keyword-only):
      max_bytes: total size budget (default 64 MiB): bodies, headers and the Python objects
        that hold them and index them (about 1.5 KiB per entry), so it bounds the memory
        the cache really takes even when entries are tiny.
      max_entry_bytes: larger entries are refused (default max_bytes // 8).
      clock: wall-clock source; inject a fake one in tests (default ``time.time``).
      events: optional ``events(name, amount)`` hook for metrics.
    """

    shared = False  # one process only: single-flight needs no cross-process lock

    def __init__(
        self,
        *,
        max_bytes: int = 64 * 2**20,
        max_entry_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
        events: EventHook | None = None,
    ) -> None:
        check_range("MemoryBackend", "max_bytes", max_bytes, minimum=1, hint="max_bytes=64 * 2**20")
        if max_entry_bytes is not None:
            check_range(
                "MemoryBackend", "max_entry_bytes", max_entry_bytes, minimum=1,
                hint="None (the default) allows max_bytes // 8",
            )  # fmt: skip
        check_callable("MemoryBackend", "clock", clock, hint="clock=time.time (the default)")
        check_callable("MemoryBackend", "events", events, hint="leave it unset", optional=True)
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes if max_entry_bytes is not None else max_bytes // 8
        self.clock = clock
        self.events = events
        self.stats = BackendStats()
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._primaries: dict[str, _Primary] = {}
        self._tags: dict[str, set[str]] = {}
        self._locks: dict[str, tuple[str, float]] = {}
        self._sizes: dict[str, int] = {}  # size at store time (bodies may gain a decoded copy)

    def __repr__(self) -> str:
        return f"MemoryBackend(max_bytes={self.max_bytes}, entries={len(self._entries)})"

    def _event(self, name: str, amount: int = 1) -> None:
        if self.events is not None:
            self.events(name, amount)

    async def get(self, primary: str, secondary: str) -> Lookup:
        return Lookup(*self.lookup(primary, secondary))

    def lookup(
        self, primary: str, secondary: str
    ) -> tuple[CacheEntry | None, tuple[str, ...] | None]:
        """``get`` without the coroutine and the named tuple: the cache stage calls this on
        its hit path (an in-process store never waits)."""
        record = self._primaries.get(primary)
        if record is None:
            self.stats.misses += 1
            return _NOTHING
        key = f"{primary}\x1f{secondary}" if secondary else primary
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= self.clock():
            self._remove(key)
            entry = None
            record = self._primaries.get(primary)
        if entry is None:
            self.stats.misses += 1
            return (None, record.vary if record is not None else None)
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return (entry, record.vary if record is not None else entry.vary)

    async def set(self, entry: CacheEntry, ttl: float) -> bool:
        size = entry.size + INDEX_OVERHEAD
        if ttl <= 0 or size > self.max_entry_bytes:
            return False
        entry.expires_at = self.clock() + ttl
        key = entry.key
        if key in self._entries:
            self._remove(key)
        record = self._primaries.get(entry.primary)
        if record is None:
            record = self._primaries[entry.primary] = _Primary(entry.vary)
        record.vary = entry.vary
        record.secondaries.add(key)
        self._entries[key] = entry
        self._sizes[key] = size
        for tag in entry.tags:
            self._tags.setdefault(tag, set()).add(key)
        self.stats.bytes += size
        self.stats.stores += 1
        self._event("store")
        while self.stats.bytes > self.max_bytes and self._entries:
            oldest = next(iter(self._entries))
            self._remove(oldest)
            self.stats.evictions += 1
            self._event("eviction")
        self.stats.entries = len(self._entries)
        return True

    def _remove(self, key: str) -> CacheEntry | None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return None
        self.stats.bytes -= self._sizes.pop(key, 0)
        record = self._primaries.get(entry.primary)
        if record is not None:
            record.secondaries.discard(key)
            if not record.secondaries:
                del self._primaries[entry.primary]
        for tag in entry.tags:
            keys = self._tags.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[tag]
        self.stats.entries = len(self._entries)
        return entry

    async def _remove_many(self, keys: Iterable[str]) -> int:
        removed = 0
        for count, key in enumerate(list(keys), 1):
            if self._remove(key) is not None:
                removed += 1
            if count % BATCH == 0:
                await asyncio.sleep(0)  # bulk work shares the loop with requests
        if removed:
            self.stats.invalidations += removed
            self._event("invalidation", removed)
        return removed

    async def invalidate_url(self, url: str) -> int:
        if url.startswith("/") and "*" not in url:
            return await self.invalidate_pattern(url)  # a path: that path on every host
        record = self._primaries.get(url)
        return 0 if record is None else await self._remove_many(record.secondaries)

    async def invalidate_tags(self, tags: Iterable[str]) -> int:
        if isinstance(tags, str):
            tags = [tags]
        keys: set[str] = set()
        for tag in tags:
            keys |= self._tags.get(tag, set())
        return await self._remove_many(keys)

    async def invalidate_pattern(self, pattern: str) -> int:
        match = compile_pattern(pattern)
        primaries = list(self._primaries)
        keys: list[str] = []
        for start in range(0, len(primaries), BATCH):
            if start:
                await asyncio.sleep(0)
            for primary in primaries[start : start + BATCH]:
                record = self._primaries.get(primary)
                if record is not None and match(primary):
                    keys.extend(record.secondaries)
        return await self._remove_many(keys)

    async def purge_expired(self) -> int:
        now = self.clock()
        expired = [k for k, e in self._entries.items() if e.expires_at <= now]
        for count, key in enumerate(expired, 1):
            self._remove(key)
            if count % BATCH == 0:
                await asyncio.sleep(0)
        return len(expired)

    async def clear(self) -> int:
        count = len(self._entries)
        old = (self._tags, self._sizes, self._primaries, self._entries)
        self._entries = OrderedDict()
        self._primaries = {}
        self._tags = {}
        self._sizes = {}
        self.stats.bytes = self.stats.entries = 0
        # the old records are released a batch at a time: freeing a large store in one go
        # would hold the loop for tens of milliseconds
        for table in old:
            while table:
                for _ in range(min(BATCH, len(table))):
                    table.popitem()
                await asyncio.sleep(0)
        return count

    async def entry_info(self, key_or_url: str) -> list[EntryInfo]:
        record = self._primaries.get(key_or_url)
        keys = sorted(record.secondaries) if record is not None else [key_or_url]
        now = self.clock()
        return [
            info_for(entry, now)
            for key in keys
            if (entry := self._entries.get(key)) is not None and entry.expires_at > now
        ]

    async def largest_entries(self, limit: int) -> list[EntryInfo]:
        """The ``limit`` biggest live entries, largest first (for the admin dashboard)."""
        now = self.clock()
        live = [e for e in self._entries.values() if e.expires_at > now]
        live.sort(key=lambda e: self._sizes.get(e.key, e.size), reverse=True)
        return [info_for(entry, now) for entry in live[:limit]]

    async def ping(self) -> PingResult:
        return PingResult(ok=True, latency_ms=0.0, detail=f"{len(self._entries)} entries")

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        now = self.clock()
        held = self._locks.get(name)
        if held is not None and held[1] > now:
            return None
        token = uuid.uuid4().hex
        if len(self._locks) >= 10_000:  # holders that never released: drop the expired
            self._locks = {k: v for k, v in self._locks.items() if v[1] > now}
        self._locks[name] = (token, now + ttl)
        return token

    async def release_lock(self, name: str, token: str) -> None:
        held = self._locks.get(name)
        if held is not None and held[0] == token:
            del self._locks[name]

    async def close(self) -> None:
        return None


def info_for(entry: CacheEntry, now: float) -> EntryInfo:
    """Admin view of one entry (shared by the backends)."""
    return EntryInfo(
        key=entry.key,
        url=entry.primary,
        status=entry.status,
        stored_at=entry.response_time,
        age=round(entry.age(now), 3),
        ttl=round(entry.ttl(now), 3),
        size=entry.size,
        tags=entry.tags,
        variants=tuple(entry.bodies)
        if entry.identity_from is None
        else ("identity", *entry.codings),
        vary=entry.vary,
    )

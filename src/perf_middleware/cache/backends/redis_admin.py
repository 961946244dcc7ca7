"""Invalidation and inspection for :class:`RedisBackend` (kept apart from the hot path).

All of these go through the indexes described in :mod:`redis_scripts`: tag sets, the lexical
path index and the expiry set — never ``KEYS`` or a scan of the whole keyspace (``clear``
scans only this backend's namespace, which is what clearing means).  A bulk operation is a
sequence of short commands, never one long one: Redis runs one command at a time, so a long
script would stall every other client and run into the caller's ``socket_timeout``.  Tag
invalidation moves the tags to a new version in its first call, so readers miss at once while
the entries are dropped batch by batch.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from blake3 import blake3

from perf_middleware.cache.backends.base import (
    BackendStats,
    EntryInfo,
    compile_pattern,
    literal_prefix,
    url_path,
)
from perf_middleware.cache.backends.memory import info_for
from perf_middleware.cache.entry import CacheEntry

T = TypeVar("T")
# index members read per round trip by bulk invalidation (a few ms of work per page)
PAGE = 1000
# entries one script call drops at most: each drop touches about ten keys, so a call stays a
# short command that neither runs into the client's socket_timeout on a loaded machine nor
# blocks the other clients of a single-threaded Redis for long
SCRIPT_BATCH = 100


def key_hash(value: str) -> str:
    """Fixed-length Redis key part for an arbitrary cache key (stable across processes)."""
    return blake3(value.encode("utf-8", "surrogatepass")).hexdigest(16)


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisAdmin:
    """Mixin: the administrative half of the Redis backend."""

    prefix: str
    redis: Any
    stats: BackendStats
    clock: Callable[[], float]
    _drop: Any
    _drop_primaries: Any
    _invalidate_tags: Any

    async def _admin(self, op: str, call: Callable[[], Awaitable[T]]) -> T:
        raise NotImplementedError  # provided by RedisBackend

    def _event(self, name: str, amount: int = 1) -> None:
        raise NotImplementedError  # provided by RedisBackend

    def _open(self, kh: str, data: bytes) -> CacheEntry:
        raise NotImplementedError  # provided by RedisBackend

    async def _drop_hashes(self, hashes: Iterable[bytes | str]) -> int:
        batch = [text(h) for h in hashes]
        removed = 0
        p = self.prefix
        for start in range(0, len(batch), SCRIPT_BATCH):
            chunk = batch[start : start + SCRIPT_BATCH]
            removed += int(await self._drop(keys=[f"{p}m", f"{p}x", f"{p}u"], args=[p, *chunk]))
        self._count_invalidations(removed)
        return removed

    async def _drop_under(self, primary_hashes: list[str]) -> int:
        """Drop every variant stored under these primary-key hashes (a script call per
        :data:`SCRIPT_BATCH` primaries)."""
        p = self.prefix
        removed = 0
        for start in range(0, len(primary_hashes), SCRIPT_BATCH):
            chunk = primary_hashes[start : start + SCRIPT_BATCH]
            removed += int(
                await self._drop_primaries(keys=[f"{p}m", f"{p}x", f"{p}u"], args=[p, *chunk])
            )
        self._count_invalidations(removed)
        return removed

    def _count_invalidations(self, removed: int) -> None:
        if removed:
            self.stats.invalidations += removed
            self._event("invalidation", removed)

    async def invalidate_url(self, url: str) -> int:
        if url.startswith("/") and "*" not in url:
            return await self.invalidate_pattern(url)  # a path: that path on every host
        return await self._admin("invalidate_url", lambda: self._drop_under([key_hash(url)]))

    async def invalidate_tags(self, tags: Iterable[str]) -> int:
        names = [tags] if isinstance(tags, str) else list(tags)
        if not names:
            return 0

        async def call() -> int:
            p = self.prefix
            keys = [f"{p}m", f"{p}x", f"{p}u", f"{p}tags"]
            removed = 0
            version = os.urandom(8).hex()  # the first batch moves the tags to a new version
            while True:  # one short atomic batch per round trip (see INVALIDATE_TAGS)
                args = [p, SCRIPT_BATCH, version, *names]
                dropped, taken = await self._invalidate_tags(keys=keys, args=args)
                version = ""
                removed += int(dropped)
                if int(taken) < SCRIPT_BATCH:
                    break
            self._count_invalidations(removed)
            return removed

        return await self._admin("invalidate_tags", call)

    async def invalidate_pattern(self, pattern: str) -> int:
        match = compile_pattern(pattern)
        prefix = literal_prefix(pattern)
        full_url = "://" in pattern
        # the lexical index is by path: only a path prefix can narrow the range
        path_prefix = prefix
        if full_url:
            path_prefix = url_path(prefix) if prefix.count("/") >= 3 else ""
        hi = b"[" + path_prefix.encode() + b"\xff" if path_prefix else b"+"

        async def call() -> int:
            # page through the index so neither Redis nor this event loop handles the whole
            # keyspace in one go; every page is a few milliseconds of work between awaits
            lo = b"[" + path_prefix.encode() if path_prefix else b"-"
            removed = 0
            while True:
                members: list[bytes] = await self.redis.zrangebylex(
                    f"{self.prefix}u", lo, hi, start=0, num=PAGE
                )
                if not members:
                    return removed
                lo = b"(" + members[-1]
                removed += await self._drop_matching(members, match, full_url)
                if len(members) < PAGE:
                    return removed

        return await self._admin("invalidate_pattern", call)

    async def _drop_matching(
        self, members: list[bytes], match: Callable[[str], bool], full_url: bool
    ) -> int:
        """Drop the entries of the index ``members`` (``path\\0ph``) whose URL matches."""
        pairs = [m.rsplit(b"\x00", 1) for m in members]
        if full_url:
            async with self.redis.pipeline(transaction=False) as pipe:
                for _, ph in pairs:
                    pipe.hget(f"{self.prefix}p:{text(ph)}", "url")
                urls = await pipe.execute()
            phs = [text(p[1]) for p, u in zip(pairs, urls, strict=True) if u and match(text(u))]
        else:
            phs = [text(ph) for path, ph in pairs if match(text(path))]
        return await self._drop_under(phs)

    async def purge_expired(self) -> int:
        async def call() -> int:
            now = self.clock()
            purged = 0
            while True:
                expired = await self.redis.zrangebyscore(
                    f"{self.prefix}x", "-inf", now, start=0, num=PAGE
                )
                await self._drop_hashes(expired)
                purged += len(expired)
                if len(expired) < PAGE:
                    return purged

        return await self._admin("purge_expired", call)

    async def clear(self) -> int:
        async def call() -> int:
            count = int(await self.redis.hlen(f"{self.prefix}m"))
            batch: list[bytes] = []
            async for key in self.redis.scan_iter(match=f"{self.prefix}*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    await self.redis.unlink(*batch)
                    batch = []
            if batch:
                await self.redis.unlink(*batch)
            return count

        return await self._admin("clear", call)

    async def entry_info(self, key_or_url: str) -> list[EntryInfo]:
        async def call() -> list[EntryInfo]:
            hashes = await self.redis.smembers(f"{self.prefix}pv:{key_hash(key_or_url)}")
            khs = sorted(text(h) for h in hashes) or [key_hash(key_or_url)]
            blobs = await self.redis.mget([f"{self.prefix}e:{kh}" for kh in khs])
            now = self.clock()
            return [
                info_for(self._open(kh, blob), now)
                for kh, blob in zip(khs, blobs, strict=True)
                if blob is not None
            ]

        return await self._admin("entry_info", call)

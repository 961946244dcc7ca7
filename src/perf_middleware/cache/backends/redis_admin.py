"""Invalidation and inspection for :class:`RedisBackend` (kept apart from the hot path).

All of these go through the indexes described in :mod:`redis_scripts`: tag sets, the lexical
path index and the expiry set — never ``KEYS`` or a scan of the whole keyspace (``clear``
scans only this backend's namespace, which is what clearing means).  A bulk operation is a
sequence of short commands, never one long one: Redis runs one command at a time, so a long
script would stall every other client and run into the caller's ``socket_timeout``.  Tag
invalidation moves the tags to a new version in its first call, so readers miss at once while
the entries are dropped batch by batch.  In a cluster every operation that is not about one
URL visits each bucket (see :mod:`buckets`), a few buckets at a time.
"""

from __future__ import annotations

import asyncio
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
from perf_middleware.cache.backends.buckets import escape_namespace
from perf_middleware.cache.backends.memory import info_for
from perf_middleware.cache.entry import CacheEntry

T = TypeVar("T")
# index members read per round trip by bulk invalidation (a few ms of work per page)
PAGE = 1000
# entries one script call drops at most: each drop touches about ten keys, so a call stays a
# short command that neither runs into the client's socket_timeout on a loaded machine nor
# blocks the other clients of a single-threaded Redis for long
SCRIPT_BATCH = 100
# buckets a bulk operation works on at once (each a sequence of short commands)
FANOUT = 8


def key_hash(value: str) -> str:
    """Fixed-length Redis key part for an arbitrary cache key (stable across processes)."""
    return blake3(value.encode("utf-8", "surrogatepass")).hexdigest(16)


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisAdmin:
    """Mixin: the administrative half of the Redis backend."""

    prefixes: tuple[str, ...]
    namespace: str
    cluster: bool
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

    def bucket(self, ph: str) -> str:
        raise NotImplementedError  # provided by RedisBackend

    async def _each_bucket(self, work: Callable[[str], Awaitable[int]]) -> int:
        """``work(prefix)`` for every bucket, :data:`FANOUT` at a time; the sum."""
        if len(self.prefixes) == 1:
            return await work(self.prefixes[0])
        gate = asyncio.Semaphore(FANOUT)

        async def one(prefix: str) -> int:
            async with gate:
                return await work(prefix)

        tasks = [asyncio.ensure_future(one(p)) for p in self.prefixes]
        try:
            return sum(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _drop_hashes(self, p: str, hashes: Iterable[bytes | str]) -> int:
        """Drop the entries ``hashes`` of bucket ``p``."""
        batch = [text(h) for h in hashes]
        removed = 0
        for start in range(0, len(batch), SCRIPT_BATCH):
            chunk = batch[start : start + SCRIPT_BATCH]
            removed += int(await self._drop(keys=[f"{p}m", f"{p}x", f"{p}u"], args=[p, *chunk]))
        self._count_invalidations(removed)
        return removed

    async def _drop_under(self, primary_hashes: list[str]) -> int:
        """Drop every variant stored under these primary-key hashes: script calls of one
        bucket's primaries, each dropping at most :data:`SCRIPT_BATCH` variants."""
        by_bucket: dict[str, list[str]] = {}
        for ph in primary_hashes:
            by_bucket.setdefault(self.bucket(ph), []).append(ph)
        removed = 0
        for p, hashes in by_bucket.items():
            keys = [f"{p}m", f"{p}x", f"{p}u"]
            while hashes:
                chunk = hashes[:SCRIPT_BATCH]
                dropped, resume = await self._drop_primaries(
                    keys=keys, args=[p, SCRIPT_BATCH, *chunk]
                )
                removed += int(dropped)
                done = len(chunk) if int(resume) < 0 else int(resume)
                hashes = hashes[done:]
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

        version = os.urandom(8).hex()

        async def drain(p: str) -> int:
            keys = [f"{p}m", f"{p}x", f"{p}u", f"{p}tags"]
            removed = 0
            new = version  # the bucket's first batch moves its tags to a new version
            while True:  # one short atomic batch per round trip (see INVALIDATE_TAGS)
                args = [p, SCRIPT_BATCH, new, *names]
                dropped, taken = await self._invalidate_tags(keys=keys, args=args)
                new = ""
                removed += int(dropped)
                if int(taken) < SCRIPT_BATCH:
                    return removed

        async def call() -> int:
            removed = await self._each_bucket(drain)
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

        async def bucket(p: str) -> int:
            # page through the index so neither Redis nor this event loop handles the whole
            # keyspace in one go; every page is a few milliseconds of work between awaits
            lo = b"[" + path_prefix.encode() if path_prefix else b"-"
            removed = 0
            while True:
                members: list[bytes] = await self.redis.zrangebylex(
                    f"{p}u", lo, hi, start=0, num=PAGE
                )
                if not members:
                    return removed
                lo = b"(" + members[-1]
                removed += await self._drop_matching(p, members, match, full_url)
                if len(members) < PAGE:
                    return removed

        return await self._admin("invalidate_pattern", lambda: self._each_bucket(bucket))

    async def _drop_matching(
        self, p: str, members: list[bytes], match: Callable[[str], bool], full_url: bool
    ) -> int:
        """Drop the entries of bucket ``p``'s index ``members`` (``path\\0ph``) whose URL
        matches."""
        pairs = [m.rsplit(b"\x00", 1) for m in members]
        if full_url:
            async with self.redis.pipeline(transaction=False) as pipe:
                for _, ph in pairs:
                    pipe.hget(f"{p}p:{text(ph)}", "url")
                urls = await pipe.execute()
            phs = [text(p[1]) for p, u in zip(pairs, urls, strict=True) if u and match(text(u))]
        else:
            phs = [text(ph) for path, ph in pairs if match(text(path))]
        return await self._drop_under(phs)

    async def purge_expired(self) -> int:
        now = self.clock()

        async def bucket(p: str) -> int:
            purged = 0
            while True:
                expired = await self.redis.zrangebyscore(f"{p}x", "-inf", now, start=0, num=PAGE)
                await self._drop_hashes(p, expired)
                purged += len(expired)
                if len(expired) < PAGE:
                    return purged

        return await self._admin("purge_expired", lambda: self._each_bucket(bucket))

    async def clear(self) -> int:
        async def count(p: str) -> int:
            return int(await self.redis.hlen(f"{p}m"))

        async def call() -> int:
            entries = await self._each_bucket(count)
            if self.cluster:
                # one scan of each master: every bucket's hash tag starts like this (keys
                # that do and are not the namespace's are told apart by the whole prefix)
                known = frozenset(p.encode() for p in self.prefixes)
                match = "{" + _glob_escape(escape_namespace(self.namespace)) + ":*"
            else:
                known = None
                match = _glob_escape(self.prefixes[0]) + "*"
            batch: list[bytes] = []
            async for key in self.redis.scan_iter(match=match, count=1000):
                if known is not None and key[: key.find(b"}:") + 2] not in known:
                    continue
                batch.append(key)
                if len(batch) >= 500:
                    await self.redis.unlink(*batch)
                    batch = []
            if batch:
                await self.redis.unlink(*batch)
            return entries

        return await self._admin("clear", call)

    async def entry_info(self, key_or_url: str) -> list[EntryInfo]:
        # the bucket is the primary key's (a full key is "primary\x1fsecondary")
        p = self.bucket(key_hash(key_or_url.partition("\x1f")[0]))

        async def call() -> list[EntryInfo]:
            hashes = await self.redis.smembers(f"{p}pv:{key_hash(key_or_url)}")
            khs = sorted(text(h) for h in hashes) or [key_hash(key_or_url)]
            blobs = await self.redis.mget([f"{p}e:{kh}" for kh in khs])
            now = self.clock()
            return [
                info_for(self._open(kh, blob), now)
                for kh, blob in zip(khs, blobs, strict=True)
                if blob is not None
            ]

        return await self._admin("entry_info", call)


def _glob_escape(value: str) -> str:
    """``value`` matched literally in a Redis ``MATCH`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in value)

"""Near cache: a bounded in-process copy of Redis entries, kept coherent by Redis itself.

A hit served from here costs a dict lookup instead of a network round trip.  Coherence comes
from Redis client-side caching (``CLIENT TRACKING``, Redis 6+) in broadcast mode: one
connection per process asks Redis to announce every change to a key under the namespace's
entry (``e:``) and tag-version (``v:``) prefixes — writes by any process, deletions,
expiries, evictions, ``FLUSHALL`` — and drops the matching local copies as the
announcements arrive.  In a Redis Cluster a namespace's buckets live on several masters
(see :mod:`buckets`): there is one such connection per master, each tracking the prefixes
of the buckets that master holds.

The bound.  The same connection is pinged every ``max_lag / 4`` seconds.  Redis queues a
broadcast announcement before it reads the next command of any client, so once the reply
to ping *n* has been read, every announcement for a write that Redis ran before ping
*n - 1* has been read (and applied) too.  The near cache only answers while the send time
of that earlier ping is less than ``max_lag`` seconds old; so a write that completed more
than ``max_lag`` seconds ago is never hidden by a local copy.  Writes by this process drop
their local copies at once.  A lost or silent connection stops the near cache within the
same bound and empties it; it is refilled only after tracking is set up again.  With several
masters the near cache answers only while *every* connection confirmed within the bound
(the oldest confirmation counts); losing any of them empties it, and so does a change of
which master holds a bucket (failover, resharding: seen in the cluster client's slot map),
after which the connections are set up again for the new layout.

A fetch racing with an announcement for the same entry (the reply read before the
announcement, the copy installed after it) is caught by a sequence number: a copy is only
installed when no announcement touching it arrived since its fetch began.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from perf_middleware.cache.entry import CacheEntry

__all__ = ["NearCache", "Tracker"]

logger = logging.getLogger("perf_middleware.cache")
_INVALIDATE = b"__redis__:invalidate"
# per local copy beyond the entry's own size: the OrderedDict slot, the key string, the tuple
_OVERHEAD = 200
# announcements remembered for racing fetches before falling back to "anything changed"
_TOUCHED_LIMIT = 4096


class NearCache:
    """The local copies, LRU-bounded by ``max_bytes``; usable while tracking is confirmed."""

    __slots__ = (
        "by_tag",
        "cleared",
        "clock",
        "confirmed",
        "entries",
        "hits",
        "known",
        "max_bytes",
        "max_lag",
        "monotonic",
        "prefixes",
        "seq",
        "single",
        "size",
        "touched",
    )

    def __init__(
        self,
        prefixes: str | tuple[str, ...],
        *,
        max_bytes: int,
        max_lag: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # the namespace's key prefix, or in a cluster one per bucket (each ends with its
        # hash tag's "}:", the first in any key: the escaped namespace holds no brace)
        names = (prefixes,) if isinstance(prefixes, str) else prefixes
        self.prefixes = tuple(name.encode() for name in names)
        self.single = self.prefixes[0] if len(self.prefixes) == 1 else None
        if self.single is None and not all(p.endswith(b"}:") for p in self.prefixes):
            raise ValueError(f"NearCache: several prefixes must each end with '}}:': {names}")
        self.known = frozenset(self.prefixes)
        self.max_bytes = max_bytes
        self.max_lag = max_lag
        self.clock = clock
        self.monotonic = monotonic
        self.entries: OrderedDict[str, tuple[CacheEntry, int]] = OrderedDict()
        self.by_tag: dict[str, set[str]] = {}
        self.size = 0
        self.hits = 0
        # monotonic time before which every write Redis ran has been applied here
        self.confirmed = float("-inf")
        self.seq = 0  # announcements applied
        self.cleared = 0  # seq of the last clear: older fetches must not install
        self.touched: dict[str, int] = {}  # "e" + kh / "t" + tag -> seq that touched it

    def get(self, kh: str) -> CacheEntry | None:
        """The local copy of entry ``kh``, or None (then ask Redis)."""
        if self.monotonic() - self.confirmed >= self.max_lag:
            if self.entries:
                self.clear()  # coherence not confirmed recently: never serve from memory
            return None
        item = self.entries.get(kh)
        if item is None:
            return None
        entry = item[0]
        if entry.expires_at <= self.clock():
            self._pop(kh)
            return None
        self.entries.move_to_end(kh)
        self.hits += 1
        return entry

    def mark(self) -> int:
        """Call before fetching from Redis; pass the result to :meth:`put`."""
        return self.seq

    def put(self, kh: str, entry: CacheEntry, mark: int) -> bool:
        """Keep a copy of what Redis returned for a fetch that began at ``mark``."""
        if self.cleared > mark or self.monotonic() - self.confirmed >= self.max_lag:
            return False
        touched = self.touched
        if touched.get("e" + kh, 0) > mark:
            return False
        for tag in entry.tags:
            if touched.get("t" + tag, 0) > mark:
                return False
        cost = entry.size + _OVERHEAD
        if cost > self.max_bytes // 8:
            return False
        self._pop(kh)
        self.entries[kh] = (entry, cost)
        self.size += cost
        for tag in entry.tags:
            self.by_tag.setdefault(tag, set()).add(kh)
        while self.size > self.max_bytes:
            self._pop(next(iter(self.entries)))
        return True

    def drop(self, kh: str) -> None:
        """This process wrote entry ``kh``: forget the local copy now."""
        self._touch("e" + kh)
        self._pop(kh)

    def announce(self, keys: list[bytes] | None) -> None:
        """Apply one invalidation announcement (``None``: Redis was flushed)."""
        if keys is None:
            self.clear()
            return
        single = self.single
        for key in keys:
            if single is not None:
                if not key.startswith(single):
                    continue
                rest = key[len(single) :]
            else:
                cut = key.find(b"}:") + 2
                if key[:cut] not in self.known:
                    continue
                rest = key[cut:]
            if rest.startswith(b"e:"):
                kh = rest[2:].decode()
                self._touch("e" + kh)
                self._pop(kh)
            elif rest.startswith(b"v:"):
                # one bucket's version of the tag moved: tag invalidation moves them all,
                # so dropping every copy with the tag is what it asks for anyway
                tag = rest[2:].decode("utf-8", "surrogateescape")
                self._touch("t" + tag)
                for kh in list(self.by_tag.get(tag, ())):
                    self._pop(kh)

    def confirm(self, when: float) -> None:
        """Every write Redis ran before monotonic time ``when`` has been applied."""
        self.confirmed = max(self.confirmed, when)

    def lost(self) -> None:
        """Tracking broke: serve nothing from memory until it is set up again."""
        self.confirmed = float("-inf")
        self.clear()

    def clear(self) -> None:
        self.entries.clear()
        self.by_tag.clear()
        self.touched.clear()
        self.size = 0
        self.seq += 1
        self.cleared = self.seq

    def _touch(self, name: str) -> None:
        self.seq += 1
        if len(self.touched) >= _TOUCHED_LIMIT:
            self.touched.clear()
            self.cleared = self.seq  # fetches in flight cannot tell what changed: skip them
        self.touched[name] = self.seq

    def _pop(self, kh: str) -> None:
        item = self.entries.pop(kh, None)
        if item is None:
            return
        entry, cost = item
        self.size -= cost
        for tag in entry.tags:
            members = self.by_tag.get(tag)
            if members is not None:
                members.discard(kh)
                if not members:
                    del self.by_tag[tag]


class Tracker:
    """Keeps a :class:`NearCache` coherent (see the module docstring).

    ``targets`` returns, for each node holding buckets of the namespace, a fresh unconnected
    redis-py ``Connection`` to it and the prefixes it holds; ``layout`` (a cluster) returns
    which node holds each bucket as the client currently sees it, checked every ping.
    Sessions run one per node, all together; when one ends the others are stopped and all
    are set up again (for the layout of that moment) after ``max_lag`` seconds."""

    def __init__(
        self,
        near: NearCache,
        targets: Callable[[], Awaitable[list[tuple[Any, tuple[str, ...]]]]],
        *,
        layout: Callable[[], Hashable] | None = None,
        errors: tuple[type[BaseException], ...],
        where: str,
    ) -> None:
        self.near = near
        self.targets = targets
        self.layout = layout
        self.errors = errors
        self.where = where
        self.task: asyncio.Task[None] | None = None
        self.sessions = 0  # tracking set-ups that succeeded (one per node)
        self.connected = 0  # nodes tracked right now
        self._warned = False
        self._closing = False
        self._confirmed: list[float] = []

    def start(self) -> None:
        """Start (or restart after close) the background task in the running loop."""
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        task, self.task = self.task, None
        self._closing = True
        while task is not None and not task.done():
            # a cancellation can be swallowed by a library call finishing at the same
            # moment; the flag ends the loop then, and cancelling again is harmless
            task.cancel()
            await asyncio.wait([task], timeout=0.1)
        self._closing = False
        self.near.lost()

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self._track()
            except self.errors as exc:
                self.near.lost()
                if not self._warned:
                    self._warned = True
                    logger.warning(
                        "near cache for %s paused (%s: %s); hits go to Redis until tracking "
                        "is back. HINT: the near cache needs Redis 6+ with CLIENT TRACKING "
                        "allowed",
                        self.where,
                        type(exc).__name__,
                        exc,
                    )
            await asyncio.sleep(self.near.max_lag)

    async def _track(self) -> None:
        """One session per node until any of them ends (its error is raised)."""
        targets = await self.targets()
        layout = self.layout() if self.layout is not None else None
        self._confirmed = [float("-inf")] * len(targets)
        loop = asyncio.get_running_loop()
        sessions = [
            loop.create_task(self._session(i, conn, prefixes, layout))
            for i, (conn, prefixes) in enumerate(targets)
        ]
        try:
            done, _ = await asyncio.wait(sessions, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self.near.lost()  # one node's announcements are missing from here on
            for task in sessions:
                task.cancel()
            await asyncio.wait(sessions)
            self.connected = 0

    async def _session(
        self, index: int, conn: Any, prefixes: tuple[str, ...], layout: Hashable
    ) -> None:
        near = self.near
        reader: asyncio.Task[None] | None = None
        pong = _Pong()
        try:
            await conn.connect()
            await conn.send_command("CLIENT", "ID")
            client_id = await conn.read_response()
            # broadcast mode, announced to this very connection once it subscribes
            args: list[Any] = ["CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST"]
            for prefix in prefixes:
                args += ["PREFIX", f"{prefix}e:", "PREFIX", f"{prefix}v:"]
            await conn.send_command(*args)
            await conn.read_response()
            await conn.send_command("SUBSCRIBE", _INVALIDATE)
            await conn.read_response()
            near.clear()  # announcements before this point were never seen
            self.sessions += 1
            self.connected += 1
            if self._warned and self.connected == len(self._confirmed):
                logger.warning("near cache for %s resumed", self.where)
                self._warned = False
            reader = asyncio.get_running_loop().create_task(self._read(conn, pong))
            interval = near.max_lag / 4
            previous: float | None = None
            n = 0
            while True:
                n += 1
                sent = near.monotonic()
                pong.answered.clear()
                await conn.send_command("PING", str(n))
                waiter = asyncio.ensure_future(pong.answered.wait())
                done, _ = await asyncio.wait(
                    {waiter, reader}, timeout=near.max_lag, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                if reader in done:
                    reader.result()  # the connection failed: raise its error
                if pong.n != n:
                    raise TimeoutError(f"no answer to PING within {near.max_lag}s")
                # one session checks the layout for all (a lookup per bucket in the slot map)
                if index == 0 and self.layout is not None and self.layout() != layout:
                    raise ConnectionResetError("the cluster moved buckets between nodes")
                if previous is not None:
                    # usable while the oldest confirmation of all the nodes is recent
                    self._confirmed[index] = previous
                    near.confirm(min(self._confirmed))
                previous = sent
                await asyncio.sleep(max(0.0, sent + interval - near.monotonic()))
        finally:
            if reader is not None:
                reader.cancel()
                await asyncio.wait([reader])
            await conn.disconnect(nowait=True)

    async def _read(self, conn: Any, pong: _Pong) -> None:
        near = self.near
        try:
            while True:
                reply = await conn.read_response(timeout=float("inf"))
                kind = reply[0]
                if kind == b"message" and reply[1] == _INVALIDATE:
                    near.announce(reply[2])
                elif kind == b"pong":
                    pong.n = int(reply[1])
                    pong.answered.set()
        except self.errors:
            near.lost()  # at once: announcements may be missing from here on
            raise


class _Pong:
    """The last PING one tracking connection answered."""

    __slots__ = ("answered", "n")

    def __init__(self) -> None:
        self.n = 0
        self.answered = asyncio.Event()

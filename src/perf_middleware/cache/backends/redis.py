"""Redis backend (``redis.asyncio``): shared by every worker, indexed, fail-open.

A lookup is one round trip: a script reads the entry (it carries its Vary list), checks the
versions of its tags, and on a miss reads the primary's Vary record instead.  Writes and
invalidations are Lua scripts, so indexes never disagree with the data.  Tags live in Redis
sets plus a version per tag recorded with each entry (see :mod:`redis_scripts`), patterns in
a lexically sorted set, so invalidation never scans the keyspace.  Any Redis error makes the
cache act empty (the request goes to the app); a circuit breaker stops waiting on a dead
server.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from perf_middleware.cache.backends import redis_scripts
from perf_middleware.cache.backends.base import (
    MISS,
    BackendStats,
    EventHook,
    Lookup,
    PingResult,
    url_path,
)
from perf_middleware.cache.backends.breaker import CircuitBreaker
from perf_middleware.cache.backends.redis_admin import (
    RedisAdmin,
    key_hash,
)
from perf_middleware.cache.backends.sealing import Sealer
from perf_middleware.cache.entry import CacheEntry, EntryFormatError, dump_entry, load_entry
from perf_middleware.options import check_callable, check_range, checked

__all__ = ["CacheBackendError", "RedisBackend"]

T = TypeVar("T")
logger = logging.getLogger("perf_middleware.cache")
_ERRORS = (RedisError, OSError, TimeoutError, EntryFormatError)


class CacheBackendError(RuntimeError):
    """An administrative cache operation could not reach the store."""


_hash = key_hash


@lru_cache(maxsize=512)
def _check_ranges(**values: float) -> None:
    """The numeric options' bounds (their types are checked by ``@checked``)."""
    above_zero = {"socket_timeout": 0.5, "connect_timeout": 1.0}
    at_least = {"max_connections": 1, "decoded_cache_bytes": 0, "breaker_threshold": 1}
    for option, value in values.items():
        if option in above_zero:
            hint = f"{option}={above_zero[option]} (seconds; the default)"
            check_range("RedisBackend", option, value, above=0, hint=hint)
        elif option in at_least:
            check_range("RedisBackend", option, value, minimum=at_least[option],
                        hint=f"{option}={at_least[option]} is the smallest accepted")  # fmt: skip
        else:
            check_range("RedisBackend", option, value, minimum=0, hint=f"{option}=5.0 (seconds)")


def _vary(raw: bytes) -> tuple[str, ...]:
    return tuple(json.loads(raw))


@checked(url='url="redis://127.0.0.1:6379/0" (or rediss://, unix://)')
class RedisBackend(RedisAdmin):
    """Response/function cache in Redis.

    Options (keyword-only, defaults in brackets):
      namespace ["pmcache"]: key prefix, so several apps can share one Redis.
      encryption_key [None]: AES-GCM key (16/24/32 bytes, or base64/hex text) to encrypt
        entries at rest; each entry is bound to its key so entries cannot be swapped.
      socket_timeout [0.5 s]: per-command timeout; a slow Redis counts as a failure.
      decoded_cache_bytes [32 MiB]: per-process memo of decoded entries, checked against the
        bytes Redis returns on every hit (so it never serves anything Redis does not hold).
      connect_timeout [1 s] / max_connections [64]: connection set-up and pool bound (waiting
        for a free pooled connection is bounded by connect_timeout too).
      breaker_threshold [3] / breaker_retry_after [5 s]: open the circuit after N consecutive
        errors, probe again after the delay.
      clock [time.time]: wall clock for admin ages; breaker_clock [time.monotonic]: the
        breaker's timer (inject one to test recovery without sleeping); events: metrics hook.
      client: an existing ``redis.asyncio.Redis`` (then ``url`` is ignored).
    """

    shared = True  # several processes: single-flight takes a lock key in Redis

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "pmcache",
        encryption_key: bytes | str | None = None,
        socket_timeout: float = 0.5,
        connect_timeout: float = 1.0,
        max_connections: int = 64,
        decoded_cache_bytes: int = 32 * 2**20,
        breaker_threshold: int = 3,
        breaker_retry_after: float = 5.0,
        clock: Callable[[], float] = time.time,
        breaker_clock: Callable[[], float] = time.monotonic,
        events: EventHook | None = None,
        client: Redis | None = None,
    ) -> None:
        _check_ranges(
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
            decoded_cache_bytes=decoded_cache_bytes,
            breaker_threshold=breaker_threshold,
            breaker_retry_after=breaker_retry_after,
        )
        for option, hook in (("clock", clock), ("breaker_clock", breaker_clock)):
            check_callable("RedisBackend", option, hook, hint=f"leave {option} unset")
        check_callable("RedisBackend", "events", events, hint="leave it unset", optional=True)
        self.url = url
        self.prefix = f"{namespace}:"
        self.clock = clock
        self.events = events
        self.stats = BackendStats()
        # kh -> (stored bytes, decoded entry): a hit whose bytes did not change skips
        # decryption, parsing and header building; Redis stays the source of truth
        self.decoded_cache_bytes = decoded_cache_bytes
        self._decoded: OrderedDict[str, tuple[bytes, CacheEntry, int]] = OrderedDict()
        self._decoded_size = 0
        self._policy_checked = False
        self.breaker = CircuitBreaker(
            f"redis {url}",
            threshold=breaker_threshold,
            retry_after=breaker_retry_after,
            clock=breaker_clock,
        )
        self.sealer = Sealer(encryption_key)
        if client is None:
            # a bounded pool: a burst of 1000 concurrent hits queues for 64 sockets instead
            # of opening 1000 connections (and timing out on connect under load)
            pool = BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=connect_timeout,
                socket_timeout=socket_timeout,
                socket_connect_timeout=connect_timeout,
                retry=Retry(NoBackoff(), 0),
            )
            client = Redis(connection_pool=pool)
        self.redis: Redis = client
        self._store = self.redis.register_script(redis_scripts.STORE)
        self._fetch = self.redis.register_script(redis_scripts.FETCH)
        self._drop = self.redis.register_script(redis_scripts.DROP)
        self._drop_primaries = self.redis.register_script(redis_scripts.DROP_PRIMARIES)
        self._invalidate_tags = self.redis.register_script(redis_scripts.INVALIDATE_TAGS)
        self._release = self.redis.register_script(redis_scripts.RELEASE)

    def __repr__(self) -> str:
        return f"RedisBackend({self.url!r}, namespace={self.prefix[:-1]!r})"

    def _event(self, name: str, amount: int = 1) -> None:
        if self.events is not None:
            self.events(name, amount)

    async def _guard(self, op: str, call: Callable[[], Awaitable[T]], default: T) -> T:
        """Run a request-path call; any store error yields ``default`` (fail open)."""
        if not self.breaker.allow():
            return default
        try:
            result = await call()
        except _ERRORS as exc:
            self._failed(op, exc)
            return default
        self.breaker.success()
        return result

    async def _admin(self, op: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run an admin call; errors become a clear :class:`CacheBackendError`."""
        try:
            result = await call()
        except _ERRORS as exc:
            self._failed(op, exc)
            raise CacheBackendError(
                f"cache {op} failed on {self.url}: {type(exc).__name__}: {exc}. "
                "HINT: check that Redis is running and reachable"
            ) from exc
        self.breaker.success()
        return result

    def _failed(self, op: str, exc: BaseException) -> None:
        self.stats.errors += 1
        self._event("error")
        if self.breaker.failure(op, exc):
            self._event("breaker_open")

    def _open(self, kh: str, data: bytes) -> CacheEntry:
        return load_entry(self.sealer.unseal(kh, redis_scripts.entry_bytes(data)))

    # -- request path --------------------------------------------------------------------
    async def get(self, primary: str, secondary: str) -> Lookup:
        kh = _hash(f"{primary}\x1f{secondary}" if secondary else primary)
        keys = [f"{self.prefix}e:{kh}", f"{self.prefix}p:{_hash(primary)}"]
        # ONE round trip: the entry (it carries its own Vary list) checked against its tags'
        # versions, or on a miss the primary's Vary record, so the caller can recompute the
        # secondary key from it
        reply: Any = await self._guard(
            "get", lambda: self._fetch(keys=keys, args=[self.prefix]), None
        )
        data = None if reply is None else reply[0]
        if data is None:
            self.stats.misses += 1
            vary_raw = reply[1] if reply is not None and len(reply) > 1 else None
            return MISS if vary_raw is None else Lookup(None, _vary(vary_raw))
        memo = self._decoded.get(kh)
        if memo is not None and memo[0] == data:
            # same bytes as last time: reuse the decoded entry and its precomputed headers
            self._decoded.move_to_end(kh)
            self.stats.hits += 1
            return Lookup(memo[1], memo[1].vary)
        try:
            entry = self._open(kh, data)
        except EntryFormatError as exc:
            self._failed("decode", exc)
            return MISS
        self._remember(kh, data, entry)
        self.stats.hits += 1
        return Lookup(entry, entry.vary)

    def _remember(self, kh: str, data: bytes, entry: CacheEntry) -> None:
        # charged: the stored bytes plus the decoded entry with its object overhead, so
        # tiny entries cannot make the memo hold far more than decoded_cache_bytes
        cost = len(data) + entry.size
        if cost > self.decoded_cache_bytes // 8:
            return
        old = self._decoded.pop(kh, None)
        if old is not None:
            self._decoded_size -= old[2]
        self._decoded[kh] = (data, entry, cost)
        self._decoded_size += cost
        while self._decoded_size > self.decoded_cache_bytes and self._decoded:
            _, (_data, _entry, dropped) = self._decoded.popitem(last=False)
            self._decoded_size -= dropped

    def store_command(self, entry: CacheEntry, ttl: float) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of the STORE script for ``entry`` (sets ``entry.expires_at``)."""
        entry.expires_at = self.clock() + ttl
        key = entry.key
        kh, ph = _hash(key), _hash(entry.primary)
        member = f"{url_path(entry.primary)}\x00{ph}"
        meta = json.dumps({"p": ph, "t": list(entry.tags), "u": member})
        p = self.prefix
        keys = [f"{p}e:{kh}", f"{p}p:{ph}", f"{p}pv:{ph}", f"{p}m", f"{p}x", f"{p}u", f"{p}tags"]
        keys += [f"{p}t:{tag}" for tag in entry.tags]
        args: list[Any] = [p, self.sealer.seal(kh, dump_entry(entry)), max(1, int(ttl * 1000))]
        args += [json.dumps(list(entry.vary)), entry.primary, kh, meta, entry.expires_at]
        args += [member, ph, os.urandom(8).hex() if entry.tags else "", *entry.tags]
        return keys, args

    async def set(self, entry: CacheEntry, ttl: float) -> bool:
        if ttl <= 0:
            return False
        keys, args = self.store_command(entry, ttl)

        async def call() -> bool:
            await self._store(keys=keys, args=args)
            return True

        stored = await self._guard("set", call, False)
        if stored:
            self.stats.stores += 1
            self._event("store")
            if not self._policy_checked:
                await self._check_policy()
        return stored

    async def _check_policy(self) -> None:
        """Warn once when Redis may evict the index keys URL and pattern invalidation read
        (tag invalidation is checked on every read and survives any eviction)."""
        self._policy_checked = True
        try:
            found = await self.redis.config_get("maxmemory-policy")
        except _ERRORS:
            return  # CONFIG is often disabled on managed Redis; the README says what to set
        policy = next(iter(found.values()), b"")
        policy = policy.decode() if isinstance(policy, bytes) else str(policy)
        if policy.startswith("allkeys"):
            logger.warning(
                "Redis at %s evicts with maxmemory-policy=%s: URL and pattern invalidation can "
                "miss entries whose index keys were evicted. HINT: set maxmemory-policy "
                "volatile-lru (every cache entry has a TTL; the indexes then stay)",
                self.url,
                policy,
            )

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        token = os.urandom(12).hex()

        async def call() -> str | None:
            ok = await self.redis.set(
                f"{self.prefix}l:{name}", token, nx=True, px=max(1, int(ttl * 1000))
            )
            return token if ok else None

        # a dead store must not block the caller: pretend the lock was taken
        return await self._guard("lock", call, token)

    async def release_lock(self, name: str, token: str) -> None:
        async def call() -> None:
            await self._release(keys=[f"{self.prefix}l:{name}"], args=[token])

        await self._guard("unlock", call, None)

    async def ping(self) -> PingResult:
        start = time.perf_counter()
        try:
            await self.redis.ping()
        except _ERRORS as exc:
            return PingResult(False, (time.perf_counter() - start) * 1000, f"{exc}")
        self.breaker.success()
        return PingResult(True, (time.perf_counter() - start) * 1000, self.url)

    async def close(self) -> None:
        await self.redis.aclose()

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

import asyncio
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError

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
from perf_middleware.cache.backends.buckets import MAX_BUCKETS, bucket_prefixes
from perf_middleware.cache.backends.near import NearCache, Tracker
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
_ERRORS = (RedisError, RedisClusterException, OSError, TimeoutError, EntryFormatError)


class CacheBackendError(RuntimeError):
    """An administrative cache operation could not reach the store."""


# the hit path hashes the same few keys over and over
_hash = lru_cache(maxsize=8192)(key_hash)


@lru_cache(maxsize=512)
def _check_ranges(**values: float) -> None:
    """The numeric options' bounds (their types are checked by ``@checked``)."""
    above_zero = {"socket_timeout": 0.5, "connect_timeout": 1.0, "near_cache_max_lag": 0.5}
    at_least = {"max_connections": 1, "decoded_cache_bytes": 0, "breaker_threshold": 1}
    at_least["near_cache_bytes"] = 0
    for option, value in values.items():
        if option == "cluster_buckets":
            if not 1 <= value <= MAX_BUCKETS:
                raise ValueError(
                    f"RedisBackend(cluster_buckets={value!r}) must be from 1 to {MAX_BUCKETS}. "
                    "HINT: cluster_buckets=64 (the default)"
                )
        elif option in above_zero:
            hint = f"{option}={above_zero[option]} (seconds; the default)"
            check_range("RedisBackend", option, value, above=0, hint=hint)
        elif option in at_least:
            check_range("RedisBackend", option, value, minimum=at_least[option],
                        hint=f"{option}={at_least[option]} is the smallest accepted")  # fmt: skip
        else:
            check_range("RedisBackend", option, value, minimum=0, hint=f"{option}=5.0 (seconds)")


def _vary(raw: bytes) -> tuple[str, ...]:
    return tuple(json.loads(raw))


def cluster_url(url: str, cluster: bool) -> tuple[str, bool]:
    """``(url redis-py understands, cluster?)``: ``redis+cluster://`` and
    ``rediss+cluster://`` select cluster mode."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.endswith("+cluster"):
        return f"{scheme.removesuffix('+cluster')}://{rest}", True
    return url, cluster


@checked(url='url="redis://127.0.0.1:6379/0" (or rediss://, unix://, redis+cluster://)')
class RedisBackend(RedisAdmin):
    """Response/function cache in Redis.

    Options (keyword-only, defaults in brackets):
      namespace ["pmcache"]: key prefix, so several apps can share one Redis: any text, and
        no namespace touches another's keys (``a`` and ``a:0`` are apart).  In keys the
        characters ``:%{}*?[]\\`` of the name are percent-encoded (``a:0`` becomes the
        prefix ``a%3A0:``); other names are written as they are (``pmcache:``).
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
      cluster [False]: talk to a Redis Cluster (ElastiCache/MemoryDB cluster mode, Valkey
        or Redis Cluster); a ``redis+cluster://`` or ``rediss+cluster://`` URL selects it
        too.  The URL names one seed node; the others are discovered.
      cluster_buckets [64]: in a cluster, the namespace is split into this many buckets,
        each with a hash tag of its own spread evenly over the slots, so one namespace uses
        every master; an entry (with all its Vary variants and index records) lives in the
        bucket of its URL, so every Lua script stays in one slot (no cross-slot errors).
        More buckets spread finer over many masters; tag invalidation, ``clear`` and
        ``purge_expired`` visit every bucket.  Every process of an application must use the
        same value (changing it leaves the old entries unreachable until they expire).
        1 to 256; ignored outside a cluster.
      near_cache_bytes [32 MiB]: per-process near cache of entries, served without asking
        Redis and kept coherent through Redis's ``CLIENT TRACKING`` (Redis 6+, see
        :mod:`near`); 0 turns it off.
      near_cache_max_lag [0.5 s]: the coherence bound: a write or invalidation by any
        process that completed more than this long ago is never hidden by a local copy; a
        lost tracking connection (in a cluster: one per master) empties the near cache
        within the same bound.
      client: an existing ``redis.asyncio.Redis`` or ``RedisCluster`` (then ``url`` is
        ignored; a ``RedisCluster`` client implies ``cluster``).
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
        near_cache_bytes: int = 32 * 2**20,
        near_cache_max_lag: float = 0.5,
        cluster: bool = False,
        cluster_buckets: int = 64,
        client: Redis | RedisCluster | None = None,
    ) -> None:
        _check_ranges(
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
            decoded_cache_bytes=decoded_cache_bytes,
            breaker_threshold=breaker_threshold,
            breaker_retry_after=breaker_retry_after,
            near_cache_bytes=near_cache_bytes,
            near_cache_max_lag=near_cache_max_lag,
            cluster_buckets=cluster_buckets,
        )
        for option, hook in (("clock", clock), ("breaker_clock", breaker_clock)):
            check_callable("RedisBackend", option, hook, hint=f"leave {option} unset")
        check_callable("RedisBackend", "events", events, hint="leave it unset", optional=True)
        self.url = url
        plain_url, cluster = cluster_url(url, cluster or isinstance(client, RedisCluster))
        self.cluster = cluster
        self.namespace = namespace
        # one bucket on a single node; in a cluster, buckets on every master (see buckets)
        self.prefixes = bucket_prefixes(
            namespace, cluster_buckets if cluster else 1, cluster=cluster
        )
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
        if client is None and cluster:
            client = RedisCluster.from_url(
                plain_url,
                max_connections=max_connections,
                socket_timeout=socket_timeout,
                socket_connect_timeout=connect_timeout,
                retry=Retry(NoBackoff(), 0),
            )
        if client is None:
            # a bounded pool: a burst of 1000 concurrent hits queues for 64 sockets instead
            # of opening 1000 connections (and timing out on connect under load)
            pool = BlockingConnectionPool.from_url(
                plain_url,
                max_connections=max_connections,
                timeout=connect_timeout,
                socket_timeout=socket_timeout,
                socket_connect_timeout=connect_timeout,
                retry=Retry(NoBackoff(), 0),
            )
            client = Redis(connection_pool=pool)
        self.redis: Any = client
        # a cluster client discovers the slots on first use; concurrent first commands
        # would each start that discovery and break one another's connections
        self._cold = cluster
        self._warming = asyncio.Lock()
        self.near: NearCache | None = None
        self.tracker: Tracker | None = None
        if near_cache_bytes > 0:
            self.near = NearCache(
                self.prefixes, max_bytes=near_cache_bytes, max_lag=near_cache_max_lag, clock=clock
            )
            self.tracker = Tracker(
                self.near,
                self._tracking_targets,
                layout=self._layout if cluster else None,
                errors=_ERRORS,
                where=repr(self),
            )
        self._store = self.redis.register_script(redis_scripts.STORE)
        self._fetch = self.redis.register_script(redis_scripts.FETCH)
        self._drop = self.redis.register_script(redis_scripts.DROP)
        self._drop_primaries = self.redis.register_script(redis_scripts.DROP_PRIMARIES)
        self._invalidate_tags = self.redis.register_script(redis_scripts.INVALIDATE_TAGS)
        self._release = self.redis.register_script(redis_scripts.RELEASE)

    def __repr__(self) -> str:
        return f"RedisBackend({self.url!r}, namespace={self.namespace!r})"

    def bucket(self, ph: str) -> str:
        """The key prefix of the bucket holding the primary key with hash ``ph``."""
        prefixes = self.prefixes
        return prefixes[int(ph[:8], 16) % len(prefixes)] if len(prefixes) > 1 else prefixes[0]

    def _layout(self) -> tuple[str, ...]:
        """The node of each bucket, from the cluster client's slot map (no round trip)."""
        return tuple(self.redis.get_node_from_key(p).name for p in self.prefixes)

    async def _tracking_targets(self) -> list[tuple[Any, tuple[str, ...]]]:
        """For the near cache: a new connection to each node holding buckets of this
        namespace, with the prefixes of the buckets it holds."""
        if not self.cluster:
            pool = self.redis.connection_pool
            return [(_plain_connection(pool.connection_class, pool.connection_kwargs),
                     self.prefixes)]  # fmt: skip
        # the client's slot map (refreshed by the request path on MOVED or a dead node;
        # re-initialising it here would close connections requests are using)
        await self.redis.initialize()
        by_node: dict[str, tuple[Any, list[str]]] = {}
        for prefix in self.prefixes:
            node = self.redis.get_node_from_key(prefix)
            by_node.setdefault(node.name, (node, []))[1].append(prefix)
        return [
            (_plain_connection(node.connection_class, node.connection_kwargs), tuple(held))
            for node, held in by_node.values()
        ]

    def _event(self, name: str, amount: int = 1) -> None:
        if self.events is not None:
            self.events(name, amount)

    async def _warm(self) -> None:
        async with self._warming:
            if self._cold:
                await self.redis.initialize()
                self._cold = False

    async def _guard(self, op: str, call: Callable[[], Awaitable[T]], default: T) -> T:
        """Run a request-path call; any store error yields ``default`` (fail open)."""
        if not self.breaker.allow():
            return default
        try:
            if self._cold:
                await self._warm()
            result = await call()
        except _ERRORS as exc:
            self._failed(op, exc)
            return default
        self.breaker.success()
        return result

    async def _admin(self, op: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run an admin call; errors become a clear :class:`CacheBackendError`."""
        try:
            if self._cold:
                await self._warm()
            result = await call()
        except _ERRORS as exc:
            if self.near is not None:
                self.near.clear()  # it may have half happened
            self._failed(op, exc)
            raise CacheBackendError(
                f"cache {op} failed on {self.url}: {type(exc).__name__}: {exc}. "
                "HINT: check that Redis is running and reachable"
            ) from exc
        if self.near is not None and op != "entry_info":
            # read-your-writes in this process without waiting for the announcement
            self.near.clear()
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
    def peek(self, primary: str, secondary: str) -> CacheEntry | None:
        """The near cache's copy of the entry, without a coroutine or a round trip (the
        cache stage tries this first); None means: ask :meth:`get`."""
        near = self.near
        if near is None:
            return None
        entry = near.get(_hash(f"{primary}\x1f{secondary}" if secondary else primary))
        if entry is not None:
            self.stats.hits += 1
        return entry

    async def get(self, primary: str, secondary: str) -> Lookup:
        kh = _hash(f"{primary}\x1f{secondary}" if secondary else primary)
        near = self.near
        mark = 0
        if near is not None:
            found = near.get(kh)
            if found is not None:
                self.stats.hits += 1
                return Lookup(found, found.vary)
            assert self.tracker is not None
            if self.tracker.task is None:
                self.tracker.start()
            mark = near.mark()
        ph = _hash(primary)
        p = self.bucket(ph)
        keys = [f"{p}e:{kh}", f"{p}p:{ph}"]
        # ONE round trip: the entry (it carries its own Vary list) checked against its tags'
        # versions, or on a miss the primary's Vary record, so the caller can recompute the
        # secondary key from it
        reply: Any = await self._guard("get", lambda: self._fetch(keys=keys, args=[p]), None)
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
            if near is not None:
                near.put(kh, memo[1], mark)
            return Lookup(memo[1], memo[1].vary)
        try:
            entry = self._open(kh, data)
        except EntryFormatError as exc:
            self._failed("decode", exc)
            return MISS
        self._remember(kh, data, entry)
        self.stats.hits += 1
        if near is not None:
            near.put(kh, entry, mark)
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
        p = self.bucket(ph)
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

        near = self.near
        kh = _hash(entry.key)
        if near is not None:
            near.drop(kh)
        stored = await self._guard("set", call, False)
        if near is not None:
            near.drop(kh)  # a fetch of the old version may have finished meanwhile
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
        key = f"{self.bucket(key_hash(name))}l:{name}"  # a miss: not worth the hit path's memo

        async def call() -> str | None:
            ok = await self.redis.set(key, token, nx=True, px=max(1, int(ttl * 1000)))
            return token if ok else None

        # a dead store must not block the caller: pretend the lock was taken
        return await self._guard("lock", call, token)

    async def release_lock(self, name: str, token: str) -> None:
        async def call() -> None:
            await self._release(keys=[f"{self.bucket(key_hash(name))}l:{name}"], args=[token])

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
        if self.tracker is not None:
            await self.tracker.close()
        await self.redis.aclose()


def _plain_connection(kind: Any, kwargs: dict[str, Any]) -> Any:
    """An unconnected tracking connection like the client's own, in RESP2: announcements
    then arrive as plain pub/sub messages on it (redis-py's maintenance notifications need
    RESP3, so they stay off); no socket timeout: the tracker bounds every wait itself, and
    redis-py's timed writes can swallow a cancellation on close."""
    plain = {k: v for k, v in kwargs.items() if not k.startswith("maint_notifications")}
    return kind(**{**plain, "protocol": 2, "socket_timeout": None})

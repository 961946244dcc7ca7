"""The backend protocol every response-cache store implements, plus its small value types.

The cache stage, ``@cached`` and the admin API only ever talk to this protocol, so a new store
(memcached, a database) is one class.  Backends never raise on the request path: a broken store
answers like an empty one and reports through ``stats``/``events``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

from perf_middleware.cache.entry import CacheEntry

EventHook = Callable[[str, int], None]
"""``events(name, amount)`` — called for ``hit``, ``miss``, ``store``, ``eviction``,
``invalidation``, ``error``, ``breaker_open``; the metrics stage plugs its counters in here."""


class Lookup(NamedTuple):
    """Result of :meth:`CacheBackend.get`.

    ``vary`` is the request-header list stored for the primary key (``None`` when nothing is
    stored under it).  When it differs from the one the caller used to build ``secondary``,
    the caller recomputes the secondary key and asks again.
    """

    entry: CacheEntry | None
    vary: tuple[str, ...] | None


MISS = Lookup(None, None)


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """What the admin API shows about one stored entry."""

    key: str
    url: str
    status: int
    stored_at: float
    age: float
    ttl: float
    size: int
    tags: tuple[str, ...]
    variants: tuple[str, ...]
    vary: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PingResult:
    """Health of a backend: ``ok`` and the round-trip latency in milliseconds."""

    ok: bool
    latency_ms: float
    detail: str = ""


@dataclass(slots=True)
class BackendStats:
    """Plain counters kept by every backend (cheap; exported by the metrics stage)."""

    hits: int = 0
    misses: int = 0
    stores: int = 0
    evictions: int = 0
    invalidations: int = 0
    errors: int = 0
    entries: int = 0
    bytes: int = 0
    extra: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class CacheBackend(Protocol):
    """Storage for :class:`CacheEntry` objects, keyed by primary + secondary key."""

    stats: BackendStats

    async def get(self, primary: str, secondary: str) -> Lookup:
        """The entry under (primary, secondary) and the Vary list stored for primary."""

    async def set(self, entry: CacheEntry, ttl: float) -> bool:
        """Store ``entry`` for at most ``ttl`` seconds; False when it was not stored."""

    async def invalidate_url(self, url: str) -> int:
        """Drop every variant stored for ``url`` (``https://host/path?query``, a primary key;
        a bare ``/path?query`` means that path on every host); returns entries removed."""

    async def invalidate_tags(self, tags: Iterable[str]) -> int:
        """Drop every entry carrying any of ``tags``; returns entries removed."""

    async def invalidate_pattern(self, pattern: str) -> int:
        """Drop entries whose path (``/a/*``) or URL (``https://h/a/*``) matches a glob."""

    async def purge_expired(self) -> int:
        """Remove entries past ``expires_at`` and their index records; returns the count."""

    async def clear(self) -> int:
        """Remove everything this backend stored (its namespace only)."""

    async def entry_info(self, key_or_url: str) -> list[EntryInfo]:
        """Describe the entries under a primary key or URL (one per Vary variant)."""

    async def ping(self) -> PingResult:
        """Check the store answers, with latency."""

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        """Try to take a short-lived cross-process lock; a token on success, else None."""

    async def release_lock(self, name: str, token: str) -> None:
        """Release a lock taken with :meth:`acquire_lock` (only if still ours)."""

    async def close(self) -> None:
        """Release connections."""


def url_path(primary: str) -> str:
    """Path and query of a primary URL key (``https://h/p?q`` -> ``/p?q``)."""
    scheme_end = primary.find("://")
    if scheme_end < 0:
        return primary
    slash = primary.find("/", scheme_end + 3)
    return primary[slash:] if slash >= 0 else "/"


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """Glob for invalidation: ``*`` matches any run of characters (``/`` included) and
    everything else is literal, so ``?`` in a query is not a wildcard.  A pattern starting
    with ``/`` is matched against path+query; one containing ``://`` against the whole URL.

    Matching never backtracks (see :func:`glob_match`): paths are client-controlled, so a
    regex with several ``.*`` could be made to run for minutes on the event loop."""
    if not pattern or not (pattern.startswith("/") or "://" in pattern):
        raise ValueError(
            f"invalidation pattern {pattern!r} must start with '/' or a scheme://host. "
            "HINT: use invalidate_pattern('/presentations/*')"
        )
    parts = tuple(pattern.split("*"))
    if "://" in pattern:
        return lambda primary: glob_match(parts, primary)
    return lambda primary: glob_match(parts, url_path(primary))


def glob_match(parts: tuple[str, ...], text: str) -> bool:
    """Whether ``text`` matches the glob whose literal pieces between ``*`` are ``parts``
    (``"/a/*.json".split("*")``).

    With ``*`` the only wildcard, taking the leftmost occurrence of each middle piece is
    always right (a later occurrence can only leave less room for the rest), so one
    left-to-right pass of ``str.find`` decides: O(len(text) * len(pattern)) at worst and
    never exponential, unlike a backtracking regex of ``.*`` runs."""
    first = parts[0]
    if len(parts) == 1:
        return text == first
    last = parts[-1]
    if len(text) < len(first) + len(last) or not text.startswith(first):
        return False
    if not text.endswith(last):
        return False
    pos = len(first)
    end = len(text) - len(last)
    for piece in parts[1:-1]:
        if not piece:
            continue
        found = text.find(piece, pos, end)
        if found < 0:
            return False
        pos = found + len(piece)
    return True


def literal_prefix(pattern: str) -> str:
    """The part of a glob before its first ``*`` (used to range-scan a sorted index)."""
    star = pattern.find("*")
    return pattern if star < 0 else pattern[:star]

"""The stored cache entry and its byte format (shared by every backend).

An entry is everything a hit needs without touching the application: status, the stored
end-to-end headers, the body in every content coding worth keeping, validators, the RFC 9111
age inputs and the directives that decide whether a stale copy may still be used.  The byte
format is versioned so a Redis shared by two releases never feeds one garbage it cannot read.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

import zstandard

MAGIC = b"PMC1"
_HEADER = struct.Struct(">4sI")
# identity bodies at least this large are kept compressed at rest when that saves space
AT_REST_MIN = 1024
_AT_REST_LEVEL = 3

# CPython object sizes behind :attr:`CacheEntry.size` (``sys.getsizeof`` on 3.11, 64-bit):
# the entry with its bodies and derived dicts and headers tuple, plus the Variant a hit
# memoises (its object, header lists and Content-Length field); a header pair's tuple, two
# bytes objects and tuple slot; a body's bytes object and dict slot; a str.
ENTRY_OBJECTS = 192 + 184 + 64 + 48 + 400
HEADER_OBJECTS = 56 + 2 * 33 + 8
BODY_OBJECTS = 33 + 48
STR_OBJECT = 49


class EntryFormatError(ValueError):
    """Stored bytes are not an entry this version can read (treated as a miss)."""


@dataclass(slots=True, eq=False)
class CacheEntry:
    """One stored response (or function result) under ``primary`` + ``secondary`` key."""

    primary: str
    """Primary key: the normalised request URL, or ``fn:<qualname>:<hash>`` for @cached."""
    secondary: str = ""
    """Secondary key built from the request headers named in ``vary`` ("" when none)."""
    vary: tuple[str, ...] = ()
    status: int = 200
    headers: tuple[tuple[bytes, bytes], ...] = ()
    """Stored response headers, lower-case names, without framing/coding/hop-by-hop fields."""
    bodies: dict[str, bytes] = field(default_factory=dict)
    """Content coding ("identity", "zstd", "br", "gzip") -> bytes of that representation."""
    etag: str | None = None
    last_modified: int | None = None
    request_time: float = 0.0
    response_time: float = 0.0
    corrected_initial_age: float = 0.0
    freshness_lifetime: float = 0.0
    stale_while_revalidate: float = 0.0
    stale_if_error: float = 0.0
    must_revalidate: bool = False
    """must-revalidate, proxy-revalidate or s-maxage: never serve this stale."""
    no_cache: bool = False
    """Stored, but every use must be validated with the origin first."""
    tags: tuple[str, ...] = ()
    expires_at: float = 0.0
    """Wall-clock time after which a backend may drop the entry (beyond any stale use)."""
    identity_from: str | None = None
    """Coding the identity body is derived from when it was not stored separately."""
    derived: dict[Any, Any] = field(default_factory=dict)
    """Per-process memo (precomputed header lists); never serialised."""

    @property
    def key(self) -> str:
        return f"{self.primary}\x1f{self.secondary}" if self.secondary else self.primary

    def age(self, now: float) -> float:
        """RFC 9111 §4.2.3 current_age."""
        resident = now - self.response_time
        return self.corrected_initial_age + (resident if resident > 0.0 else 0.0)

    def ttl(self, now: float) -> float:
        """Seconds of freshness left (negative when stale)."""
        return self.freshness_lifetime - self.age(now)

    def body(self, coding: str = "identity") -> bytes:
        """The representation in ``coding``; the identity body is decoded once if needed."""
        data = self.bodies.get(coding)
        if data is not None:
            return data
        if coding == "identity" and self.identity_from is not None:
            data = _decode(self.identity_from, self.bodies[self.identity_from])
            self.bodies["identity"] = data
            return data
        raise KeyError(coding)

    @property
    def codings(self) -> tuple[str, ...]:
        """Stored content codings other than identity, in insertion (preference) order
        (memoised: the hit path asks on every request)."""
        found = self.derived.get("codings")
        if found is None:
            found = self.derived["codings"] = tuple(c for c in self.bodies if c != "identity")
        return found

    @property
    def size(self) -> int:
        """Approximate bytes this entry holds in a process: payload plus the Python objects
        around it (including the variant a hit memoises), so that a byte budget means
        memory even for tiny responses."""
        headers = sum(len(k) + len(v) + HEADER_OBJECTS for k, v in self.headers)
        bodies = sum(len(b) + BODY_OBJECTS for b in self.bodies.values())
        strings = len(self.primary) + len(self.secondary) + 2 * STR_OBJECT
        strings += sum(len(tag) + STR_OBJECT for tag in self.tags)
        return ENTRY_OBJECTS + bodies + headers + strings


def _decode(coding: str, data: bytes) -> bytes:
    if coding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    if coding == "br":
        import brotli

        result: bytes = brotli.decompress(data)
        return result
    if coding == "gzip":
        import gzip

        return gzip.decompress(data)
    raise EntryFormatError(f"unknown stored content coding {coding!r}")


_META_FIELDS = (
    "primary",
    "secondary",
    "status",
    "etag",
    "last_modified",
    "request_time",
    "response_time",
    "corrected_initial_age",
    "freshness_lifetime",
    "stale_while_revalidate",
    "stale_if_error",
    "must_revalidate",
    "no_cache",
    "expires_at",
)


def dump_entry(entry: CacheEntry, *, compress_at_rest: bool = True) -> bytes:
    """Serialise an entry: magic, meta length, JSON meta, then the bodies back to back.

    The identity body is dropped when a zstd copy exists (it is decoded on first use) or
    stored zstd-compressed when that saves at least 10 %: most text is stored compressed
    already, so a second copy would double the footprint for no speed gain.
    """
    meta: dict[str, Any] = {name: getattr(entry, name) for name in _META_FIELDS}
    meta["vary"] = list(entry.vary)
    meta["tags"] = list(entry.tags)
    meta["headers"] = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in entry.headers]
    bodies = dict(entry.bodies)
    identity_from = entry.identity_from
    at_rest: str | None = None
    identity = bodies.get("identity")
    if compress_at_rest and identity is not None and len(identity) >= AT_REST_MIN:
        if "zstd" in bodies:
            del bodies["identity"]
            identity_from = "zstd"
        else:
            packed = zstandard.ZstdCompressor(level=_AT_REST_LEVEL).compress(identity)
            if len(packed) <= len(identity) * 0.9:
                bodies["identity"] = packed
                at_rest = "zstd"
    meta["identity_from"] = identity_from
    meta["at_rest"] = at_rest
    meta["bodies"] = [[coding, len(data)] for coding, data in bodies.items()]
    raw_meta = json.dumps(meta, separators=(",", ":")).encode()
    return b"".join([_HEADER.pack(MAGIC, len(raw_meta)), raw_meta, *bodies.values()])


def load_entry(data: bytes) -> CacheEntry:
    """Inverse of :func:`dump_entry`; raises :class:`EntryFormatError` on foreign bytes."""
    if len(data) < _HEADER.size:
        raise EntryFormatError("stored cache entry is truncated")
    magic, meta_len = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise EntryFormatError(f"stored cache entry has magic {magic!r}, expected {MAGIC!r}")
    offset = _HEADER.size + meta_len
    try:
        meta = json.loads(data[_HEADER.size : offset])
        bodies: dict[str, bytes] = {}
        for coding, length in meta["bodies"]:
            bodies[coding] = data[offset : offset + length]
            offset += length
        if meta.get("at_rest") == "zstd":
            bodies["identity"] = _decode("zstd", bodies["identity"])
        entry = CacheEntry(
            vary=tuple(meta["vary"]),
            tags=tuple(meta["tags"]),
            headers=tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in meta["headers"]),
            bodies=bodies,
            identity_from=meta["identity_from"],
            **{name: meta[name] for name in _META_FIELDS},
        )
    except (KeyError, TypeError, ValueError, zstandard.ZstdError) as exc:
        raise EntryFormatError(f"stored cache entry is corrupt: {exc}") from exc
    if offset != len(data):
        raise EntryFormatError("stored cache entry has trailing bytes")
    return entry

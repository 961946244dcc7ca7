"""Encoded bodies remembered by content hash, so identical dynamic responses compress once.

Many dynamic responses repeat byte for byte: the same page for every anonymous visitor, the
same JSON list until the data changes. The pipeline already hashes a complete body for its
ETag (blake3, 128 bits), so the encoded bytes can be looked up by that digest and the coding
at the cost of one dict access, while the application still runs for every request (this is
not a response cache: headers, status and freshness stay the app's).

Admission is on the second sighting of a digest: a body seen once costs a key in a bounded
"seen" table, not memory for its encoded bytes, so a stream of unique bodies never churns
the store. Entries are evicted least recently used once ``max_bytes`` of encoded output is
held. Used from the event loop only (the pipeline compresses off the loop but looks up and
stores on it), so it needs no lock.
"""

from __future__ import annotations

from collections import OrderedDict

MemoKey = tuple[bytes, str]


class EncodedMemo:
    """``(digest, coding) -> encoded body`` with LRU eviction by total encoded bytes.

    ``max_entry`` bounds the identity body size worth remembering (the digest of a huge body
    costs as much as compressing it at a fast level, and one entry must not flush the rest).
    """

    __slots__ = ("_entries", "_seen", "bytes", "hits", "max_bytes", "max_entry", "max_seen")

    def __init__(self, max_bytes: int, *, max_entry: int | None = None, max_seen: int = 4096):
        if max_bytes < 0:
            raise ValueError(
                f"memo size {max_bytes} is negative. HINT: use 0 to switch the memo off."
            )
        self.max_bytes = max_bytes
        self.max_entry = max_entry if max_entry is not None else max_bytes // 8
        self.max_seen = max_seen
        self._entries: OrderedDict[MemoKey, bytes] = OrderedDict()
        self._seen: dict[MemoKey, None] = {}
        self.bytes = 0
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def accepts(self, size: int) -> bool:
        """Whether an identity body of ``size`` bytes is remembered at all."""
        return 0 < size <= self.max_entry

    def get(self, digest: bytes, coding: str) -> bytes | None:
        key = (digest, coding)
        encoded = self._entries.get(key)
        if encoded is not None:
            self._entries.move_to_end(key)
            self.hits += 1
        return encoded

    def put(self, digest: bytes, coding: str, encoded: bytes) -> bool:
        """Remember ``encoded`` if this is the second sighting; True when stored."""
        key = (digest, coding)
        if key in self._entries or len(encoded) > self.max_bytes:
            return False
        if key not in self._seen:
            if len(self._seen) >= self.max_seen:
                self._seen.clear()  # a flood of unique bodies: forget them all, stay bounded
            self._seen[key] = None
            return False
        del self._seen[key]
        self._entries[key] = encoded
        self.bytes += len(encoded)
        while self.bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.bytes -= len(dropped)
        return True

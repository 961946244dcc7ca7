"""Where a namespace's keys live: one key prefix per bucket.

Several applications share one Redis, each under its own namespace, so no key of one
namespace may be a key of another, and a ``SCAN MATCH`` of one namespace's prefix may match
no other's.  The namespace is therefore written into keys escaped (:func:`escape_namespace`):
``:``, ``%``, ``{``, ``}`` and the glob metacharacters ``*?[]\\`` are percent-encoded
(RFC 3986 style: ``:`` becomes ``%3A``), every other character is kept (``pmcache`` keeps the
prefix ``pmcache:``).  The escaped name holds no ``:``, so the
first ``:`` of a key ends it and one namespace's prefix is never the start of another's
(``a:`` does not begin ``a%3A0:``, nor ``a:v:<tag>`` namespace ``a:v``'s ``a%3Av:x``),
whatever the rest of the key; it holds no brace, so it stays inside a cluster hash tag, and
no glob syntax, so a ``MATCH`` on it is literal; ``%`` itself is escaped, so two names never
escape alike.

On one Redis node a namespace is one bucket, prefix ``<namespace>:``.  In a Redis Cluster a
namespace whose keys all shared one hash tag would live in one slot, on one master, however
many masters the cluster has.  So there it is split into ``count`` buckets, each a hash tag
of its own (``{<namespace>:<bucket>:<n>}:``), and every bucket holds a complete set of the
indexes and tag versions described in :mod:`redis_scripts`: each script still touches one
slot (no CROSSSLOT), and the buckets spread the namespace over every master.

``n`` is the first counter that puts bucket ``i`` into the middle of the ``i``-th of
``count`` equal slot ranges (CRC16 of the hash tag, Redis Cluster spec "Keys distribution
model"), so the buckets cover the 16384 slots evenly: however the slots are divided among
masters in ranges, each master holds buckets in proportion to its slots.  An entry's bucket
is a function of its primary key's hash, so all Vary variants of a URL, its ``p:``/``pv:``
records and its index records share one slot.  Every process computes the same prefixes
from the same options.
"""

from __future__ import annotations

from functools import lru_cache

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

__all__ = ["MAX_BUCKETS", "bucket_prefixes", "escape_namespace"]

MAX_BUCKETS = 256
# the key separator, "%" (so escaping stays one-to-one), hash tag braces, SCAN glob syntax
_ESCAPED = str.maketrans({c: f"%{ord(c):02X}" for c in ":%{}*?[]\\"})


def escape_namespace(namespace: str) -> str:
    """``namespace`` as it is written into keys: without ``:``, braces or glob syntax."""
    return namespace.translate(_ESCAPED)


@lru_cache(maxsize=64)
def bucket_prefixes(namespace: str, count: int, *, cluster: bool) -> tuple[str, ...]:
    """The key prefix of each bucket (one, ``<namespace>:``, outside a cluster), with the
    namespace escaped."""
    namespace = escape_namespace(namespace)
    if not cluster:
        return (f"{namespace}:",)
    width = REDIS_CLUSTER_HASH_SLOTS / count
    prefixes = []
    for bucket in range(count):
        # the middle half of the bucket's share: a master holding a contiguous range of
        # slots gets the buckets whose share is mostly its own
        lo, hi = round((bucket + 0.25) * width), round((bucket + 0.75) * width)
        n = 0
        # a slot lands there with probability 1/(2 count): ``2 count`` CRC16s per bucket on
        # average, computed once per process and options
        while not lo <= key_slot(f"{{{namespace}:{bucket}:{n}}}".encode()) < hi:
            n += 1
        prefixes.append(f"{{{namespace}:{bucket}:{n}}}:")
    return tuple(prefixes)

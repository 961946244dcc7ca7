"""Redis Cluster: how one namespace's keys and load spread over the masters.

``python -m benchmarks.cluster_spread [--urls 3000] [--reads 30000] [--buckets 1,16,64,256]``

Starts a local 3-master Redis Cluster (the test suite's ``RedisClusterServer``) and, for
each ``cluster_buckets`` value of ``--buckets`` in the same run (1: the whole namespace in
one slot, as one hash tag would put it): stores ``--urls`` entries (small JSON, two tags
each), reads ``--reads`` random URLs through ``RedisBackend.get`` with the near cache off
(every read a round trip, 32 at a time), then invalidates a tag of 10 % of the entries and
a tag of one entry (tag invalidation visits every bucket).  Printed per master: the keys it
holds (``DBSIZE``), the commands it ran and the CPU seconds it used (``INFO`` deltas) during
the reads, and the share of the busiest master; the figure that matters is that share (1/3
is an even spread over three masters).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

from redis.asyncio import Redis
from tests.support.servers import RedisClusterServer

from perf_middleware.cache.backends.redis import RedisBackend
from perf_middleware.cache.entry import CacheEntry


def entry(url: str, i: int) -> CacheEntry:
    return CacheEntry(
        primary=url,
        secondary="",
        vary=(),
        status=200,
        headers=((b"content-type", b"application/json"),),
        bodies={"identity": b'{"page": %d}' % i},
        etag=f'"{i}"',
        response_time=time.time(),
        freshness_lifetime=600,
        tags=(f"page:{i}", f"group:{i % 10}"),
    )


async def node_stats(ports: list[int]) -> dict[int, tuple[int, int, float]]:
    """port -> (keys, commands processed, CPU seconds) of each master."""
    stats = {}
    for port in ports:
        node = Redis(port=port)
        info = await node.info()
        keys = await node.dbsize()
        await node.aclose()
        cpu = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        stats[port] = (int(keys), int(info["total_commands_processed"]), cpu)
    return stats


async def measure(cluster: RedisClusterServer, buckets: int, urls: int, reads: int) -> None:
    cluster.flush()
    ports = list(cluster.processes)
    store = RedisBackend(
        cluster.url, namespace="spread", cluster_buckets=buckets, near_cache_bytes=0
    )
    pages = [f"https://example.test/p/{i}" for i in range(urls)]
    for start in range(0, urls, 32):
        chunk = range(start, min(start + 32, urls))
        await asyncio.gather(*(store.set(entry(pages[i], i), 600) for i in chunk))
    before = await node_stats(ports)
    rng = random.Random(7)
    began = time.perf_counter()
    for _ in range(0, reads, 32):
        found = await asyncio.gather(*(store.get(rng.choice(pages), "") for _ in range(32)))
        assert all(lookup.entry is not None for lookup in found)
    elapsed = time.perf_counter() - began
    after = await node_stats(ports)
    timings = []
    for tag in ("group:3", "page:5"):
        began = time.perf_counter()
        dropped = await store.invalidate_tags([tag])
        timings.append(f"{tag}: {dropped} entries in {(time.perf_counter() - began) * 1000:.1f} ms")
    await store.close()
    commands = {p: after[p][1] - before[p][1] for p in ports}
    cpu = {p: after[p][2] - before[p][2] for p in ports}
    print(f"\ncluster_buckets={buckets}: {urls} URLs, {reads} round-trip reads in {elapsed:.2f}s")
    print(f"{'master':>8} {'keys':>7} {'commands':>9} {'CPU s':>7}")
    for port in ports:
        print(f"{port:>8} {after[port][0]:>7} {commands[port]:>9} {cpu[port]:>7.2f}")
    keys = [after[p][0] for p in ports]
    print(
        f"busiest master's share: keys {max(keys) / sum(keys):.2f}, "
        f"commands {max(commands.values()) / max(1, sum(commands.values())):.2f}, "
        f"CPU {max(cpu.values()) / max(1e-9, sum(cpu.values())):.2f}  (even: 0.33)"
    )
    print("invalidate_tags " + ", ".join(timings))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=3000)
    parser.add_argument("--reads", type=int, default=30000)
    parser.add_argument("--buckets", default="1,16,64,256", help="comma-separated")
    args = parser.parse_args(argv)
    cluster = RedisClusterServer(Path(tempfile.mkdtemp(prefix="bench-spread-")))
    cluster.start()
    try:
        for buckets in (int(b) for b in args.buckets.split(",")):
            asyncio.run(measure(cluster, buckets, args.urls, args.reads))
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

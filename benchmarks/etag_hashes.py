"""What an ETag over a whole body costs, by hash: CPU time per call on the unique 50 KB page.

``python -m benchmarks.etag_hashes [--calls 3000] [--rounds 7]``

The hashes run interleaved in one process, each round ``--calls`` calls on the same body;
the table shows the best round per hash (the least disturbed by other work on the machine).
CRC-32 (zlib's) is listed for scale, not as a candidate: 32 bits cannot name every version
of a resource.
"""

from __future__ import annotations

import argparse
import hashlib
import time
import zlib
from collections.abc import Callable, Sequence

from blake3 import blake3

from benchmarks.dynamic import unique_html
from benchmarks.harness import print_table

HASHES: dict[str, Callable[[bytes], object]] = {
    "blake3 (128-bit output, the ETag)": lambda b: blake3(b).digest(16),
    "SHA-256": lambda b: hashlib.sha256(b).digest(),
    "SHA-1": lambda b: hashlib.sha1(b).digest(),
    "BLAKE2b-128": lambda b: hashlib.blake2b(b, digest_size=16).digest(),
    "MD5": lambda b: hashlib.md5(b).digest(),
    "CRC-32 (for scale, not an ETag)": zlib.crc32,
}


def run(calls: int, rounds: int) -> None:
    body = unique_html(1)
    best = dict.fromkeys(HASHES, float("inf"))
    for _ in range(rounds):
        for name, digest in HASHES.items():
            started = time.process_time()
            for _ in range(calls):
                digest(body)
            best[name] = min(best[name], (time.process_time() - started) / calls)
    rows = [[name, f"{seconds * 1e6:.1f}"] for name, seconds in best.items()]
    print_table(f"hash of the {len(body):,}-byte unique page", ["hash", "µs per call"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    run(args.calls, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The worker pool the build runs scanners, processors and compressors in."""

from __future__ import annotations

import hashlib

from asset_pipeline.build_scan import BATCH_BYTES, Workers, batches


def digest(data: bytes, salt: str) -> str:
    return hashlib.sha256(salt.encode() + data).hexdigest()


def test_small_jobs_travel_in_batches_and_large_ones_alone() -> None:
    """A round trip to a worker costs about as much as compressing a few kilobytes, so
    a tree of small modules sends them in batches of at least ``BATCH_BYTES``."""
    big = (b"x" * BATCH_BYTES, "a")
    small = (b"y" * 1000, "b")
    jobs = [big, big, *[small] * 200]
    groups = batches(jobs)
    assert groups[:2] == [[0], [1]]
    assert sorted(i for g in groups for i in g) == list(range(len(jobs)))
    assert len(groups) <= 2 + 200 * 1000 // BATCH_BYTES + 1
    assert all(sum(len(jobs[i][0]) for i in g) >= BATCH_BYTES for g in groups[:-1])


def test_pooled_results_match_serial_ones() -> None:
    jobs = [(bytes([i % 256]) * (i * 37 % 5000), str(i)) for i in range(300)]
    with Workers(2) as pooled:
        got = dict(pooled.map_unordered(digest, jobs))
    with Workers(1) as serial:
        assert got == dict(serial.map_unordered(digest, jobs))
    assert len(got) == 300

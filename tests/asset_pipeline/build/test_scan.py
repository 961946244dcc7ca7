"""The worker pool the build runs scanners, processors and compressors in, and what
libraries say while a job runs (the build's warnings, named after the file)."""

from __future__ import annotations

import hashlib
import logging
import warnings

import pytest

from asset_pipeline.build.scan import BATCH_BYTES, Workers, batches, library_messages


def test_logs_and_warnings_are_collected_once_each_naming_the_file(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with library_messages("img/a.png") as notes:
        for _ in range(3):
            logging.getLogger("PIL.PngImagePlugin").warning("odd chunk %s", "zTXt")
        logging.getLogger("fontTools.subset").info("progress chatter")
        warnings.warn("Palette images with Transparency", UserWarning, stacklevel=1)
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
    assert notes == [
        "img/a.png: odd chunk zTXt (PIL.PngImagePlugin)",
        "img/a.png: Palette images with Transparency (UserWarning)",
    ]
    assert capfd.readouterr() == ("", "")


def test_the_handler_is_removed_when_the_job_fails() -> None:
    handlers = list(logging.getLogger().handlers)
    with pytest.raises(ValueError), library_messages("a.css"):
        raise ValueError("processor failed")
    assert logging.getLogger().handlers == handlers


def test_this_packages_own_warnings_carry_no_logger_name() -> None:
    with library_messages() as notes:
        logging.getLogger("asset_pipeline.sw.hook").warning("not precaching %s", "a.js")
    assert notes == ["not precaching a.js"]


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

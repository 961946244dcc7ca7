"""The capture a cache stage hands the pipeline: bounded, so a large response is not kept."""

from __future__ import annotations

from perf_middleware.pipeline.capture import Capture


def test_capture_is_bounded() -> None:
    capture = Capture(limit=10)
    capture.add(b"12345")
    capture.add(b"67890")
    assert bytes(capture.body) == b"1234567890"
    assert not capture.overflow
    capture.add(b"x")
    assert capture.overflow
    assert bytes(capture.body) == b""
    capture.add(b"y")
    assert bytes(capture.body) == b""

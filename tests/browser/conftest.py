"""Fixtures of the service-worker browser tests: a built site under uvicorn, a context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.sw_app import SOURCES, build, make_app
from tests.browser.sw_support import WAIT_MS
from tests.support.servers import UvicornServer


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, UvicornServer, Any]]:
    dist = tmp_path / "dist"
    dist.mkdir()
    _, worker = build(dist, SOURCES)
    server = UvicornServer(make_app(dist))
    server.start()
    try:
        yield dist, server, worker
    finally:
        server.stop()


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    ctx = chromium.new_context(service_workers="allow")
    ctx.set_default_timeout(WAIT_MS)
    try:
        yield ctx
    finally:
        ctx.close()

"""Fixtures of the service-worker browser tests: a built site under uvicorn, a context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.sw_app import SOURCES, build, make_app
from tests.browser.sw_support import WAIT_MS
from tests.support.browser import browser_context
from tests.support.servers import UvicornServer


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, UvicornServer, Any]]:
    dist = tmp_path / "dist"
    dist.mkdir()
    _, worker = build(dist, SOURCES)
    with UvicornServer(make_app(dist)) as server:
        yield dist, server, worker


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    yield from browser_context(chromium, WAIT_MS, service_workers="allow")

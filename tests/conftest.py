"""Fixtures shared by the whole suite: real Redis, S3 (moto server) and Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.servers import MotoS3Server, RedisClusterServer, RedisServer, running

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session; tests call ``flush()`` or use their own DB."""
    yield from running(RedisServer(tmp_path_factory.mktemp("redis")))


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, for tests that stop and restart it."""
    yield from running(RedisServer(tmp_path))


@pytest.fixture(scope="session")
def redis_cluster_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServer]:
    """A real 3-master Redis Cluster for the session (``redis-cli --cluster create``)."""
    yield from running(RedisClusterServer(tmp_path_factory.mktemp("redis-cluster")))


@pytest.fixture
def redis_cluster_url(redis_cluster_server: RedisClusterServer) -> str:
    redis_cluster_server.flush()
    return redis_cluster_server.url


@pytest.fixture
def private_redis_cluster(tmp_path: Path) -> Iterator[RedisClusterServer]:
    """A Redis Cluster of the test's own, for tests that kill and restart a master."""
    yield from running(RedisClusterServer(tmp_path))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3Server]:
    yield from running(MotoS3Server())


@pytest.fixture
def s3_endpoint(s3_server: MotoS3Server) -> str:
    s3_server.reset()
    return s3_server.endpoint_url


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A launched Playwright Chromium browser (sync API; use from sync tests).

    Module-scoped on purpose: while Playwright's sync API is active it keeps an event loop
    running in the main thread, which would break every async test that runs after it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI the whole suite runs with every component installed: a skipped test means
    a missing system package or extra, so the run fails instead of passing quietly."""
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        names = ", ".join(sorted({report.nodeid for report in skipped})[:10])
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped ({names}); nothing may skip")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

"""Multi-worker mode for real: ``uvicorn --workers 2`` with PROMETHEUS_MULTIPROC_DIR, and a
scrape answered by any one worker reports the traffic of both."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import free_port, wait_for_port

TOKEN = "multiproc-admin-token-0123456789"
ROOT = Path(__file__).resolve().parents[3]


def make_app():
    """uvicorn --factory target: every worker builds its own middleware and Metrics."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from perf_middleware.admin.config import AdminConfig
    from perf_middleware.metrics.counters import Metrics, MetricsConfig
    from perf_middleware.middleware import PerformanceMiddleware

    async def hello(request):
        return PlainTextResponse(f"hello from {os.getpid()}")

    config = MetricsConfig(
        multiprocess_dir=os.environ["PROMETHEUS_MULTIPROC_DIR"], flush_interval=0
    )
    return PerformanceMiddleware(
        Starlette(routes=[Route("/", hello)]),
        metrics=Metrics(config),
        admin=AdminConfig(token=TOKEN),
    )


def test_two_uvicorn_workers_report_the_sum(tmp_path):
    state_dir = tmp_path / "prom"
    state_dir.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(state_dir),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "tests.perf_middleware.metrics.test_multiproc:make_app",
        "--factory", "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--lifespan", "off",
    ]  # fmt: skip
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        wait_for_port(port, timeout=30)
        url = f"http://127.0.0.1:{port}"
        pids = set()
        deadline = time.monotonic() + 30
        sent = 0
        # a fresh connection per request so both workers get some of the traffic
        while (len(pids) < 2 or sent < 20) and time.monotonic() < deadline:
            r = httpx.get(url + "/", headers={"Connection": "close"})
            assert r.status_code == 200
            pids.add(r.text.rsplit(" ", 1)[-1])
            sent += 1
        assert len(pids) == 2, "the second worker never answered"
        for _ in range(3):  # whichever worker answers the scrape, the total is the same
            text = httpx.get(
                url + "/_perf/metrics",
                headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"},
            ).text
            values = {
                (s.name, tuple(s.labels.items())): s.value
                for fam in text_string_to_metric_families(text)
                for s in fam.samples
            }
            assert values[("perf_requests_total", ())] == sent
            assert values[("perf_responses_total", (("status_class", "2xx"),))] == sent
        assert len(list(state_dir.glob("perf_middleware.*.json"))) == 2
    finally:
        server.terminate()
        server.wait(timeout=20)

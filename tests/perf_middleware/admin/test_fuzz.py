"""Schemathesis over the admin API's own OpenAPI document: for every operation, generated
requests (positive and negative) never get a 5xx, and documented responses match the spec."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from perf_middleware.admin.app import AdminApp
from perf_middleware.admin.config import AdminConfig
from perf_middleware.admin.openapi import openapi_document
from perf_middleware.cache.backends.memory import MemoryBackend
from perf_middleware.cache.entry import CacheEntry
from perf_middleware.metrics.counters import Metrics
from perf_middleware.middleware import PerformanceMiddleware

TOKEN = "fuzz-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def make_app(cache=None) -> AdminApp:
    metrics = Metrics()
    metrics.observe_response(200, 0.01)
    metrics.cache("memory").miss += 1
    metrics.observe_compression("br", 100, 10, 0.0001)
    return AdminApp(AdminConfig(token=TOKEN, web_vitals=True), metrics=metrics, cache=cache)


def fuzz(app, mode: schemathesis.GenerationMode, checks, max_examples: int = 30) -> int:
    schema = schemathesis.openapi.from_dict(openapi_document("/_perf"))
    schema.app = app
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(headers=AUTH, checks=checks)

        run()
    return calls


def test_positive_inputs_conform_to_spec_without_cache():
    assert fuzz(make_app(), schemathesis.GenerationMode.POSITIVE, CHECKS, max_examples=15) > 40


def filled_memory_backend() -> MemoryBackend:
    backend = MemoryBackend()

    async def fill() -> None:
        for i in range(20):
            await backend.set(
                CacheEntry(
                    primary=f"https://example.com/p/{i}",
                    status=200,
                    bodies={"identity": b"x" * 100},
                    response_time=time.time(),
                    freshness_lifetime=300,
                    tags=(f"t{i % 3}", "all"),
                ),
                300,
            )

    # a worker thread: Playwright's sync API may hold a running loop in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, fill()).result()
    return backend


@pytest.mark.parametrize(
    ("mode", "checks"),
    [
        (schemathesis.GenerationMode.POSITIVE, CHECKS),
        (schemathesis.GenerationMode.NEGATIVE, [not_a_server_error]),
    ],
    ids=["positive", "negative"],
)
def test_with_memory_cache_never_5xx(mode, checks):
    """Through PerformanceMiddleware: prefix routing and URL-to-key normalisation included."""
    backend = filled_memory_backend()
    app = PerformanceMiddleware(
        Starlette(routes=[Route("/", PlainTextResponse("app"))]),
        cache=backend,
        admin=AdminConfig(token=TOKEN, web_vitals=True, web_vitals_routes=("/",)),
    )
    assert fuzz(app, mode, checks) > 10

"""Web Vitals beacons as data: validation, histograms, worker merge and the bounded route
set (the HTTP side is in ``tests/perf_middleware/admin/test_beacon.py``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from perf_middleware.admin.config import AdminConfig
from perf_middleware.admin.ratelimit import RateLimiter
from perf_middleware.metrics.counters import Metrics, MetricsConfig
from perf_middleware.metrics.prometheus import prometheus_text
from perf_middleware.metrics.state import merge_states
from perf_middleware.metrics.vitals import (
    BeaconError,
    VitalsRoutes,
    histogram_quantile,
    parse_beacon,
)

ROUTES = VitalsRoutes(["/"])


def body(**data: object) -> bytes:
    return json.dumps({"route": "/", "served_by": "http-cache", **data}).encode()


def test_a_valid_beacon_in_stored_units() -> None:
    beacon = parse_beacon(body(metrics={"LCP": 2500, "CLS": 0.1, "x": 1}, id="abc"), ROUTES)
    assert beacon.served_by == "http-cache"
    assert dict(beacon.values) == {"LCP": 2.5, "CLS": 0.1}
    assert beacon.rejected == 0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", "malformed"),
        (b'{"route": "/", "metrics": {"LCP": NaN}}', "malformed"),
        (b'{"route": "/", "metrics": {"LCP": 1}, "served_by": null}', "malformed"),
        (b'{"route": "/", "metrics": {}}', "malformed"),
        (b'{"route": "/", "metrics": {"CLS": 101}}', "out_of_range"),
    ],
)
def test_refusals(raw: bytes, reason: str) -> None:
    with pytest.raises(BeaconError) as caught:
        parse_beacon(raw, ROUTES)
    assert caught.value.reason == reason


def test_the_route_set_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    routes = VitalsRoutes(["/a", "/a", "", 5, "x" * 500], limit=2)  # type: ignore[list-item]
    assert len(routes) == 1
    with caplog.at_level(logging.WARNING, "perf_middleware.metrics"):
        for n in range(10):
            routes.add(f"/r/{n}")
    assert len(routes) == 2
    assert "/r/0" in routes
    assert "/r/1" not in routes
    assert caplog.text.count("web vitals route ignored") == 1


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    assert histogram_quantile([1.0, 2.0], [0, 4, 0], 0.75) == pytest.approx(1.75)
    assert histogram_quantile([1.0, 2.0], [0, 0, 3], 0.5) == 2.0  # overflow: largest bound
    assert histogram_quantile([1.0], [0, 0], 0.5) is None


def test_worker_states_merge_vitals(tmp_path: Path) -> None:
    workers = []
    for lcp in (1000, 3000):
        metrics = Metrics(MetricsConfig())
        vitals = metrics.enable_vitals()
        assert metrics.enable_vitals() is vitals
        vitals.record(parse_beacon(body(metrics={"LCP": lcp}), ROUTES))
        vitals.drop("rate_limited")
        workers.append(metrics.state())
    workers[1]["web_vitals"]["histograms"]["/"]["network"] = {
        "LCP": workers[0]["web_vitals"]["histograms"]["/"]["http-cache"]["LCP"]
    }
    merged = merge_states(workers)["web_vitals"]
    assert sum(merged["histograms"]["/"]["http-cache"]["LCP"]["counts"]) == 2
    assert merged["histograms"]["/"]["http-cache"]["LCP"]["sum"] == pytest.approx(4.0)
    assert merged["dropped"]["rate_limited"] == 2
    assert sum(merged["histograms"]["/"]["network"]["LCP"]["counts"]) == 1


def test_prometheus_families_are_valid_exposition() -> None:
    metrics = Metrics()
    metrics.enable_vitals().record(parse_beacon(body(metrics={"INP": 250, "CLS": 0.3}), ROUTES))
    families = {
        f.name: f for f in text_string_to_metric_families(prometheus_text(metrics).decode())
    }
    inp = families["perf_web_vitals_inp_seconds"]
    assert {s.labels["route"] for s in inp.samples} == {"/"}
    count = [s for s in inp.samples if s.name.endswith("_count")]
    assert count[0].value == 1.0
    cls_sum = [s for s in families["perf_web_vitals_cls"].samples if s.name.endswith("_sum")]
    assert cls_sum[0].value == pytest.approx(0.3)
    assert len(families["perf_web_vitals_dropped"].samples) == 6
    assert metrics.to_json()["web_vitals"]["routes"]["/"]["http-cache"]["CLS"]["rating"] == "poor"


def test_rate_limiter_refills_and_forgets_the_oldest_client() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=2, max_clients=2, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    now[0] += 1.0
    assert limiter.allow("a")
    assert limiter.allow(None)
    assert limiter.allow("b")
    assert len(limiter) == 2  # "a" forgotten


@pytest.mark.parametrize(
    "options",
    [
        {"web_vitals_rate": 0},
        {"web_vitals_burst": 0},
        {"history_interval": 0},
        {"history_size": 1},
    ],
)
def test_config_refuses_nonsense_limits(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="HINT"):
        AdminConfig(**options)  # type: ignore[arg-type]


def test_config_routes_must_be_a_tuple() -> None:
    with pytest.raises(TypeError, match="web_vitals_routes"):
        AdminConfig(web_vitals_routes="/a")  # type: ignore[arg-type]
    assert AdminConfig(web_vitals=True).mounted
    assert not AdminConfig().mounted

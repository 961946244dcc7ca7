"""Metrics: exact counts after scripted recording, Prometheus text parsed back with
prometheus-client's own parser, JSON rendering, and multi-worker aggregation through a real
second process writing into PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import json
import subprocess
import sys
from bisect import bisect_left

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from perf_middleware.metrics.counters import CACHE_EVENTS, Histogram, Metrics, MetricsConfig
from perf_middleware.metrics.prometheus import CONTENT_TYPE, prometheus_text
from perf_middleware.metrics.state import hit_ratio, merge_states


def scripted() -> Metrics:
    m = Metrics(MetricsConfig(latency_buckets=(0.01, 0.1, 1.0)))
    for status, seconds in [(200, 0.005), (200, 0.01), (304, 0.0001), (404, 0.5), (500, 3.0)]:
        m.observe_response(status, seconds)
    mem = m.cache("memory")
    mem.hit += 3
    mem.miss += 1
    mem.stale += 1
    mem.store += 1
    m.cache("redis").add("error", 2)
    m.cache("redis").add("coalesced")
    m.observe_compression("br", 10_000, 2_000, 0.0004)
    m.observe_compression("br", 5_000, 1_000, 0.002)
    m.observe_compression("zstd", 1_000, 400, 0.00001)
    return m


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_histogram_uses_le_semantics_and_overflow_slot():
    h = Histogram((0.1, 1.0))
    for v in (0.1, 0.05, 0.100001, 1.0, 7.0):
        h.observe(v)
    assert h.counts == [2, 2, 1]
    assert h.count == 5
    assert h.sum == pytest.approx(0.1 + 0.05 + 0.100001 + 1.0 + 7.0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), max_size=60))
def test_histogram_matches_naive_bucketing(values):
    bounds = (0.001, 0.5, 2.0, 50.0)
    h = Histogram(bounds)
    for v in values:
        h.observe(v)
    naive = [0] * (len(bounds) + 1)
    for v in values:
        naive[next((i for i, b in enumerate(bounds) if v <= b), len(bounds))] += 1
    assert h.counts == naive
    assert bisect_left(bounds, 0.5) == 1


def test_prometheus_text_has_exact_values():
    text = prometheus_text(scripted())
    got = samples(text)
    assert got[("perf_requests_total", ())] == 5
    assert got[("perf_not_modified_total", ())] == 1
    assert got[("perf_responses_total", (("status_class", "2xx"),))] == 2
    assert got[("perf_responses_total", (("status_class", "3xx"),))] == 1
    assert got[("perf_responses_total", (("status_class", "4xx"),))] == 1
    assert got[("perf_responses_total", (("status_class", "5xx"),))] == 1
    le = "le"
    assert got[("perf_response_time_seconds_bucket", ((le, "0.01"),))] == 3
    assert got[("perf_response_time_seconds_bucket", ((le, "0.1"),))] == 3
    assert got[("perf_response_time_seconds_bucket", ((le, "1.0"),))] == 4
    assert got[("perf_response_time_seconds_bucket", ((le, "+Inf"),))] == 5
    assert got[("perf_response_time_seconds_count", ())] == 5
    assert got[("perf_response_time_seconds_sum", ())] == pytest.approx(3.5151)
    mem = (("backend", "memory"),)
    assert got[("perf_cache_hit_total", mem)] == 3
    assert got[("perf_cache_miss_total", mem)] == 1
    assert got[("perf_cache_stale_total", mem)] == 1
    assert got[("perf_cache_store_total", mem)] == 1
    assert got[("perf_cache_hit_ratio", mem)] == pytest.approx(0.8)
    redis = (("backend", "redis"),)
    assert got[("perf_cache_error_total", redis)] == 2
    assert got[("perf_cache_coalesced_total", redis)] == 1
    assert ("perf_cache_hit_ratio", redis) not in got  # no lookups yet: no ratio
    br = (("encoding", "br"),)
    assert got[("perf_compressed_responses_total", br)] == 2
    assert got[("perf_compression_input_bytes_total", br)] == 15_000
    assert got[("perf_compression_output_bytes_total", br)] == 3_000
    assert got[("perf_compression_seconds_count", br)] == 2
    assert got[("perf_compression_seconds_bucket", (("encoding", "br"), (le, "0.0005")))] == 1
    assert got[("perf_compression_input_bytes_total", (("encoding", "zstd"),))] == 1_000
    assert CONTENT_TYPE.startswith("text/plain")


def test_every_cache_event_is_exposed_per_backend():
    m = Metrics()
    for i, event in enumerate(CACHE_EVENTS):
        m.cache("memory").add(event, i + 1)
    got = samples(prometheus_text(m))
    for i, event in enumerate(CACHE_EVENTS):
        assert got[(f"perf_cache_{event}_total", (("backend", "memory"),))] == i + 1


def test_unknown_cache_event_is_a_clear_error():
    with pytest.raises(ValueError, match="HINT"):
        Metrics().cache("memory").add("hits")


def test_json_summary_has_ratios_and_savings():
    doc = scripted().to_json()
    json.dumps(doc, allow_nan=False)
    assert doc["requests"] == {
        "total": 5,
        "in_flight": 0,
        "not_modified": 1,
        "by_status_class": {"1xx": 0, "2xx": 2, "3xx": 1, "4xx": 1, "5xx": 1},
    }
    assert doc["response_time_seconds"]["buckets"] == {"0.01": 3, "0.1": 3, "1.0": 4, "+Inf": 5}
    assert doc["cache"]["memory"]["hit_ratio"] == pytest.approx(0.8)
    assert doc["cache"]["redis"]["hit_ratio"] is None
    br = doc["compression"]["br"]
    assert (br["bytes_in"], br["bytes_out"], br["bytes_saved"]) == (15_000, 3_000, 12_000)
    assert br["ratio"] == pytest.approx(0.2)
    assert br["seconds"]["count"] == 2


def test_hit_ratio_counts_stale_as_served():
    assert hit_ratio({"hit": 1, "stale": 1, "miss": 2}) == 0.5
    assert hit_ratio({"hit": 0, "miss": 0}) is None


def test_separate_instances_do_not_share_state():
    a, b = Metrics(), Metrics()
    a.observe_response(200, 0.001)
    assert samples(prometheus_text(b))[("perf_requests_total", ())] == 0
    assert samples(prometheus_text(a))[("perf_requests_total", ())] == 1


def test_namespace_is_configurable():
    m = Metrics(MetricsConfig(namespace="edge"))
    m.observe_response(200, 0.001)
    assert samples(prometheus_text(m))[("edge_requests_total", ())] == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latency_buckets": ()},
        {"latency_buckets": (1.0, 0.5)},
        {"compression_buckets": (0.0, 1.0)},
        {"flush_interval": -1},
        {"namespace": "bad-name"},
    ],
)
def test_bad_config_is_refused_with_hint(kwargs):
    with pytest.raises(ValueError, match="HINT"):
        MetricsConfig(**kwargs)


WORKER = """
import sys
from perf_middleware.metrics.counters import Metrics, MetricsConfig
m = Metrics(MetricsConfig(multiprocess_dir=sys.argv[1], flush_interval=0))
m.cache("memory").hit += 4
m.observe_compression("gzip", 100, 60, 0.001)
m.observe_response(200, 0.002)
m.observe_response(304, 0.002)
"""


def test_multiprocess_dir_sums_all_workers(tmp_path):
    for _ in range(2):
        subprocess.run([sys.executable, "-c", WORKER, str(tmp_path)], check=True)
    assert len(list(tmp_path.glob("perf_middleware.*.json"))) == 2
    m = Metrics(MetricsConfig(multiprocess_dir=str(tmp_path)))
    m.observe_response(200, 0.001)
    got = samples(prometheus_text(m))
    assert got[("perf_requests_total", ())] == 5
    assert got[("perf_not_modified_total", ())] == 2
    assert got[("perf_cache_hit_total", (("backend", "memory"),))] == 8
    assert got[("perf_compression_output_bytes_total", (("encoding", "gzip"),))] == 120
    assert m.to_json()["requests"]["total"] == 5
    # the scrape wrote this worker's own state too
    assert len(list(tmp_path.glob("perf_middleware.*.json"))) == 3


def test_multiprocess_env_variable_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert Metrics().config.multiprocess_dir == str(tmp_path)


def test_corrupt_or_foreign_state_files_are_skipped(tmp_path, caplog):
    (tmp_path / "perf_middleware.1.json").write_text("{not json")
    other = Metrics(MetricsConfig(latency_buckets=(5.0,)))
    other.observe_response(200, 1.0)
    (tmp_path / "perf_middleware.2.json").write_text(json.dumps(other.state()))
    m = Metrics(MetricsConfig(multiprocess_dir=str(tmp_path)))
    m.observe_response(200, 0.001)
    state = m.collect_state()
    # the foreign file's counters add up, its incompatible histogram does not
    assert state["requests"] == 2
    assert sum(state["response_time"]["counts"]) == 1
    assert "skipped" in caplog.text


def test_merge_states_needs_at_least_one():
    with pytest.raises(ValueError, match="no metrics state"):
        merge_states([])


class _Stats:
    def __init__(self, entries: int, size: int) -> None:
        self.entries = entries
        self.bytes = size


def test_tracked_sizes_are_gauges_read_at_scrape_time():
    m = Metrics()
    stats = _Stats(3, 3000)
    m.track_size("memory", stats)
    stats.entries, stats.bytes = 5, 7000
    got = samples(prometheus_text(m))
    assert got[("perf_cache_entries", (("backend", "memory"),))] == 5
    assert got[("perf_cache_size_bytes", (("backend", "memory"),))] == 7000
    assert m.to_json()["cache_size"] == {"memory": {"entries": 5, "bytes": 7000}}
    merged = merge_states([m.state(), m.state()])
    assert merged["cache_size"]["memory"] == {"entries": 10, "bytes": 14000}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([100, 200, 204, 301, 304, 404, 500, 503, 0, 99, 600, 999]),
            st.one_of(
                st.sampled_from([0.0, 0.0005, 0.001, 0.0025, 10.0, 11.0]),  # on/past the bounds
                st.floats(min_value=0.0, max_value=30.0),
            ),
        ),
        max_size=300,
    )
)
def test_recorded_responses_are_counted_by_class_and_le_bucket(
    responses: list[tuple[int, float]],
) -> None:
    metrics = Metrics()
    bounds = metrics.config.latency_buckets
    counts = [0] * (len(bounds) + 1)
    classes = [0, 0, 0, 0, 0]
    for status, seconds in responses:
        metrics.observe_response(status, seconds)
        counts[bisect_left(bounds, seconds)] += 1  # the first bound >= the value
        if 100 <= status < 600:
            classes[status // 100 - 1] += 1
    assert metrics.requests == len(responses)
    assert metrics.status_classes == classes
    assert metrics.not_modified == sum(1 for status, _ in responses if status == 304)
    assert metrics.response_time.counts == counts
    assert metrics.response_time.sum == pytest.approx(sum(seconds for _, seconds in responses))


def test_a_status_that_is_not_an_int_is_counted_without_a_class() -> None:
    metrics = Metrics()
    metrics.observe_response("200", 0.001)  # type: ignore[arg-type]  # a buggy app's status
    metrics.observe_response(200, 0.001)
    assert metrics.requests == 2
    assert metrics.status_classes == [0, 1, 0, 0, 0]
    assert b"perf_requests_total" in prometheus_text(metrics)

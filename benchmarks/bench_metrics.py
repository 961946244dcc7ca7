"""Cost of recording metrics per request, and of one Prometheus/JSON scrape.

Run by hand: ``.venv/bin/python -m benchmarks.bench_metrics``. Compares the middleware's
plain-int counters with prometheus-client's own Counter/Histogram doing the same updates
(what a naive integration would call on every request).
"""

from __future__ import annotations

import statistics
import timeit

from prometheus_client import CollectorRegistry, Counter, Histogram

from perf_middleware.metrics import Metrics
from perf_middleware.metrics_prometheus import prometheus_text

N = 200_000


def ours() -> float:
    m = Metrics()
    cache = m.cache("memory")

    def request() -> None:
        m.in_flight += 1
        cache.hit += 1
        m.observe_compression("br", 50_000, 6_000, 0.0004)
        m.in_flight -= 1
        m.observe_response(200, 0.0021)

    return min(timeit.repeat(request, number=N, repeat=5)) / N


def prometheus_client_types() -> float:
    reg = CollectorRegistry()
    requests = Counter("r", "r", ["status_class"], registry=reg)
    latency = Histogram("lat", "l", registry=reg)
    hits = Counter("hit", "h", ["backend"], registry=reg)
    comp_in = Counter("cin", "c", ["encoding"], registry=reg)
    comp_out = Counter("cout", "c", ["encoding"], registry=reg)
    comp_t = Histogram("ct", "c", ["encoding"], registry=reg)

    def request() -> None:
        hits.labels("memory").inc()
        comp_in.labels("br").inc(50_000)
        comp_out.labels("br").inc(6_000)
        comp_t.labels("br").observe(0.0004)
        requests.labels("2xx").inc()
        latency.observe(0.0021)

    return min(timeit.repeat(request, number=N, repeat=5)) / N


def scrape() -> tuple[float, float]:
    m = Metrics()
    for backend in ("memory", "redis"):
        m.cache(backend).hit += 1
    for enc in ("zstd", "br", "gzip"):
        m.observe_compression(enc, 100, 10, 0.001)
    text = [timeit.timeit(lambda: prometheus_text(m), number=200) / 200 for _ in range(5)]
    js = [timeit.timeit(m.to_json, number=200) / 200 for _ in range(5)]
    return statistics.median(text), statistics.median(js)


def main() -> None:
    a = ours()
    b = prometheus_client_types()
    text, js = scrape()
    print(f"record one request, perf_middleware.Metrics : {a * 1e9:8.0f} ns")
    print(f"same updates, prometheus-client types       : {b * 1e9:8.0f} ns  ({b / a:.1f}x)")
    print(f"scrape: Prometheus text {text * 1e6:.0f} us, JSON {js * 1e6:.0f} us")


if __name__ == "__main__":
    main()

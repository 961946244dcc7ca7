"""Cost of recording metrics per request, and of one Prometheus/JSON scrape.

Run by hand: ``.venv/bin/python -m benchmarks.bench_metrics``. Compares the middleware's
plain-int counters with prometheus-client's own Counter/Histogram doing the same updates
(what a naive integration would call on every request), then drives PerformanceMiddleware
in-process (no server: the middleware's own cost is the whole difference) with metrics off,
on (the default) and on with Server-Timing, for a 1 KB JSON response with and without
Accept-Encoding and for a memory-cache hit. ``--http`` measures the same variants through
uvicorn with wrk (the harness' method: pinned cores, alternating rounds, medians).
"""

from __future__ import annotations

import json
import statistics
import time
import timeit

from prometheus_client import CollectorRegistry, Counter, Histogram

from perf_middleware.metrics.counters import Metrics
from perf_middleware.metrics.prometheus import prometheus_text

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


BODY = json.dumps([{"id": i, "name": f"item {i}", "ok": True} for i in range(28)]).encode()


def make_app() -> object:
    """uvicorn factory for ``--http``: ``BENCH_METRICS_VARIANT`` = off | on | timing."""
    import os

    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from perf_middleware.cache.backends.memory import MemoryBackend
    from perf_middleware.middleware import PerformanceMiddleware

    async def endpoint(request: object) -> Response:
        return Response(BODY, media_type="application/json", headers={"Cache-Control": "no-store"})

    async def cached(request: object) -> Response:
        headers = {"Cache-Control": "public, max-age=600"}
        return Response(BODY, media_type="application/json", headers=headers)

    raw = Starlette(routes=[Route("/json", endpoint), Route("/cached", cached)])
    variant = os.environ.get("BENCH_METRICS_VARIANT", "on")
    return PerformanceMiddleware(
        raw,
        cache=MemoryBackend(),
        metrics=None if variant == "off" else Metrics(),
        server_timing=variant == "timing",
    )


def http_overhead(rounds: int = 3, duration: float = 3.0) -> None:
    from benchmarks.harness import Probe, Server, measure_http, median, warm_up

    servers = [
        Server(name, "benchmarks.bench_metrics:make_app", {"BENCH_METRICS_VARIANT": v}, True)
        for name, v in (
            ("metrics=None", "off"),
            ("metrics (default)", "on"),
            ("+ timing", "timing"),
        )
    ]
    ae = {"Accept-Encoding": "gzip, deflate, br, zstd"}
    probes = [
        Probe("1 KB JSON AE, no-store", "/json", ae),
        Probe("1 KB JSON AE, hit", "/cached", ae),
    ]
    for server in servers:
        server.start()
    try:
        warm_up(servers, probes)
        results = measure_http(servers, probes, rounds=rounds, duration=duration, progress=False)
    finally:
        for server in servers:
            server.stop()
    print(f"\nuvicorn + wrk -t1 -c32, median req/s of {rounds} rounds x {duration:.0f} s")
    for probe in probes:
        base = median(r.rps for r in results[("metrics=None", probe.name)])
        cells = " | ".join(
            f"{srv.name} {median(r.rps for r in results[(srv.name, probe.name)]):7.0f} "
            f"({median(r.rps for r in results[(srv.name, probe.name)]) / base:.2f})"
            for srv in servers
        )
        print(f"  {probe.name:26} {cells}")


def middleware_overhead(rounds: int = 40, n: int = 500) -> None:
    """CPU time per call (``time.process_time``: steadier than wall time on a shared box),
    variants interleaved round by round."""
    import asyncio

    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from perf_middleware.cache.backends.memory import MemoryBackend
    from perf_middleware.middleware import PerformanceMiddleware

    body = json.dumps([{"id": i, "name": f"item {i}", "ok": True} for i in range(28)]).encode()

    async def endpoint(request: object) -> Response:
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})

    async def cached(request: object) -> Response:
        headers = {"Cache-Control": "public, max-age=600"}
        return Response(body, media_type="application/json", headers=headers)

    raw = Starlette(routes=[Route("/json", endpoint), Route("/cached", cached)])
    apps = {
        "metrics=None": PerformanceMiddleware(raw, metrics=None, cache=MemoryBackend()),
        "metrics (default)": PerformanceMiddleware(raw, cache=MemoryBackend()),
        "+ Server-Timing": PerformanceMiddleware(raw, cache=MemoryBackend(), server_timing=True),
    }
    ae = [(b"accept-encoding", b"gzip, deflate, br, zstd")]
    probes = {
        "1 KB JSON, AE, not cacheable": ("/json", ae),
        "1 KB JSON, no AE, not cacheable": ("/json", []),
        "1 KB JSON, AE, memory-cache hit": ("/cached", ae),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: object) -> None:
        return None

    async def drive(app: object, path: str, headers: list[tuple[bytes, bytes]], k: int) -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip
        for _ in range(k):
            await app(dict(scope), receive, send)  # type: ignore[operator]

    async def run() -> None:
        print(f"\nin-process CPU us/call ({rounds} interleaved rounds x {n} calls)")
        for label, (path, headers) in probes.items():
            totals = dict.fromkeys(apps, 0.0)
            for app in apps.values():
                await drive(app, path, headers, 300)
            for _ in range(rounds):
                for name, app in apps.items():
                    t0 = time.process_time()
                    await drive(app, path, headers, n)
                    totals[name] += time.process_time() - t0
            base = totals["metrics=None"]
            cells = " | ".join(
                f"{name} {t / (rounds * n) * 1e6:6.2f} ({t / base:.2f}x)"
                for name, t in totals.items()
            )
            print(f"  {label:34} {cells}")

    asyncio.run(run())


def main() -> None:
    import sys

    if "--http" in sys.argv:
        http_overhead()
        return
    a = ours()
    b = prometheus_client_types()
    text, js = scrape()
    print(f"record one request, perf_middleware.Metrics : {a * 1e9:8.0f} ns")
    print(f"same updates, prometheus-client types       : {b * 1e9:8.0f} ns  ({b / a:.1f}x)")
    print(f"scrape: Prometheus text {text * 1e6:.0f} us, JSON {js * 1e6:.0f} us")
    middleware_overhead()


if __name__ == "__main__":
    main()

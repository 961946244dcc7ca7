"""Response cache: hit throughput vs the raw app, Redis hits, hit/miss ratio, stampedes.

``python -m benchmarks.cache [--rounds 3] [--duration 3] [--skip-http] [--skip-stampede]``

Method (as in ``harness``): every variant is its own uvicorn process pinned to core 0, wrk -t1 -c32
on core 1, medians of ``rounds`` rounds, ratios to the raw Starlette app measured in the same
round.  The raw app already sends ``Cache-Control: public, max-age=3600`` so the cache can
store it; bodies are the pre-serialised 1 KB JSON / 50 KB HTML / 500 KB JSON of
``benchmarks.dynamic``.  Variants:

* raw        the Starlette app alone (baseline)
* bare       an ASGI callable returning a constant 1 KB body (the ceiling)
* reference  ``benchmarks.reference_cache``: the least an RFC cache must do on a hit (the
             same headers, Age per hit, Cache-Status), the row the others are measured by
* perf-mem   PerformanceMiddleware(cache=MemoryBackend()) with its defaults (metrics on) —
             hits after one warm-up request; perf-mem-nm the same with ``metrics=None``
* perf-redis-rt  PerformanceMiddleware(cache=RedisBackend(..., near_cache_bytes=0)) against a
             local redis-server: every hit is a round trip
* perf-redis PerformanceMiddleware(cache=RedisBackend(...)) with its defaults (near cache on)
* perf-cluster  the same against a local 3-master Redis Cluster (``redis+cluster://``)
The hit/miss probe uses a handler that blocks for 5 ms (template rendering stand-in): the
hit run repeats one URL, the miss run gives every request a new query string (a wrk Lua
script), so each miss is a real lookup + app call + compress-once + store.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.servers import RedisClusterServer, RedisServer

from benchmarks.dynamic import decode, make_bodies
from benchmarks.harness import (
    CLIENT_CPU,
    Probe,
    Server,
    fetch_raw,
    human_bytes,
    median,
    print_table,
    run_wrk,
)
from benchmarks.reference_cache import ReferenceCache

AE = {"Accept-Encoding": "gzip, deflate, br, zstd"}
BODIES = make_bodies()
CACHE_CONTROL = "public, max-age=3600"
VARIANTS = (
    "raw",
    "bare",
    "reference",
    "perf-mem",
    "perf-mem-nm",
    "perf-redis-rt",
    "perf-redis",
    "perf-cluster",
)
REDIS_VARIANTS = ("perf-redis-rt", "perf-redis", "perf-cluster")
MISS_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/slow?n=" .. counter)
end
"""


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    def endpoint(body: bytes, ctype: str) -> Any:
        async def handler(request: Any) -> Response:
            return Response(body, media_type=ctype, headers={"cache-control": CACHE_CONTROL})

        return handler

    async def slow(request: Any) -> Response:
        # 5 ms of CPU (a template render stand-in): counted in thread CPU time, so the cost
        # is the same however busy the machine is
        end = time.thread_time() + 0.005
        while time.thread_time() < end:
            pass
        body, ctype = BODIES["json1k"]
        return Response(body, media_type=ctype, headers={"cache-control": CACHE_CONTROL})

    routes = [Route(f"/{name}", endpoint(*BODIES[name])) for name in BODIES]
    routes.append(Route("/slow", slow))
    return Starlette(routes=routes)


def make_app() -> Any:
    """uvicorn ``--factory`` entry; the variant comes from ``BENCH_VARIANT``."""
    variant = os.environ.get("BENCH_VARIANT", "raw")
    if variant == "bare":
        body, ctype = BODIES["json1k"]
        start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", ctype.encode()), (b"content-length", b"%d" % len(body))],
        }
        end = {"type": "http.response.body", "body": body}

        async def bare(scope: Any, receive: Any, send: Any) -> None:
            await send(start)
            await send(end)

        return bare
    app = _starlette()
    if variant == "raw":
        return app
    if variant == "reference":
        return ReferenceCache(app)
    from perf_middleware import MemoryBackend, PerformanceMiddleware, RedisBackend

    if variant == "perf-mem":
        return PerformanceMiddleware(app, cache=MemoryBackend(max_bytes=256 * 2**20))
    if variant == "perf-mem-nm":
        return PerformanceMiddleware(app, cache=MemoryBackend(max_bytes=256 * 2**20), metrics=None)
    if variant == "perf-redis-rt":
        backend = RedisBackend(os.environ["BENCH_REDIS_URL"], near_cache_bytes=0)
        return PerformanceMiddleware(app, cache=backend)
    if variant == "perf-redis":
        return PerformanceMiddleware(app, cache=RedisBackend(os.environ["BENCH_REDIS_URL"]))
    if variant == "perf-cluster":
        return PerformanceMiddleware(app, cache=RedisBackend(os.environ["BENCH_CLUSTER_URL"]))
    raise SystemExit(f"unknown variant {variant!r}. HINT: one of {VARIANTS}")


def probes() -> list[Probe]:
    return [
        Probe("json1k AE", "/json1k", AE),
        Probe("json1k no-AE", "/json1k", {}),
        Probe("html50k AE", "/html50k", AE),
        Probe("json500k AE", "/json500k", AE),
        Probe("slow 5ms hit", "/slow", AE),
    ]


def _pairs(server: Server, probe: Probe) -> bool:
    if server.name == "bare":
        return probe.name == "json1k AE"
    return True


def run_wrk_script(url: str, script: str, duration: float) -> float:
    """wrk with a Lua request generator (unique URLs); returns req/s."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    cmd = [
        "wrk",
        "-t1",
        "-c32",
        f"-d{duration:g}s",
        "-s",
        handle.name,
        "-H",
        f"Accept-Encoding: {AE['Accept-Encoding']}",
        url,
    ]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", CLIENT_CPU, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    Path(handle.name).unlink()
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    return float(found.group(1))


def check(servers: list[Server]) -> dict[tuple[str, str], str]:
    """Warm every cache (first request stores) and verify decoded bodies and hit status."""
    sizes: dict[tuple[str, str], str] = {}
    for server in servers:
        for probe in probes():
            if not _pairs(server, probe):
                continue
            name = "json1k" if probe.path == "/slow" else probe.path[1:]
            status, headers, body = fetch_raw(server.url + probe.path, probe.headers)
            # first request: a miss that stores; large entries are then recompressed at high
            # levels in the background, so wait until a hit shows the smaller body
            status, headers, body = fetch_raw(server.url + probe.path, probe.headers)
            stored_first = len(body)  # the entry as first stored (fast levels when large)
            deadline = time.monotonic() + 120
            large = len(BODIES[name][0]) > 32 * 1024
            while server.name.startswith("perf") and probe.headers and large:
                status, headers, body = fetch_raw(server.url + probe.path, probe.headers)
                if len(body) < stored_first or time.monotonic() > deadline:
                    break  # the background recompression at high levels has landed
                time.sleep(0.5)
            coding = headers.get("content-encoding")
            if status != 200 or decode(body, coding) != BODIES[name][0]:
                raise SystemExit(f"{server.name} {probe.name}: wrong body (status {status})")
            if server.name.startswith("perf") and "hit" not in headers.get("cache-status", ""):
                raise SystemExit(f"{server.name} {probe.name}: not a hit: {headers}")
            sizes[(server.name, probe.name)] = f"{human_bytes(len(body))} {coding or 'id'}"
    return sizes


async def stampede(n: int = 200) -> list[list[object]]:
    """N concurrent cold requests (app takes 50 ms): app calls and wall time."""
    from perf_middleware import MemoryBackend, PerformanceMiddleware, RedisBackend

    calls = 0
    body = BODIES["json1k"][0]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"cache-control", b"max-age=60"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def burst(apps: list[Any]) -> float:
        async def one(i: int) -> None:
            scope = {
                "type": "http",
                "method": "GET",
                "scheme": "http",
                "path": "/cold",
                "query_string": b"",
                "headers": [(b"host", b"bench")],
                "server": ("bench", 80),
            }

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b""}

            async def send(message: Any) -> None:
                return None

            await apps[i % len(apps)](scope, receive, send)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return (time.perf_counter() - t0) * 1000

    rows: list[list[object]] = []
    for label, no_cache in (("no cache", True), ("memory", False)):
        calls = 0
        mw = PerformanceMiddleware(app, cache=None if no_cache else MemoryBackend())
        ms = await burst([mw])
        rows.append([label, n, calls, f"{ms:.0f} ms"])
    workdir = Path(tempfile.mkdtemp(prefix="bench-stampede-"))
    redis = RedisServer(workdir)
    redis.start()
    try:
        calls = 0
        backends = [RedisBackend(redis.url, namespace="stampede") for _ in range(2)]
        ms = await burst([PerformanceMiddleware(app, cache=b) for b in backends])
        rows.append(["2 instances, one Redis", n, calls, f"{ms:.0f} ms"])
        for backend in backends:
            await backend.close()
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Sample:
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)


def measure(
    server: Server, store_pids: list[int], run: Any, duration: float
) -> tuple[float, float]:
    """Run one wrk measurement; req/s and server CPU per request in microseconds (plus the
    redis-servers' CPU for the Redis variants: their work is part of a Redis hit)."""
    assert server.process is not None
    pids = [server.process.pid, *store_pids]
    before = sum(cpu_seconds(pid) for pid in pids)
    rps = run()
    used = sum(cpu_seconds(pid) for pid in pids) - before
    return rps, used / max(1.0, rps * duration) * 1e6


def paired(numerators: list[float], denominators: list[float]) -> str:
    """Median and range of the per-round ratios. The two variants of a pair run back to back
    in every round, so a change of machine load between rounds cancels out of each ratio,
    which a ratio of the two medians does not do."""
    ratios = sorted(a / b for a, b in zip(numerators, denominators, strict=True))
    return f"{median(ratios):.2f} [{ratios[0]:.2f}-{ratios[-1]:.2f}]"


def run_http(rounds: int, duration: float, variants: tuple[str, ...] = VARIANTS) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    (workdir / "redis").mkdir()
    redis = RedisServer(workdir / "redis")
    cluster = RedisClusterServer(workdir / "cluster")
    redis.start()
    cluster.start()
    assert redis.process is not None
    env = {"BENCH_REDIS_URL": redis.url, "BENCH_CLUSTER_URL": cluster.url}
    servers = [
        Server(v, "benchmarks.cache:make_app", {"BENCH_VARIANT": v, **env}, factory=True)
        for v in variants
    ]
    store_pids = {
        "perf-redis-rt": [redis.process.pid],
        "perf-redis": [redis.process.pid],
        "perf-cluster": [p.pid for p in cluster.processes.values()],
    }
    probe_list = probes()
    samples: dict[tuple[str, str], Sample] = {}
    errors = 0
    try:
        for server in servers:
            server.start()
        sizes = check(servers)
        for server in servers:  # (harness.warm_up passes 0.5 s, which wrk rejects)
            run_wrk(server.url + "/json1k", AE, duration=1, connections=8)
        perf = next(s for s in servers if s.name == "perf-mem")
        for r in range(rounds):
            order = servers if r % 2 == 0 else servers[::-1]
            for probe in probe_list:
                for server in order:
                    if not _pairs(server, probe):
                        continue
                    pids = store_pids.get(server.name, [])
                    result: list[Any] = []

                    def run(
                        server: Server = server, probe: Probe = probe, result: list[Any] = result
                    ) -> float:
                        res = run_wrk(server.url + probe.path, probe.headers, duration=duration)
                        result.append(res)
                        return res.rps

                    rps, cpu = measure(server, pids, run, duration)
                    errors += result[0].errors
                    sample = samples.setdefault((server.name, probe.name), Sample())
                    sample.rps.append(rps)
                    sample.cpu_us.append(cpu)
                    print(
                        f"  round {r + 1}/{rounds} {probe.name:<14} {server.name:<10} "
                        f"{rps:>8.0f} req/s {cpu:>8.1f} us CPU/req",
                        file=sys.stderr,
                    )
            miss = samples.setdefault(("perf-mem", "slow 5ms miss"), Sample())
            rps, cpu = measure(
                perf,
                [],
                lambda: run_wrk_script(perf.url + "/slow", MISS_SCRIPT, duration),
                duration,
            )
            miss.rps.append(rps)
            miss.cpu_us.append(cpu)
    finally:
        for server in servers:
            server.stop()
        redis.stop()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    rps = {key: median(v.rps) for key, v in samples.items()}
    cpu = {key: median(v.cpu_us) for key, v in samples.items()}
    rows = []
    cpu_rows = []
    for probe in probe_list:
        base, base_cpu = rps[("raw", probe.name)], cpu[("raw", probe.name)]
        row: list[object] = [probe.name, f"{base:.0f}"]
        cpu_row: list[object] = [probe.name, f"{base_cpu:.0f} us"]
        for name in variants[1:]:
            key = (name, probe.name)
            row.append(f"{rps[key] / base:.2f}" if key in rps else "-")
            cpu_row.append(f"{base_cpu / cpu[key]:.2f} ({cpu[key]:.0f} us)" if key in cpu else "-")
        rows.append(row)
        cpu_rows.append(cpu_row)
    print_table(
        f"uvicorn+wrk req/s, ratio to raw (median of {rounds} rounds, {duration:g}s each)",
        ["probe", "raw req/s", *variants[1:]],
        rows,
    )
    print_table(
        "server CPU per request, as a capacity ratio to raw (load-independent)",
        ["probe", "raw CPU/req", *variants[1:]],
        cpu_rows,
    )
    print_table(
        "body bytes on the wire (AE: gzip, deflate, br, zstd)",
        ["probe", *variants],
        [[p.name, *(sizes.get((v, p.name), "-") for v in variants)] for p in probe_list],
    )
    target_rows = []
    pairs = [
        (a, b)
        for a, b in (
            ("perf-mem", "reference"),
            ("perf-mem-nm", "reference"),
            ("perf-redis", "perf-mem"),
            ("perf-redis-rt", "perf-mem"),
            ("perf-cluster", "perf-mem"),
        )
        if a in variants and b in variants
    ]
    for probe in probe_list:
        row = [probe.name]
        for a, b in pairs:
            sa, sb = samples.get((a, probe.name)), samples.get((b, probe.name))
            if sa is not None and sb is not None:
                row.append(f"{paired(sa.rps, sb.rps)} / {paired(sb.cpu_us, sa.cpu_us)}")
            else:
                row.append("-")
        target_rows.append(row)
    print_table(
        "targets: throughput ratio / CPU-per-request ratio (capacity), paired per round: "
        "median [range]",
        ["probe", *(f"{a} vs {b}" for a, b in pairs)],
        target_rows,
    )
    hit, miss_rps = rps[("perf-mem", "slow 5ms hit")], rps[("perf-mem", "slow 5ms miss")]
    hit_cpu, miss_cpu = cpu[("perf-mem", "slow 5ms hit")], cpu[("perf-mem", "slow 5ms miss")]
    print(
        f"\n5 ms-CPU handler, perf-mem: hit {hit:.0f} req/s vs miss {miss_rps:.0f} req/s "
        f"-> {hit / miss_rps:.1f}x; CPU/request hit {hit_cpu:.0f} us vs miss "
        f"{miss_cpu:.0f} us -> {miss_cpu / hit_cpu:.1f}x"
    )
    print(f"wrk errors (non-2xx/3xx + socket): {errors}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-stampede", action="store_true")
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="comma-separated subset (raw and perf-mem are always run)",
    )
    args = parser.parse_args(argv)
    chosen = set(args.variants.split(",")) | {"raw", "perf-mem"}
    unknown = chosen - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}. HINT: choose from {VARIANTS}")
    if not args.skip_stampede:
        rows = asyncio.run(stampede())
        print_table(
            "stampede: concurrent cold requests, app takes 50 ms",
            ["cache", "requests", "app calls", "wall time"],
            rows,
        )
    if not args.skip_http:
        run_http(args.rounds, args.duration, tuple(v for v in VARIANTS if v in chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main())

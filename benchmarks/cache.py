"""Response cache: hit throughput vs the raw app, Redis hits, hit/miss ratio, stampedes.

``python -m benchmarks.cache [--rounds 3] [--duration 3] [--skip-http] [--skip-stampede]``

Method (as in ``harness``): every variant is its own uvicorn process pinned to core 0, wrk -t1 -c32
on core 1, medians of ``rounds`` rounds, ratios to the raw Starlette app measured in the same
round.  The raw app already sends ``Cache-Control: public, max-age=3600`` so the cache can
store it; bodies are the pre-serialised 1 KB JSON / 50 KB HTML / 500 KB JSON of
``benchmarks.dynamic``.  Variants:

* raw        the Starlette app alone (baseline)
* bare       an ASGI callable returning a constant 1 KB body (the ceiling)
* ref-zstd   a 30-line dict cache storing zstd-19 bodies (the "60-line reference" row)
* perf-mem   PerformanceMiddleware(cache=MemoryBackend()) with its defaults (metrics on) —
             hits after one warm-up request; perf-mem-nm the same with ``metrics=None``
* perf-redis PerformanceMiddleware(cache=RedisBackend(...)) against a local redis-server
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

from benchmarks.dynamic import decode, make_bodies
from benchmarks.harness import (
    CLIENT_CPU,
    Probe,
    Server,
    fetch_raw,
    free_port,
    human_bytes,
    median,
    print_table,
    run_wrk,
)

AE = {"Accept-Encoding": "gzip, deflate, br, zstd"}
BODIES = make_bodies()
CACHE_CONTROL = "public, max-age=3600"
VARIANTS = ("raw", "bare", "ref-zstd", "perf-mem", "perf-mem-nm", "perf-redis")
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


def _reference(app: Any) -> Any:
    """The peer row: a minimal cache storing the identity and a zstd-19 body per URL."""
    import zstandard

    store: dict[bytes, tuple[Any, Any]] = {}
    compressor = zstandard.ZstdCompressor(level=19)

    async def cache(scope: Any, receive: Any, send: Any) -> None:
        key = scope["path"].encode() + b"?" + scope["query_string"]
        hit = store.get(key)
        if hit is not None:
            zstd = b"zstd" in dict(scope["headers"]).get(b"accept-encoding", b"")
            headers, body = hit[0] if zstd else hit[1]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        parts: list[Any] = []

        async def capture(message: Any) -> None:
            parts.append(message)
            await send(message)

        await app(scope, receive, capture)
        start, body = parts[0], b"".join(m.get("body", b"") for m in parts[1:])
        packed = compressor.compress(body)
        plain = [(k, v) for k, v in start["headers"] if k != b"content-length"]
        zheaders = [
            *plain,
            (b"content-encoding", b"zstd"),
            (b"vary", b"Accept-Encoding"),
            (b"content-length", b"%d" % len(packed)),
        ]
        store[key] = ((zheaders, packed), ([*plain, (b"content-length", b"%d" % len(body))], body))

    return cache


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
    if variant == "ref-zstd":
        return _reference(app)
    from perf_middleware import MemoryBackend, PerformanceMiddleware, RedisBackend

    if variant == "perf-mem":
        return PerformanceMiddleware(app, cache=MemoryBackend(max_bytes=256 * 2**20))
    if variant == "perf-mem-nm":
        return PerformanceMiddleware(app, cache=MemoryBackend(max_bytes=256 * 2**20), metrics=None)
    if variant == "perf-redis":
        return PerformanceMiddleware(app, cache=RedisBackend(os.environ["BENCH_REDIS_URL"]))
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
    return not (server.name == "ref-zstd" and probe.name == "slow 5ms hit")


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


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed. HINT: apt-get install -y redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return proc, f"redis://127.0.0.1:{port}/0"


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
    proc, url = start_redis()
    try:
        calls = 0
        backends = [RedisBackend(url, namespace="stampede") for _ in range(2)]
        ms = await burst([PerformanceMiddleware(app, cache=b) for b in backends])
        rows.append(["2 instances, one Redis", n, calls, f"{ms:.0f} ms"])
        for backend in backends:
            await backend.close()
    finally:
        proc.terminate()
        proc.wait()
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
    server: Server, redis_pid: int | None, run: Any, duration: float
) -> tuple[float, float]:
    """Run one wrk measurement; req/s and server CPU per request in microseconds (plus the
    redis-server's CPU for the Redis variant: its work is part of a Redis hit)."""
    assert server.process is not None
    pids = [server.process.pid] + ([redis_pid] if redis_pid else [])
    before = sum(cpu_seconds(pid) for pid in pids)
    rps = run()
    used = sum(cpu_seconds(pid) for pid in pids) - before
    return rps, used / max(1.0, rps * duration) * 1e6


def run_http(rounds: int, duration: float) -> None:
    redis_proc, redis_url = start_redis()
    servers = [
        Server(
            v,
            "benchmarks.cache:make_app",
            {"BENCH_VARIANT": v, "BENCH_REDIS_URL": redis_url},
            factory=True,
        )
        for v in VARIANTS
    ]
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
                    redis_pid = redis_proc.pid if server.name == "perf-redis" else None
                    result: list[Any] = []

                    def run(
                        server: Server = server, probe: Probe = probe, result: list[Any] = result
                    ) -> float:
                        res = run_wrk(server.url + probe.path, probe.headers, duration=duration)
                        result.append(res)
                        return res.rps

                    rps, cpu = measure(server, redis_pid, run, duration)
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
                None,
                lambda: run_wrk_script(perf.url + "/slow", MISS_SCRIPT, duration),
                duration,
            )
            miss.rps.append(rps)
            miss.cpu_us.append(cpu)
    finally:
        for server in servers:
            server.stop()
        redis_proc.terminate()
        redis_proc.wait()
    rps = {key: median(v.rps) for key, v in samples.items()}
    cpu = {key: median(v.cpu_us) for key, v in samples.items()}
    rows = []
    cpu_rows = []
    for probe in probe_list:
        base, base_cpu = rps[("raw", probe.name)], cpu[("raw", probe.name)]
        row: list[object] = [probe.name, f"{base:.0f}"]
        cpu_row: list[object] = [probe.name, f"{base_cpu:.0f} us"]
        for name in VARIANTS[1:]:
            key = (name, probe.name)
            row.append(f"{rps[key] / base:.2f}" if key in rps else "-")
            cpu_row.append(f"{base_cpu / cpu[key]:.2f} ({cpu[key]:.0f} us)" if key in cpu else "-")
        rows.append(row)
        cpu_rows.append(cpu_row)
    print_table(
        f"uvicorn+wrk req/s, ratio to raw (median of {rounds} rounds, {duration:g}s each)",
        ["probe", "raw req/s", *VARIANTS[1:]],
        rows,
    )
    print_table(
        "server CPU per request, as a capacity ratio to raw (load-independent)",
        ["probe", "raw CPU/req", *VARIANTS[1:]],
        cpu_rows,
    )
    print_table(
        "body bytes on the wire (AE: gzip, deflate, br, zstd)",
        ["probe", *VARIANTS],
        [[p.name, *(sizes.get((v, p.name), "-") for v in VARIANTS)] for p in probe_list],
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
    args = parser.parse_args(argv)
    if not args.skip_stampede:
        rows = asyncio.run(stampede())
        print_table(
            "stampede: concurrent cold requests, app takes 50 ms",
            ["cache", "requests", "app calls", "wall time"],
            rows,
        )
    if not args.skip_http:
        run_http(args.rounds, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())

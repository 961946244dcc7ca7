"""Instructions per request through uvicorn, counted by valgrind: a noise-free cost figure.

``python -m benchmarks.instructions [--requests 1000] [--only dynamic|cache] [--probe TEXT]``

Throughput ratios move from run to run (shared cores, varying clock) by more than a change of
a few per cent. This benchmark counts CPU instructions
instead, which do not depend on the load: each (variant, probe) runs in a child process under
``valgrind --tool=cachegrind --cache-sim=no`` that feeds raw HTTP/1.1 requests to uvicorn's
own ``HttpToolsProtocol`` (the parser, ASGI scope, the app, response header validation and
framing, exactly as ``uvicorn --http httptools`` runs them) with an in-memory transport, so
only the socket system calls are left out. The child runs twice, with ``W`` and ``W + N``
requests; the difference divided by ``N`` is the cost of one request with warm caches.
``PYTHONHASHSEED=0`` keeps dict layouts, and so the counts, the same from run to run.

Instructions are not time: a request that touches more memory stalls more per instruction,
and the server's socket work is left out.
Read the ratio column as "how much more request work the server does than the raw app".
``--cache-sim`` adds valgrind's simulated level-1 cache misses per request (instruction and
data; this machine's cache sizes): code that runs once per request executes little code
many times over, so much of its cost is fetching that code, which the instruction count
does not show. Variants are the ones of ``benchmarks.dynamic`` and
``benchmarks.cache``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.harness import ROOT, print_table

AE = b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
WARM = 300


@dataclass(frozen=True)
class Case:
    """One variant of one benchmark app answering one request shape."""

    group: str
    variant: str
    probe: str
    factory: str  # ``module:function`` building the app from ``BENCH_VARIANT``
    request: bytes


def request(path: str, *extra: bytes) -> bytes:
    return (
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\n"
        + b"".join(extra) + b"\r\n"
    )  # fmt: skip


def cases(only: str | None) -> list[Case]:
    dynamic = "benchmarks.dynamic:make_app"
    cache = "benchmarks.cache:make_app"
    out: list[Case] = []
    if only in (None, "dynamic"):
        for variant in ("raw", "starlette-compress", "perf", "bare"):
            out.append(Case("dynamic", variant, "1 KB JSON, AE", dynamic, request("/json1k", AE)))
        for variant in ("raw", "starlette-compress", "perf"):
            out.append(Case("dynamic", variant, "1 KB JSON, no AE", dynamic, request("/json1k")))
        for variant in ("raw", "starlette-compress", "perf"):
            unique = request("/html50k-unique", AE)
            out.append(Case("dynamic", variant, "unique 50 KB HTML, AE", dynamic, unique))
        for variant in ("raw", "starlette-compress", "perf"):
            unique = request("/html50k-unique")
            out.append(Case("dynamic", variant, "unique 50 KB HTML, no AE", dynamic, unique))
    if only in (None, "cache"):
        for variant in ("raw", "reference", "perf-mem", "perf-mem-nm"):
            out.append(Case("cache", variant, "1 KB JSON hit, AE", cache, request("/json1k", AE)))
            out.append(Case("cache", variant, "1 KB JSON hit, no AE", cache, request("/json1k")))
            html = request("/html50k", AE)
            out.append(Case("cache", variant, "50 KB HTML hit, AE", cache, html))
            json = request("/json500k", AE)
            out.append(Case("cache", variant, "500 KB JSON hit, AE", cache, json))
    return out


# -- the child: one uvicorn protocol fed from memory --------------------------------------


class MemoryTransport(asyncio.Transport):
    """Where uvicorn writes, in memory: drops the bytes unless ``written`` is a list (a
    check of one answer), so a counted run does the same work per request."""

    written: list[bytes] | None = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: Any) -> None:
        if self.written is not None:
            self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        return None

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None


class Connection:
    """One keep-alive connection of uvicorn's httptools protocol to one app, fed from memory."""

    def __init__(self, app: Any) -> None:
        from uvicorn.config import Config
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
        from uvicorn.server import ServerState

        config = Config(app=app, http="httptools", lifespan="off", access_log=False)
        config.load()
        self.transport = MemoryTransport()
        self.protocol = HttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
        self.protocol.connection_made(self.transport)

    async def serve(self, payload: bytes, count: int) -> float:
        """Answer ``payload`` (one request) ``count`` times, one after the other; wall seconds
        per request."""
        protocol = self.protocol
        started = time.perf_counter()
        for _ in range(count):
            protocol.data_received(payload)
            for task in list(protocol.tasks):
                await task
        return (time.perf_counter() - started) / count

    async def status_line(self, payload: bytes) -> bytes:
        """The status line of one answer (checks the variant answers at all)."""
        self.transport.written = []
        await self.serve(payload, 1)
        written, self.transport.written = self.transport.written, None
        return b"".join(written).split(b"\r\n", 1)[0]

    @property
    def completed(self) -> bool:
        """Whether the last request's response was sent completely."""
        cycle = self.protocol.cycle
        return cycle is not None and cycle.response_complete


def child(factory: str, raw_request: bytes, count: int) -> None:
    """Serve ``count`` keep-alive requests on one connection, each to completion."""
    import importlib

    import uvloop

    module, _, attr = factory.partition(":")
    app = getattr(importlib.import_module(module), attr)()

    async def serve() -> None:
        connection = Connection(app)
        await connection.serve(raw_request, count)
        if not connection.completed:
            raise SystemExit("the app did not complete its response")

    uvloop.run(serve())


# -- the parent ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """valgrind's totals for one child run (cache misses 0 without the cache simulation)."""

    instructions: float
    l1i_misses: float = 0.0
    l1d_misses: float = 0.0

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            self.instructions - other.instructions,
            self.l1i_misses - other.l1i_misses,
            self.l1d_misses - other.l1d_misses,
        )

    def __truediv__(self, n: int) -> Counts:
        return Counts(self.instructions / n, self.l1i_misses / n, self.l1d_misses / n)


def _total(label: str, text: str) -> float | None:
    """One of valgrind's summary totals (``I refs``, ``I1 misses``, ...), None when absent."""
    found = re.search(label + r":\s+([\d,]+)", text)
    return float(found.group(1).replace(",", "")) if found else None


def instructions(case: Case, count: int, cache_sim: bool = False) -> Counts:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed. HINT: make bench (apt-get install valgrind)")
    env = {
        **os.environ,
        "BENCH_VARIANT": case.variant,
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
    }
    cmd = [
        "valgrind", "--tool=cachegrind", f"--cache-sim={'yes' if cache_sim else 'no'}",
        "--cachegrind-out-file=/dev/null",
        sys.executable, "-m", "benchmarks.instructions", "--child", case.factory,
        case.request.decode("latin-1"), str(count),
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    refs = _total(r"I\s+refs", done.stderr)
    if done.returncode != 0 or refs is None:
        raise SystemExit(f"{case.variant} / {case.probe} failed:\n{done.stderr[-2000:]}")
    # no cache totals without the cache simulation
    return Counts(
        refs,
        _total(r"I1\s+misses", done.stderr) or 0.0,
        _total(r"D1\s+misses", done.stderr) or 0.0,
    )


def per_request(case: Case, requests: int, cache_sim: bool = False) -> Counts:
    warm = instructions(case, WARM, cache_sim)
    return (instructions(case, WARM + requests, cache_sim) - warm) / requests


def run(
    only: str | None, requests: int, jobs: int, cache_sim: bool = False, probe: str | None = None
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    todo = [c for c in cases(only) if probe is None or probe in c.probe]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        counts = list(pool.map(lambda c: per_request(c, requests, cache_sim), todo))
    measured = dict(zip(todo, counts, strict=True))
    rows = []
    for case, value in measured.items():
        raw = next(
            v for c, v in measured.items()
            if c.group == case.group and c.probe == case.probe and c.variant == "raw"
        )  # fmt: skip
        row = [case.probe, case.variant, f"{value.instructions / 1000:.1f}k",
               f"{raw.instructions / value.instructions:.2f}"]  # fmt: skip
        if cache_sim:
            row.append(f"{value.l1i_misses:,.0f} ({value.l1i_misses - raw.l1i_misses:+,.0f})")
            row.append(f"{value.l1d_misses:,.0f} ({value.l1d_misses - raw.l1d_misses:+,.0f})")
        rows.append(row)
    header = ["probe", "variant", "instructions", "raw / variant"]
    if cache_sim:
        header += ["L1i misses (vs raw)", "L1d misses (vs raw)"]
    print_table(
        f"CPU instructions per request through uvicorn's protocol (valgrind, {requests} requests)",
        header,
        rows,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--only", choices=("dynamic", "cache"))
    parser.add_argument("--jobs", type=int, default=2, help="valgrind processes at once")
    parser.add_argument("--probe", help="only probes whose name contains this")
    parser.add_argument("--cache-sim", action="store_true",
                        help="also simulated L1 cache misses per request (slower)")  # fmt: skip
    parser.add_argument("--child", nargs=3, metavar=("FACTORY", "REQUEST", "COUNT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if args.child:
        factory, raw_request, count = args.child
        child(factory, raw_request.encode("latin-1"), int(count))
        return 0
    run(args.only, args.requests, args.jobs, args.cache_sim, args.probe)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

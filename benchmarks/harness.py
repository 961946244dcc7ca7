"""Reusable benchmark harness: uvicorn + wrk on pinned cores, and an in-process ASGI driver.

Method: each server variant runs as its own uvicorn process
(uvloop + httptools, one worker) pinned with ``taskset`` to core 0; ``wrk -t1 -c32`` runs on
core 1. Every (variant, probe) pair is measured in each of ``rounds`` rounds, with the
variant order reversed on odd rounds so drift on a noisy machine does not favour one side;
the report is the median. Absolute req/s swing between runs here, so compare ratios to a
baseline measured in the same run.

Other benchmarks reuse ``Server``, ``Probe``, ``measure_http``, ``measure_inprocess``,
``fetch_raw`` and ``print_table``.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "1")


@dataclass(frozen=True)
class Probe:
    """One request shape: path plus request headers."""

    name: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Server:
    """An ASGI app (``module:attr``) served by uvicorn in a pinned subprocess."""

    name: str
    app: str
    env: Mapping[str, str] = field(default_factory=dict)
    factory: bool = False
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        cmd = [
            sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1",
            "--port", str(self.port), "--loop", "uvloop", "--http", "httptools",
            "--workers", "1", "--log-level", "warning", "--no-access-log", "--lifespan", "off",
        ]  # fmt: skip
        if self.factory:
            cmd.append("--factory")
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", SERVER_CPU, *cmd]
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")]
        )
        self.process = subprocess.Popen(cmd, cwd=ROOT, env=env)
        wait_for_port(
            self.port,
            self.process,
            f"benchmark server {self.name} ({self.app}) did not start. "
            "HINT: run it by hand with uvicorn to see the error.",
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], error: str, timeout: float = 20.0
) -> None:
    """Return once something accepts on 127.0.0.1:``port``; raise ``error`` as soon as
    ``process`` has exited or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(error) from None
            time.sleep(0.05)


@dataclass(frozen=True)
class WrkResult:
    rps: float
    bytes_per_response: float
    errors: int
    requests: int = 0


_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def run_wrk(url: str, headers: Mapping[str, str], *, duration: float = 3.0,
            connections: int = 32) -> WrkResult:  # fmt: skip
    """``wrk -t1 -c32 -dNs`` pinned to the client core; parses req/s and transfer/s."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed. HINT: apt-get install -y wrk")
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", CLIENT_CPU, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps_m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    tr_m = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", out)
    if rps_m is None or tr_m is None:
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    rps = float(rps_m.group(1))
    transfer = float(tr_m.group(1)) * _UNITS[tr_m.group(2)]
    err_m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock_m = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    errors = int(err_m.group(1)) if err_m else 0
    if sock_m:
        errors += sum(int(x) for x in sock_m.groups())
    count_m = re.search(r"(\d+) requests in", out)
    requests = int(count_m.group(1)) if count_m else 0
    return WrkResult(rps, transfer / rps if rps else 0.0, errors, requests)


def fetch_raw(url: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One request without any decoding: status, lower-cased headers, body bytes as sent."""
    m = re.match(r"http://([^:/]+):(\d+)(.*)", url)
    assert m is not None, url
    conn = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=30)
    try:
        conn.request("GET", m.group(3) or "/", headers=dict(headers))
        res = conn.getresponse()
        body = res.read()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, body
    finally:
        conn.close()


def measure_http(servers: Sequence[Server], probes: Sequence[Probe], *, rounds: int = 3,
                 duration: float = 3.0, pairs: Callable[[Server, Probe], bool] | None = None,
                 progress: bool = True) -> dict[tuple[str, str], list[WrkResult]]:  # fmt: skip
    """Run every (server, probe) pair ``rounds`` times, alternating server order."""
    results: dict[tuple[str, str], list[WrkResult]] = {}
    for r in range(rounds):
        order = list(servers) if r % 2 == 0 else list(reversed(servers))
        for probe in probes if r % 2 == 0 else list(reversed(probes)):
            for server in order:
                if pairs is not None and not pairs(server, probe):
                    continue
                res = run_wrk(server.url + probe.path, probe.headers, duration=duration)
                results.setdefault((server.name, probe.name), []).append(res)
                if progress:
                    print(f"  round {r + 1}/{rounds} {probe.name:<24} {server.name:<22}"
                          f" {res.rps:>10.0f} req/s", file=sys.stderr, flush=True)  # fmt: skip
    return results


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_paired(base: Server, others: Sequence[Server], probes: Sequence[Probe], *,
                   pairs: int = 5, duration: float = 2.0, progress: bool = True,
                   ) -> tuple[dict[tuple[str, str], list[float]],
                              dict[tuple[str, str], list[float]]]:  # fmt: skip
    """Ratios ``other / base`` from back-to-back runs: each pair measures the base and one
    other server within ``2 * duration`` seconds (which of the two goes first alternates),
    so the machine's slow drift, which moves whole rounds by tens of per cent here, cancels
    out of each ratio. Returns every pair's ratio per (server, probe): requests per second,
    and requests per *server CPU second* (user + system time of the uvicorn process, so CPU
    taken by the machine's other tenants — steal — does not count; on a server that is
    CPU-bound, as uvicorn with one worker is here, the two estimate the same ratio)."""
    ratios: dict[tuple[str, str], list[float]] = {}
    cpu_ratios: dict[tuple[str, str], list[float]] = {}
    for index in range(pairs):
        for probe in probes:
            for other in others:
                first, second = (base, other) if index % 2 == 0 else (other, base)
                rps: dict[str, float] = {}
                per_cpu: dict[str, float] = {}
                for server in (first, second):
                    assert server.process is not None
                    before = cpu_seconds(server.process.pid)
                    result = run_wrk(server.url + probe.path, probe.headers, duration=duration)
                    spent = cpu_seconds(server.process.pid) - before
                    rps[server.name] = result.rps
                    per_cpu[server.name] = result.requests / spent if spent else 0.0
                ratio = rps[other.name] / rps[base.name]
                ratios.setdefault((other.name, probe.name), []).append(ratio)
                cpu_ratio = per_cpu[other.name] / per_cpu[base.name] if per_cpu[base.name] else 0
                cpu_ratios.setdefault((other.name, probe.name), []).append(cpu_ratio)
                if progress:
                    print(f"  pair {index + 1}/{pairs} {probe.name:<24} {other.name:<22}"
                          f" {ratio:>6.2f}  per CPU s {cpu_ratio:>6.2f}",
                          file=sys.stderr, flush=True)  # fmt: skip
    return ratios, cpu_ratios


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """The lower and upper quartile (``statistics.quantiles``, inclusive method)."""
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def warm_up(servers: Iterable[Server], probes: Sequence[Probe], duration: float = 0.5) -> None:
    for server in servers:
        for probe in probes:
            run_wrk(server.url + probe.path, probe.headers, duration=duration, connections=8)


def measure_inprocess(apps: Mapping[str, Any], probes: Sequence[Probe], *, n: int = 3000,
                      rounds: int = 3, budget: float = 1.0,
                      ) -> dict[tuple[str, str], list[float]]:  # fmt: skip
    """Call each ASGI callable directly up to ``n`` times (or ``budget`` CPU seconds) per
    round; calls per CPU second of the process (worker threads included), which is far less
    disturbed by other load on a shared machine than wall time."""
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run

    async def drive(app: Any, probe: Probe) -> float:
        headers = [(k.lower().encode(), v.encode()) for k, v in probe.headers.items()]
        path, _, query = probe.path.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip
        request = {"type": "http.request", "body": b"", "more_body": False}

        async def receive() -> dict[str, Any]:
            return request

        async def send(message: Any) -> None:
            return None

        for _ in range(min(20, n)):
            await app(dict(scope), receive, send)
        t0 = time.process_time()
        deadline = t0 + budget
        done = 0
        while done < n:
            for _ in range(50):
                await app(dict(scope), receive, send)
            done += 50
            if time.process_time() > deadline:
                break
        return done / (time.process_time() - t0)

    results: dict[tuple[str, str], list[float]] = {}
    names = list(apps)
    for r in range(rounds):
        for probe in probes:
            for name in names if r % 2 == 0 else reversed(names):
                rate = runner(drive(apps[name], probe))
                results.setdefault((name, probe.name), []).append(rate)
    return results


def median(values: Iterable[float]) -> float:
    data = list(values)
    return statistics.median(data) if data else float("nan")


def print_table(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print an aligned table; with ``BENCH_RESULTS`` set, also append it there as a JSON
    line, so ``python -m benchmarks`` can summarise and plot every benchmark's tables."""
    cells = [[str(c) for c in row] for row in rows]
    record_table(title, header, cells)
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def record_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    target = os.environ.get("BENCH_RESULTS")
    if not target:
        return
    line = {"bench": os.environ.get("BENCH_NAME", ""), "title": title,
            "header": list(header), "rows": [list(r) for r in rows]}  # fmt: skip
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")


def human_bytes(n: float) -> str:
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n:.0f} B"

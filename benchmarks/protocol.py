"""Time per request through uvicorn's protocol, every variant in one process: a low-noise
throughput figure.

``python -m benchmarks.protocol [--batches 100] [--batch 400] [--probe json1k]
[--variants gzip,starlette-compress,brotli-asgi,perf]``

``benchmarks.dynamic`` measures what the targets are stated in (uvicorn and wrk over loopback),
but its ratios move between runs by more than the differences worth resolving (the spread is
in docs/benchmarks.md). Here each variant of ``benchmarks.dynamic``
gets its own ``HttpToolsProtocol`` fed from memory (uvicorn's own parser, ASGI cycle, header
validation and framing, as in ``benchmarks.instructions``), all of them in this process on
one core. Batches of requests alternate between the variants, in reversed order every other
round, so the machine's drift hits them alike; each ratio is raw's time per request over the
variant's in the same round, and the table gives their median (interquartile range).

What it leaves out is the socket work, which costs every variant about the same time but also
changes what stays in the CPU caches and how many requests one loop iteration serves. So a
ratio here does not convert into a wrk ratio by adding raw's socket time to both sides, and the
error has no fixed sign. Use it for what wrk cannot resolve: ranking variants and comparing
builds by a few per cent on one machine. Times are wall time of this process; the large-body
codecs of some variants run in worker threads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.dynamic import make_app, probes
from benchmarks.harness import Probe, print_table, quartiles
from benchmarks.instructions import Connection, request

DEFAULT_VARIANTS = ("gzip", "starlette-compress", "brotli-asgi", "perf")


def raw_request(probe: Probe) -> bytes:
    """The HTTP/1.1 request wrk would send for ``probe``."""
    fields = (f"{name}: {value}\r\n".encode("latin-1") for name, value in probe.headers.items())
    return request(probe.path, *fields)


@dataclass(frozen=True)
class Timing:
    """One probe, one variant: per-round ratios to raw and the fastest batch of each."""

    ratios: list[float]
    best: float  # seconds per request, fastest batch
    raw_best: float


async def measure(
    probe: Probe, variants: Sequence[str], batches: int, batch: int, warm: int
) -> dict[str, Timing]:
    payload = raw_request(probe)
    names = ["raw", *variants]
    connections = {name: Connection(make_app(name)) for name in names}
    for name, connection in connections.items():
        # 304 where a variant answers the conditional probe itself (raw answers 200)
        line = await connection.status_line(payload)
        if line[:12] not in (b"HTTP/1.1 200", b"HTTP/1.1 304"):
            raise SystemExit(f"{name} answered {probe.name} with {line!r}")
        await connection.serve(payload, warm)
    times: dict[str, list[float]] = {name: [] for name in names}
    for index in range(batches):
        for name in names if index % 2 == 0 else reversed(names):
            times[name].append(await connections[name].serve(payload, batch))
    raw = times["raw"]
    return {
        name: Timing(
            [base / own for base, own in zip(raw, times[name], strict=True)],
            min(times[name]),
            min(raw),
        )
        for name in variants
    }


def run(probe_filter: str, variants: Sequence[str], batches: int, batch: int, warm: int) -> None:
    import uvloop

    chosen = [p for p in probes() if probe_filter in p.name]
    if not chosen:
        raise SystemExit(f"no probe matches {probe_filter!r}")
    results: dict[str, dict[str, Timing]] = {}
    for probe in chosen:
        print(f"  {probe.name}: {batches} rounds of {batch} requests", file=sys.stderr, flush=True)
        results[probe.name] = uvloop.run(measure(probe, variants, batches, batch, warm))
    print_table(
        f"uvicorn's protocol in one process, ratio to raw (median of {batches} alternating "
        f"batches of {batch} requests; socket work left out)",
        ["probe", *variants],
        [
            [name, *(f"{statistics.median(by[v].ratios):.2f}" for v in variants)]
            for name, by in results.items()
        ],
    )
    rows = []
    for name, by in results.items():
        for variant in variants:
            timing = by[variant]
            low, high = quartiles(timing.ratios)
            rows.append([
                name, variant,
                f"{statistics.median(timing.ratios):.3f} ({low:.3f}-{high:.3f})",
                f"{timing.best * 1e6:.1f}", f"{timing.raw_best * 1e6:.1f}",
            ])  # fmt: skip
    print_table(
        "the same in detail: median (interquartile range) of the per-round ratios, and the "
        "fastest batch's microseconds per request",
        ["probe", "variant", "median (IQR)", "us/request", "raw us/request"],
        rows,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100, help="rounds over the variants")
    parser.add_argument("--batch", type=int, default=400, help="requests per batch")
    parser.add_argument("--warm", type=int, default=2000, help="requests before timing")
    parser.add_argument("--probe", default="json1k", help="probes whose name contains this")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help="comma-separated variants of benchmarks.dynamic")  # fmt: skip
    args = parser.parse_args(argv)
    if args.batches < 2 or args.batch < 1:
        parser.error("--batches must be at least 2 and --batch at least 1")
    run(args.probe, args.variants.split(","), args.batches, args.batch, args.warm)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

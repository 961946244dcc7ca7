"""Dynamic responses: raw Starlette vs compression middlewares vs PerformanceMiddleware.

``python -m benchmarks.dynamic [--rounds 3] [--duration 3] [--inprocess-only|--http-only]``
``python -m benchmarks.dynamic --paired 15 [--duration 2] [--probe json1k] [--variants perf]``

Bodies are pre-serialised (1 KB JSON, 50 KB HTML, 500 KB JSON) so the handler costs nothing
and each ratio isolates the middleware. Every figure is a ratio to the raw app in the same
round; bytes are the body as sent on the wire, and every decoded body is checked against the
original. The 304 row is PerformanceMiddleware answering ``If-None-Match`` from an
app-provided ETag, as a ratio to a bare ASGI callable returning a constant.

``--paired N`` measures instead N back-to-back (raw, variant) pairs per probe and reports the
median ratio with its interquartile range: whole rounds drift (docs/benchmarks.md gives the
spread on the reference machine), and a ratio of two runs taken seconds apart is what that
drift cannot move.

``perf`` runs on defaults, so the repeated identical bodies of this benchmark are compressed
once and then served from the encoded-body memo; ``perf-nomemo`` switches the memo off and
shows what a stream of unique bodies costs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
from typing import Any

import brotli
import zstandard

from benchmarks.harness import (
    Probe,
    Server,
    fetch_raw,
    human_bytes,
    measure_http,
    measure_inprocess,
    measure_paired,
    median,
    print_table,
    quartiles,
    warm_up,
)

AE = {"Accept-Encoding": "gzip, deflate, br, zstd"}
VARIANTS = (
    "raw", "gzip", "starlette-compress", "brotli-asgi", "perf", "perf-nomemo", "bare", "bare+perf",
)  # fmt: skip
TABLE = VARIANTS[:6]
ETAG = '"bench-v1"'


def _words(rng: random.Random, n: int) -> str:
    vocab = [
        "performance", "middleware", "cache", "request", "response", "header", "stream",
        "server", "client", "browser", "compress", "latency", "thread", "event", "loop",
        "static", "asset", "deck", "slide", "present", "render", "template", "query", "data",
        "the", "a", "of", "and", "to", "in", "is", "for", "with", "on", "by", "this", "that",
    ]  # fmt: skip
    return " ".join(rng.choice(vocab) for _ in range(n))


def make_bodies() -> dict[str, tuple[bytes, str]]:
    rng = random.Random(42)
    small = [{"id": i, "name": _words(rng, 3), "score": round(rng.random() * 100, 2)}
             for i in range(19)]  # fmt: skip
    json1k = json.dumps({"items": small}, separators=(",", ":")).encode()
    parts = ["<!doctype html><html><head><title>Deck</title></head><body><main>"]
    i = 0
    while sum(map(len, parts)) < 50_000:
        i += 1
        parts.append(
            f'<section class="slide s{i % 7}" id="slide-{i}"><h2>{_words(rng, 4)}</h2>'
            f'<p class="lead">{_words(rng, 40)}</p><ul><li>{_words(rng, 8)}</li>'
            f'<li>{_words(rng, 8)}</li></ul><a href="/deck/{rng.randint(1, 999)}">more</a>'
            "</section>\n"
        )
    html50k = ("".join(parts) + "</main></body></html>").encode()[:50_000]
    rows = [
        {"id": i, "user": f"user{rng.randint(1, 5000)}", "title": _words(rng, 5),
         "value": rng.random(), "tags": [_words(rng, 1) for _ in range(3)], "ok": i % 3 == 0}
        for i in range(3600)
    ]  # fmt: skip
    json500k = json.dumps({"rows": rows}, separators=(",", ":")).encode()
    return {
        "json1k": (json1k, "application/json"),
        "html50k": (html50k, "text/html; charset=utf-8"),
        "json500k": (json500k, "application/json"),
    }


BODIES = make_bodies()


def make_app(variant: str | None = None) -> Any:
    """ASGI app for one variant (uvicorn ``--factory``; variant from ``BENCH_VARIANT``)."""
    variant = variant or os.environ.get("BENCH_VARIANT", "raw")
    if variant in ("bare", "bare+perf"):
        body, ctype = BODIES["json1k"]
        headers = [
            (b"content-type", ctype.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"etag", ETAG.encode()),
        ]
        start = {"type": "http.response.start", "status": 200, "headers": headers}
        end = {"type": "http.response.body", "body": body}

        async def bare(scope: Any, receive: Any, send: Any) -> None:
            await send(start)
            await send(end)

        if variant == "bare":
            return bare
        from perf_middleware.middleware import PerformanceMiddleware

        return PerformanceMiddleware(bare)
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    def endpoint(name: str, headers: dict[str, str] | None = None) -> Any:
        body, ctype = BODIES[name]

        async def handler(request: Any) -> Response:
            return Response(body, media_type=ctype, headers=headers)

        return handler

    routes = [Route(f"/{name}", endpoint(name)) for name in BODIES]
    routes.append(Route("/etag", endpoint("json1k", {"etag": ETAG})))
    app: Any = Starlette(routes=routes)
    if variant == "gzip":
        from starlette.middleware.gzip import GZipMiddleware

        return GZipMiddleware(app)
    if variant == "starlette-compress":
        from starlette_compress import CompressMiddleware

        return CompressMiddleware(app)
    if variant == "brotli-asgi":
        from brotli_asgi import BrotliMiddleware

        return BrotliMiddleware(app)
    if variant == "perf":
        from perf_middleware.middleware import PerformanceMiddleware

        return PerformanceMiddleware(app)
    if variant == "perf-nomemo":  # every body compressed afresh, as unique bodies would be
        from perf_middleware.compression.codecs import CompressionConfig
        from perf_middleware.middleware import PerformanceMiddleware

        return PerformanceMiddleware(app, compression=CompressionConfig(memo_bytes=0))
    if variant != "raw":
        raise SystemExit(f"unknown variant {variant!r}. HINT: one of {VARIANTS}")
    return app


def probes() -> list[Probe]:
    out = []
    for name in BODIES:
        out.append(Probe(f"{name} AE", f"/{name}", AE))
        out.append(Probe(f"{name} no-AE", f"/{name}", {}))
    out.append(Probe("304 (If-None-Match)", "/etag", {**AE, "If-None-Match": ETAG}))
    return out


def _pairs(server: Server, probe: Probe) -> bool:
    if server.name == "bare":
        return probe.name in ("json1k AE", "304 (If-None-Match)")
    if server.name == "bare+perf" or probe.path == "/etag":
        return probe.path == "/etag" and server.name in ("raw", "perf", "bare+perf")
    return True


def decode(body: bytes, coding: str | None) -> bytes:
    if coding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    if coding == "br":
        return brotli.decompress(body)
    if coding == "gzip":
        return gzip.decompress(body)
    return body


def check_bodies(servers: list[Server], probe_list: list[Probe]) -> dict[tuple[str, str], str]:
    """Fetch each pair once: wire size plus a decoded-body equality check."""
    sizes: dict[tuple[str, str], str] = {}
    for server in servers:
        for probe in probe_list:
            if not _pairs(server, probe) or server.name.startswith("bare"):
                continue
            status, headers, body = fetch_raw(server.url + probe.path, probe.headers)
            coding = headers.get("content-encoding")
            if status == 200:
                original = BODIES["json1k" if probe.path == "/etag" else probe.path[1:]][0]
                if decode(body, coding) != original:
                    raise SystemExit(f"{server.name} {probe.name}: decoded body differs!")
            sizes[(server.name, probe.name)] = f"{human_bytes(len(body))} {coding or 'id'}"
    return sizes


def run_http(rounds: int, duration: float) -> None:
    servers = [Server(v, "benchmarks.dynamic:make_app", {"BENCH_VARIANT": v}, factory=True)
               for v in VARIANTS]  # fmt: skip
    probe_list = probes()
    try:
        for server in servers:
            server.start()
        sizes = check_bodies(servers, probe_list)
        warm_up(servers, probe_list[:1])
        results = measure_http(servers, probe_list, rounds=rounds, duration=duration,
                               pairs=_pairs)  # fmt: skip
    finally:
        for server in servers:
            server.stop()
    rps = {key: median(r.rps for r in runs) for key, runs in results.items()}
    errors = sum(r.errors for runs in results.values() for r in runs)
    names = list(TABLE)
    rows = []
    for probe in probe_list:
        base = rps.get(("raw", probe.name), float("nan"))
        row: list[object] = [probe.name, f"{base:.0f}"]
        for name in names[1:]:
            value = rps.get((name, probe.name))
            row.append(f"{value / base:.2f}" if value else "-")
        rows.append(row)
    print_table(
        f"uvicorn+wrk, ratio to raw (median of {rounds} rounds, {duration:g}s each)",
        ["probe", "raw req/s", *names[1:]],
        rows,
    )
    size_rows = [
        [p.name, *(sizes.get((n, p.name), "-") for n in names)]
        for p in probe_list
        if "AE" in p.name
    ]
    print_table("body bytes on the wire", ["probe", *names], size_rows)
    bare = rps.get(("bare", "304 (If-None-Match)"), float("nan"))
    bare1k = rps.get(("bare", "json1k AE"), float("nan"))
    print(f"\nbare ASGI callable: {bare:.0f} req/s ({bare1k / rps[('raw', 'json1k AE')]:.2f}x raw)")
    for name in ("bare+perf", "perf"):
        value = rps.get((name, "304 (If-None-Match)"), float("nan"))
        print(
            f"304 from app ETag via {name}: {value:.0f} req/s = {value / bare:.2f}x bare callable"
        )
    print(f"wrk errors (non-2xx/3xx + socket): {errors}")


PAIRED = ("gzip", "starlette-compress", "brotli-asgi", "perf")


def run_paired(pairs: int, duration: float, only: str | None, variants: str | None) -> None:
    chosen = variants.split(",") if variants else PAIRED
    unknown = [v for v in chosen if v not in VARIANTS or v == "raw"]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}. HINT: choose from {VARIANTS[1:]}")
    names = ("raw", *chosen)
    servers = [Server(v, "benchmarks.dynamic:make_app", {"BENCH_VARIANT": v}, factory=True)
               for v in names]  # fmt: skip
    probe_list = [p for p in probes() if p.path != "/etag" and (not only or only in p.name)]
    try:
        for server in servers:
            server.start()
        check_bodies(servers, probe_list)
        warm_up(servers, probe_list[:1])
        ratios, cpu_ratios = measure_paired(servers[0], servers[1:], probe_list, pairs=pairs,
                                            duration=duration)  # fmt: skip
    finally:
        for server in servers:
            server.stop()
    for title, table in (("requests per second", ratios),
                         ("requests per server CPU second", cpu_ratios)):  # fmt: skip
        rows = []
        for probe in probe_list:
            row: list[object] = [probe.name]
            for name in names[1:]:
                values = table[(name, probe.name)]
                low, high = quartiles(values)
                row.append(f"{median(values):.2f} ({low:.2f}-{high:.2f})")
            rows.append(row)
        print_table(
            f"uvicorn+wrk, {title}, variant / raw from {pairs} back-to-back pairs per cell "
            f"({duration:g}s runs): median (interquartile range)",
            ["probe", *names[1:]],
            rows,
        )


def run_inprocess(rounds: int, n: int) -> None:
    apps = {v: make_app(v) for v in TABLE}
    probe_list = [p for p in probes() if "304" not in p.name]
    results = measure_inprocess(apps, probe_list, n=n, rounds=rounds)
    p304 = [p for p in probes() if "304" in p.name]
    bare = measure_inprocess({v: make_app(v) for v in ("bare", "bare+perf")}, p304, n=n,
                             rounds=rounds)  # fmt: skip
    rows = []
    for probe in probe_list:
        base = median(results[("raw", probe.name)])
        rows.append([probe.name, f"{base:.0f}", *(
            f"{median(results[(v, probe.name)]) / base:.2f}" for v in list(apps)[1:])])  # fmt: skip
    print_table(
        f"in-process (ASGI callable driven directly, n={n}, median of {rounds}), ratio to raw",
        ["probe", "raw calls/s", *list(apps)[1:]],
        rows,
    )
    ratio = median(bare[("bare+perf", p304[0].name)]) / median(bare[("bare", p304[0].name)])
    print(f"in-process 304 via bare+perf: {ratio:.2f}x bare callable")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    parser.add_argument("--n", type=int, default=2000, help="in-process calls per round")
    parser.add_argument("--inprocess-only", action="store_true")
    parser.add_argument("--http-only", action="store_true")
    parser.add_argument("--paired", type=int, default=0, metavar="N",
                        help="instead: N back-to-back (raw, variant) pairs per probe")  # fmt: skip
    parser.add_argument("--probe", help="with --paired: only probes whose name contains this")
    parser.add_argument("--variants", help="with --paired: comma-separated (default: peers, perf)")
    args = parser.parse_args(argv)
    for name, (body, _) in BODIES.items():
        print(f"{name}: {len(body)} bytes", file=sys.stderr)
    if args.paired:
        run_paired(args.paired, args.duration, args.probe, args.variants)
        return 0
    if not args.http_only:
        run_inprocess(args.rounds, args.n)
    if not args.inprocess_only:
        run_http(args.rounds, args.duration)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

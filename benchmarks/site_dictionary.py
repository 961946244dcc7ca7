"""Site-dictionary compression of HTML (RFC 9842 ``dcz``) against plain compression.

``python -m benchmarks.site_dictionary [--books rust-by-example,book] [--train 60]``

Real pages: the mdBook books of Debian's ``rust-doc`` package
(``apt-get install -y --no-install-recommends rust-doc``; /usr/share/doc/rust-doc/html/),
hundreds of server-rendered-style pages sharing one layout. Per book, ``--train`` pages
(a fixed shuffle) make the dictionary and every other page is measured: average bytes and
CPU microseconds per page for zstd 3 (what the middleware sends today, through its own
``Codecs``), zstd 19, brotli 11, starlette-compress's choice for Chromium's
Accept-Encoding (run through its middleware), and ``dcz`` with a dictionary made each way
``python -m perf_middleware.compression.training`` offers (``raw``, ``trained``), timed
through the middleware's own ``SiteDictionary.encode``; the ``+markers`` column adds the
default secret-marker scan a holder's request pays (``carries_secret``). Every ``dcz`` body
is decoded and compared before it counts.

Synthetic pages then show where the line is: pages of the same size whose unique share
(random words) grows from 10 % to 90 % of the page around one shared layout.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import median

import brotli
import zstandard

from benchmarks.harness import print_table
from perf_middleware.compression.codecs import Codecs, CompressionConfig
from perf_middleware.compression.site_dictionary import (
    SiteDictionary,
    SiteDictionaryConfig,
    carries_secret,
)
from perf_middleware.compression.training import build_dictionary

RUST_DOC = Path("/usr/share/doc/rust-doc/html")
BOOKS = ("rust-by-example", "book", "reference", "nomicon", "edition-guide")
CHROMIUM_AE = b"gzip, deflate, br, zstd, dcz"
#: whole-book and error pages are not pages a visitor browses one after another
SKIP = frozenset({"print.html", "404.html", "toc.html"})


def book_pages(name: str) -> list[bytes]:
    files = sorted(p for p in (RUST_DOC / name).rglob("*.html") if p.name not in SKIP)
    return [p.read_bytes() for p in files]


def cpu_us(function: Callable[[bytes], object], pages: Sequence[bytes], rounds: int) -> float:
    """Median over ``rounds`` of the CPU time per page of ``function`` over ``pages``."""
    times = []
    for _ in range(rounds):
        started = time.process_time()
        for page in pages:
            function(page)
        times.append((time.process_time() - started) / len(pages))
    return median(times) * 1e6


def starlette_compress_sizes(pages: Sequence[bytes]) -> tuple[str, float]:
    """The coding starlette-compress picks for Chromium and its average bytes."""
    from starlette.responses import Response
    from starlette_compress import CompressMiddleware

    async def run() -> tuple[str, float]:
        total = 0
        coding = "identity"
        for page in pages:

            async def app(scope: object, receive: object, send: object, page: bytes = page) -> None:
                await Response(page, media_type="text/html")(scope, receive, send)  # type: ignore[arg-type]

            sent: list[dict[str, object]] = []

            async def send(
                message: dict[str, object], sent: list[dict[str, object]] = sent
            ) -> None:
                sent.append(message)

            async def receive() -> dict[str, object]:
                return {"type": "http.request", "body": b""}

            scope = {"type": "http", "method": "GET", "path": "/", "headers": [
                (b"accept-encoding", b"gzip, deflate, br, zstd")]}  # fmt: skip
            await CompressMiddleware(app)(scope, receive, send)
            headers = dict(sent[0]["headers"])  # type: ignore[call-overload]
            coding = headers.get(b"content-encoding", b"identity").decode()
            total += sum(len(m.get("body", b"")) for m in sent[1:])  # type: ignore[arg-type, misc]
        return coding, total / len(pages)

    return asyncio.run(run())


def measure(
    label: str, train: Sequence[bytes], test: Sequence[bytes], rounds: int, *, peers: bool
) -> list[str]:
    codecs = Codecs(CompressionConfig())
    zstd19 = zstandard.ZstdCompressor(level=19)
    row = [label, f"{len(train)}/{len(test)}", f"{sum(map(len, test)) / len(test):,.0f}"]
    plain = sum(len(codecs.compress(p, "zstd")) for p in test) / len(test)
    plain_us = cpu_us(lambda p: codecs.compress(p, "zstd"), test, rounds)
    row += [f"{plain:,.0f}", f"{plain_us:.0f}"]
    if peers:
        row.append(f"{sum(len(zstd19.compress(p)) for p in test) / len(test):,.0f}")
        row.append(f"{sum(len(brotli.compress(p, quality=11)) for p in test) / len(test):,.0f}")
        coding, size = starlette_compress_sizes(test)
        row.append(f"{size:,.0f} ({coding})")
    with tempfile.TemporaryDirectory() as work:
        for method in ("raw", "trained"):
            path = Path(work) / f"{method}.dict"
            try:
                path.write_bytes(build_dictionary(train, method=method))
            except ValueError:
                row += ["-", "-", "-", "-"]
                continue
            config = SiteDictionaryConfig(path=path)
            site = SiteDictionary.load(config)
            bodies = [site.encode(p) for p in test]
            assert all(site.decode(b) == p for b, p in zip(bodies, test, strict=True))
            size = sum(map(len, bodies)) / len(test)
            encode_us = cpu_us(site.encode, test, rounds)
            scan_us = cpu_us(lambda page, c=config: carries_secret(page, c), test, rounds)
            row += [f"{size:,.0f}", f"{encode_us:.0f}", f"{encode_us + scan_us:.0f}",
                    f"{plain / size:.2f}x"]  # fmt: skip
    return row


def synthetic(share: float, count: int, size: int, seed: int) -> list[bytes]:
    """``count`` pages of ``size`` bytes: one shared layout, ``share`` of random words."""
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(5000)
    ]
    layout_rng = random.Random(1)
    layout = " ".join(layout_rng.choice(words) for _ in range(size)).encode()
    layout = layout[: int(size * (1 - share))]
    head, tail = layout[: len(layout) // 2], layout[len(layout) // 2 :]
    pages = []
    for _ in range(count):
        text = " ".join(rng.choice(words) for _ in range(size // 4)).encode()[: int(size * share)]
        pages.append(b"<html><body>" + head + b"<main>" + text + b"</main>" + tail)
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--books", default=",".join(BOOKS))
    parser.add_argument("--train", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if not RUST_DOC.is_dir():
        print("rust-doc is not installed: apt-get install -y --no-install-recommends rust-doc")
        return 1
    columns = ["pages", "train/test", "identity", "zstd 3", "µs", "zstd 19", "br 11",
               "starlette-compress", "dcz raw", "µs", "+markers", "vs zstd 3", "dcz trained",
               "µs", "+markers", "vs zstd 3"]  # fmt: skip
    rows = []
    for book in args.books.split(","):
        pages = book_pages(book)
        random.Random(0).shuffle(pages)
        if len(pages) <= args.train + 10:
            print(f"{book}: only {len(pages)} pages, skipped", file=sys.stderr)
            continue
        rows.append(
            measure(book, pages[: args.train], pages[args.train :], args.rounds, peers=True)
        )
    print_table("Site dictionary: rust-doc mdBook pages (bytes and CPU µs per page)", columns, rows)
    rows = []
    for share in (0.1, 0.3, 0.5, 0.7, 0.9):
        pages = synthetic(share, 60 + 100, 20_000, seed=int(share * 100))
        rows.append(
            measure(f"{share:.0%} unique", pages[:60], pages[60:], args.rounds, peers=False)
        )
    columns = ["pages", "train/test", "identity", "zstd 3", "µs", "dcz raw", "µs", "+markers",
               "vs zstd 3", "dcz trained", "µs", "+markers", "vs zstd 3"]  # fmt: skip
    print_table("Site dictionary: synthetic 20 KB pages, unique share", columns, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

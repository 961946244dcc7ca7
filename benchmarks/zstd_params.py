"""zstd parameters for on-the-fly compression: bytes and instructions per body, by setting.

``python -m benchmarks.zstd_params [--calls 200] [--only NAME] [--time]``

Each setting compresses each of ``benchmarks.dynamic``'s bodies (the unique 50 KB page, the
1 KB and 500 KB JSON) ``--calls`` times in a child process under ``valgrind --tool=cachegrind``
with one reused compressor, as the middleware does; the difference to a run with no calls,
divided by the number of calls, is the cost of one call. Instruction counts do not depend on
the machine's load, which a timed sweep on shared cores does. ``starlette-compress`` is its
own one-shot path: a new level-4 compressor per body. Read the table for the settings at or
under starlette-compress's bytes on every body, then the fewest instructions.

Instruction counts barely separate settings that differ only in table sizes, whose cost is
in memory traffic; ``--time`` measures CPU time per call instead (``time.process_time``, the
settings interleaved in one process, median of ``--rounds`` rounds), adding the first 8 KB
of the page, where zstd 4 switches strategy.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import zstandard

from benchmarks.harness import ROOT, print_table

#: name -> compression parameters (keyword arguments of ``from_level`` on top of a level)
SETTINGS: dict[str, tuple[int, dict[str, int]]] = {
    "zstd 1": (1, {}),
    "zstd 3": (3, {}),
    "zstd 4": (4, {}),
    "zstd 3, hash 14 chain 14": (3, {"hash_log": 14, "chain_log": 14}),
    "zstd 3, hash 14 chain 12": (3, {"hash_log": 14, "chain_log": 12}),
    "zstd 3, hash 13 chain 13": (3, {"hash_log": 13, "chain_log": 13}),
    "zstd 3, hash 13 chain 12": (3, {"hash_log": 13, "chain_log": 12}),
    "zstd 3, hash 15 chain 12": (3, {"hash_log": 15, "chain_log": 12}),
    "zstd 3, hash 14 chain 12 min 6": (3, {"hash_log": 14, "chain_log": 12, "min_match": 6}),
    "zstd 3, hash 14 chain 13 min 6": (3, {"hash_log": 14, "chain_log": 13, "min_match": 6}),
    "zstd 3, hash 15 chain 13 min 6": (3, {"hash_log": 15, "chain_log": 13, "min_match": 6}),
    "zstd 1, hash 15 min 5": (1, {"hash_log": 15, "min_match": 5}),
    "zstd 1, hash 16 min 5": (1, {"hash_log": 16, "min_match": 5}),
}
PEER = "starlette-compress (zstd 4, new compressor per body)"


def bodies(small: bool = False) -> dict[str, bytes]:
    from benchmarks.dynamic import BODIES, unique_html

    found = {
        "unique 50 KB HTML": unique_html(12345),
        "1 KB JSON": BODIES["json1k"][0],
        "500 KB JSON": BODIES["json500k"][0],
    }
    if small:
        found["8 KB of the page"] = found["unique 50 KB HTML"][:8000]
    return found


def compressor(name: str) -> Callable[[bytes], bytes]:
    if name == PEER:
        return lambda body: zstandard.ZstdCompressor(level=4).compress(body)
    level, extra = SETTINGS[name]
    if not extra:
        cctx = zstandard.ZstdCompressor(level=level)
    else:
        params = zstandard.ZstdCompressionParameters.from_level(level, **extra)
        cctx = zstandard.ZstdCompressor(compression_params=params)
    return cctx.compress


def child(name: str, body_name: str, calls: int) -> None:
    compress = compressor(name)
    body = bodies()[body_name]
    compress(body)  # warm: contexts and tables allocated
    for _ in range(calls):
        compress(body)


def _instructions(name: str, body_name: str, calls: int) -> float:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    cmd = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, "-m", "benchmarks.zstd_params", "--child", name, body_name, str(calls),
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{name} / {body_name} failed:\n{done.stderr[-2000:]}")
    return float(found.group(1).replace(",", ""))


def per_call(name: str, body_name: str, calls: int) -> float:
    return (_instructions(name, body_name, calls) - _instructions(name, body_name, 0)) / calls


def run(calls: int, only: str | None, jobs: int) -> None:
    names = [n for n in (PEER, *SETTINGS) if only is None or only in n]
    data = bodies()
    todo = [(n, b) for n in names for b in data]

    def count(task: tuple[str, str]) -> float:
        n = calls if len(data[task[1]]) < 100_000 else max(calls // 10, 5)  # same total work
        return per_call(*task, n)

    with ThreadPoolExecutor(jobs) as pool:
        counts = dict(zip(todo, pool.map(count, todo), strict=True))
    rows = []
    for name in names:
        row = [name]
        for body_name, body in data.items():
            size = len(compressor(name)(body))
            row.append(f"{size:,} B, {counts[(name, body_name)] / 1000:.1f}k")
        rows.append(row)
    print_table("zstd settings: bytes, instructions per call", ["setting", *data], rows)


def run_times(only: str | None, rounds: int) -> None:
    names = [n for n in (PEER, *SETTINGS) if only is None or only in n]
    data = bodies(small=True)
    compressors = {name: compressor(name) for name in names}
    times: dict[tuple[str, str], list[float]] = {(n, b): [] for n in names for b in data}
    for _ in range(rounds):
        for body_name, body in data.items():
            calls = 200 if len(body) < 100_000 else 20
            for name, compress in compressors.items():
                started = time.process_time()
                for _ in range(calls):
                    compress(body)
                times[(name, body_name)].append((time.process_time() - started) / calls)
    rows = []
    for name, compress in compressors.items():
        row = [name]
        for body_name, body in data.items():
            seconds = statistics.median(times[(name, body_name)])
            row.append(f"{len(compress(body)):,} B, {seconds * 1e6:.1f} µs")
        rows.append(row)
    print_table("zstd settings: bytes, CPU time per call", ["setting", *data], rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--only", help="only settings whose name contains this")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--time", action="store_true", help="CPU time per call, no valgrind")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--child", nargs=3, metavar=("SETTING", "BODY", "CALLS"))
    args = parser.parse_args(argv)
    if args.child:
        name, body_name, calls = args.child
        child(name, body_name, int(calls))
        return 0
    if args.time:
        run_times(args.only, args.rounds)
    else:
        run(args.calls, args.only, args.jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

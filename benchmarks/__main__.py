"""Run every benchmark and print one summary: ``python -m benchmarks`` (or ``make bench``).

Each benchmark runs in its own process (``python -m benchmarks.NAME``) with its output kept
in ``benchmarks/results/NAME.log``. The tables the HTTP benchmarks print through
``harness.print_table`` are collected as JSON lines; from them this prints, for each of our
variants, the ratio to the raw app and to the best peer measured in the same run, and draws
``benchmarks/results/throughput.png``. Build, upload, image and metrics figures are printed
as their benchmarks report them. Run by hand on a quiet machine; never part of the tests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

#: benchmark module -> arguments for a full run and for --quick
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "dynamic": ([], ["--rounds", "1", "--duration", "1", "--n", "300"]),
    "cache": ([], ["--rounds", "1", "--duration", "1"]),
    "cluster_spread": ([], ["--urls", "600", "--reads", "3000", "--buckets", "1,64"]),
    "static": ([], ["--rounds", "1", "--duration", "1"]),
    "build": ([], []),
    "dictionaries": ([], []),
    "site_dictionary": ([], ["--books", "rust-by-example", "--rounds", "1"]),
    "django_static": ([], ["--rounds", "1"]),
    "upload": ([], ["--files", "100"]),
    "images": ([], []),
    "bench_metrics": ([], []),
    "instructions": ([], ["--requests", "300", "--only", "dynamic"]),
    "protocol": ([], ["--batches", "6", "--batch", "100", "--warm", "200"]),
    "imports": ([], ["--runs", "3", "--no-valgrind"]),
}

#: column names that are our own variants; every other value column is a peer
OURS = re.compile(r"perf|ours|hit|miss", re.IGNORECASE)
NOT_A_VARIANT = re.compile(r"^(probe|file|case|what|raw|bare)\b|req/s|calls/s", re.IGNORECASE)


@dataclass(frozen=True)
class Ratio:
    bench: str
    table: str
    probe: str
    variant: str
    to_raw: float
    best_peer: str
    to_best_peer: float


def _number(cell: str) -> float | None:
    try:
        return float(cell.rstrip("x"))
    except ValueError:
        return None


def ratios(tables: list[dict[str, object]]) -> list[Ratio]:
    """Our variants against the best peer, from every "ratio to raw" table."""
    out: list[Ratio] = []
    for table in tables:
        title = str(table["title"])
        if "ratio" not in title.lower():
            continue
        header = [str(h) for h in table["header"]]  # type: ignore[attr-defined]
        for row in table["rows"]:  # type: ignore[attr-defined]
            cells = dict(zip(header, row, strict=False))
            values = {
                name: v
                for name, cell in cells.items()
                if not NOT_A_VARIANT.search(name) and (v := _number(str(cell))) is not None
            }
            peers = {n: v for n, v in values.items() if not OURS.search(n)}
            best_name, best = max(peers.items(), key=lambda kv: kv[1], default=("-", math.nan))
            for name, value in values.items():
                if OURS.search(name):
                    out.append(
                        Ratio(
                            str(table["bench"]),
                            title,
                            str(row[0]),
                            name,
                            value,
                            best_name,
                            value / best if best and not math.isnan(best) else math.nan,
                        )
                    )
    return out


def plot(tables: list[dict[str, object]], target: Path) -> Path | None:
    """One panel per "ratio to raw" table: grouped bars of every variant per probe."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart (HINT: make bench installs it)")
        return None
    panels = [t for t in tables if "ratio" in str(t["title"]).lower()]
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.6 * len(panels)), squeeze=False)
    for ax, table in zip(axes[:, 0], panels, strict=True):
        header = [str(h) for h in table["header"]]  # type: ignore[attr-defined]
        rows = table["rows"]  # type: ignore[attr-defined]
        variants = [h for h in header if not NOT_A_VARIANT.search(h)]
        width = 0.8 / max(1, len(variants))
        for i, variant in enumerate(variants):
            col = header.index(variant)
            values = [_number(str(r[col])) or 0.0 for r in rows]
            xs = [j + i * width for j in range(len(rows))]
            ax.bar(xs, values, width, label=variant)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))])
        ax.set_xticklabels([str(r[0]) for r in rows], fontsize=8)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_ylabel("x raw app")
        ax.set_title(f"{table['bench']}: {table['title']}", fontsize=9)
        ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benchmarks: " + ",".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="1 short round each (smoke run)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    tables_file = RESULTS / "tables.jsonl"
    tables_file.unlink(missing_ok=True)
    failed: list[str] = []
    for name in names:
        full, quick = BENCHMARKS[name]
        cmd = [sys.executable, "-m", f"benchmarks.{name}", *(quick if args.quick else full)]
        env = {**os.environ, "BENCH_RESULTS": str(tables_file), "BENCH_NAME": name}
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        started = time.monotonic()
        with open(RESULTS / f"{name}.log", "w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
            code = proc.wait()
        print(f"=== {name}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    tables = (
        [json.loads(line) for line in tables_file.read_text().splitlines()]
        if tables_file.exists()
        else []
    )
    summary = ratios(tables)
    if summary:
        print("\nSummary: our variants against the raw app and the best peer of the same run")
        print(f"{'bench':<8} {'probe':<24} {'variant':<14} {'x raw':>6} {'x best peer':>12}  peer")
        for r in summary:
            print(
                f"{r.bench:<8} {r.probe[:24]:<24} {r.variant[:14]:<14} {r.to_raw:>6.2f} "
                f"{r.to_best_peer:>12.2f}  {r.best_peer}"
            )
    chart = plot(tables, RESULTS / "throughput.png")
    if chart:
        print(f"\nchart: {chart.relative_to(ROOT)}")
    print(f"logs: {RESULTS.relative_to(ROOT)}/*.log; machine: {os.cpu_count()} cores")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

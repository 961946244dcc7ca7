"""Where a cold build's CPU goes: each piece of the work, alone, over every file of a tree.

Run by hand::

    .venv/bin/python -m benchmarks.build_costs [--tree modules|large] [--work DIR]

The tree is assembled as ``benchmarks/build.py`` assembles it. Each piece then runs over
every file in this one process (CPU time, best of three; the encoders once), so the
figures are the work a cold build spreads over its workers, without the pool, the build
cache or the file system, and they hold still on a busy machine where wall time does not:

* reference scanning of the sources (the build's only scan of a file),
* carrying those references to the minified outputs (``refs.carry``), beside what a
  second scan of the outputs would cost instead,
* minification (rjsmin, rcssmin), content hashes and SRI, and the precompressed siblings
  at the build's default settings (brotli 11 and gzip 9, source maps at the fast levels).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from asset_pipeline.build.fingerprint import content_hash, integrity
from asset_pipeline.build.precompress import encode, is_compressible
from asset_pipeline.config.model import PrecompressConfig
from asset_pipeline.media_types import content_type
from asset_pipeline.processors import PROCESSOR_KINDS, ProcessContext, load_processor
from asset_pipeline.refs.carry import carry_refs
from asset_pipeline.refs.graph import scanner_for
from asset_pipeline.refs.rewrite import extension
from benchmarks import build

T = TypeVar("T")


def cpu(fn: Callable[[], T], rounds: int = 3) -> tuple[float, T]:
    best, result = float("inf"), None
    for _ in range(rounds):
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    assert result is not None
    return best, result


def costs(tree: Path) -> list[tuple[str, float]]:
    names = [p.relative_to(tree).as_posix() for p in sorted(tree.rglob("*")) if p.is_file()]
    data = {n: (tree / n).read_bytes() for n in names}
    texts = {n: data[n].decode("utf-8", "surrogateescape") for n in names if scanner_for(n)}

    def scan(of: dict[str, str]) -> dict[str, list[object]]:
        return {n: list(scanner_for(n)(t)) for n, t in of.items()}

    def process() -> dict[str, bytes]:
        out = dict(data)
        for n in texts:
            kind = PROCESSOR_KINDS.get(extension(n))
            if kind in ("css", "js"):
                out[n] = load_processor(kind)(data[n], ProcessContext(n, {}, None)).data
        return out

    rows: list[tuple[str, float]] = []
    took, refs = cpu(lambda: scan(texts))
    rows.append(("scan the sources' references", took))
    took, outputs = cpu(process)
    rows.append(("minify CSS and JS", took))
    minified = {n: outputs[n].decode("utf-8", "surrogateescape") for n in texts}
    took, _ = cpu(lambda: [carry_refs(texts[n], refs[n], minified[n]) for n in texts])
    rows.append(("carry them to the minified outputs", took))
    took, _ = cpu(lambda: scan(minified))
    rows.append(("(a second scan, of the outputs, instead)", took))
    took, _ = cpu(lambda: [(content_hash(d), integrity(d)) for d in outputs.values()])
    rows.append(("content hashes and SRI", took))
    settings = PrecompressConfig()  # the build's defaults: brotli 11, gzip 9; maps fast
    packed = [
        (d, settings.for_file(n)) for n, d in outputs.items() if is_compressible(content_type(n))
    ]
    took, _ = cpu(lambda: [encode("br", d, s) for d, s in packed], rounds=1)
    rows.append((f"brotli ({len(packed)} files)", took))
    took, _ = cpu(lambda: [encode("gzip", d, s) for d, s in packed], rounds=1)
    rows.append(("gzip", took))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", choices=sorted(build.TREES), action="append")
    parser.add_argument("--work", type=Path, default=build.WORK)
    args = parser.parse_args(argv)
    build.WORK = args.work.resolve()
    modules = build.fetch()
    for name in args.tree or list(build.TREES):
        tree = build.WORK / name / "tree"
        count, size = build.assemble(modules, build.TREES[name], tree)
        print(f"tree {name}: {count} files, {size / 2**20:.1f} MB (CPU seconds, one process)")
        for label, took in costs(tree):
            print(f"  {label:<44} {took:7.3f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Dictionary deltas (RFC 9842 ``dcz``) on real library upgrades, against plain compression.

``python -m benchmarks.dictionaries [--pairs bootstrap,chart.js]``

Each pair is two published versions of a library's built file, fetched from the npm
registry with ``npm pack`` (the ordinary client) and kept under ``benchmarks/.work/npm/``
(ignored by git), so later runs work offline. For the new version it prints the bytes a
browser downloads: identity, gzip 9, zstd 3 (what a dynamic compressor spends), zstd 19,
brotli 11 (the build's ``.br``) and ``dcz`` — zstd 19 with the old version as a raw-content
dictionary, with the 40-byte RFC 9842 header — which is what ``StaticAssets`` sends a
returning visitor holding the old version. Every delta is decoded and compared before it is
counted; the encode time of the delta (once, at build time) is shown as well.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import brotli
import zstandard

from asset_pipeline.build.dictionaries import dcz_decode, dcz_encode
from benchmarks.harness import ROOT, print_table

CACHE = ROOT / "benchmarks" / ".work" / "npm"


@dataclass(frozen=True)
class Pair:
    package: str
    old: str
    new: str
    path: str  # inside the package tarball


PAIRS = {
    "bootstrap": Pair("bootstrap", "5.3.3", "5.3.9", "package/dist/js/bootstrap.bundle.min.js"),
    "chart.js": Pair("chart.js", "4.5.0", "4.6.1", "package/dist/chart.umd.min.js"),
}


def fetch(package: str, version: str) -> Path:
    """The package tarball, from the cache or ``npm pack`` into it."""
    CACHE.mkdir(parents=True, exist_ok=True)
    name = f"{package.replace('/', '-').lstrip('@')}-{version}.tgz"
    target = CACHE / name
    if not target.is_file():
        done = subprocess.run(
            ["npm", "pack", f"{package}@{version}", "--pack-destination", str(CACHE), "--silent"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0 or not target.is_file():
            raise SystemExit(
                f"npm pack {package}@{version} failed: {done.stderr.strip()[:300]}. HINT: the "
                f"first run needs the npm registry; later runs use {CACHE}."
            )
    return target


def member(tarball: Path, path: str) -> bytes:
    with tarfile.open(tarball, "r:gz") as tar:
        extracted = tar.extractfile(path)
        if extracted is None:
            raise SystemExit(f"{tarball}: no file {path}")
        return extracted.read()


def sizes(old: bytes, new: bytes) -> tuple[dict[str, int], float]:
    started = time.perf_counter()
    delta = dcz_encode(old, new, 19)
    seconds = time.perf_counter() - started
    if dcz_decode(old, delta) != new:
        raise SystemExit("dcz round trip failed")
    out = {
        "identity": len(new),
        "gzip 9": len(gzip.compress(new, 9, mtime=0)),
        "zstd 3": len(zstandard.ZstdCompressor(level=3).compress(new)),
        "zstd 19": len(zstandard.ZstdCompressor(level=19).compress(new)),
        "br 11": len(brotli.compress(new, quality=11)),
        "dcz": len(delta),
    }
    return out, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=",".join(PAIRS), help="of: " + ", ".join(PAIRS))
    args = parser.parse_args(argv)
    rows = []
    for key in args.pairs.split(","):
        pair = PAIRS[key]
        old = member(fetch(pair.package, pair.old), pair.path)
        new = member(fetch(pair.package, pair.new), pair.path)
        found, seconds = sizes(old, new)
        br = found["br 11"]
        rows.append(
            [
                f"{pair.package} {pair.old}->{pair.new} {pair.path.rsplit('/', 1)[-1]}",
                *(f"{found[k]:,}" for k in ("identity", "gzip 9", "zstd 3", "zstd 19", "br 11")),
                f"{found['dcz']:,}",
                f"{found['dcz'] / br:.1%}",
                f"{seconds * 1000:.0f} ms",
            ]
        )
    print_table(
        "Bytes of the new version on the wire (dcz: delta against the old version)",
        ["file", "identity", "gzip 9", "zstd 3", "zstd 19", "br 11", "dcz", "dcz/br", "dcz enc"],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

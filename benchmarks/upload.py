"""Upload benchmark: cold, unchanged and one-file-changed uploads against a local moto S3.

Run by hand::

    .venv/bin/python -m benchmarks.upload [--files 300] [--concurrency 8]

It generates a build of ``--files`` logical files (CSS and JS with .br/.gz siblings,
images with a WebP alternate, plus sw.js/index.html/manifest.json), starts moto's server
in its own process on a loopback port, and reports wall time and the number of HTTP
requests boto3 sent (counted with a ``before-send`` hook, retries included) for:

* cold: empty bucket;
* unchanged: the same build again (remote state read: O(1) requests);
* unchanged --verify: the same build, comparing every object's x-amz-meta-blake3
  (LIST + one HEAD per object: what a per-file "exists?" check costs);
* one file changed: one JS module edited (its 3 objects + the entry points).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import brotli
from blake3 import blake3
from botocore.config import Config

from asset_pipeline.manifest import (
    EncodedVariant,
    ImageAlternate,
    Manifest,
    ManifestEntry,
    write_manifest,
)
from asset_pipeline.upload.config import UploadConfig
from asset_pipeline.upload.publish import publish
from benchmarks.harness import free_port, wait_for_port

BUCKET = "bench-assets"


def _entry(dist: Path, logical: str, data: bytes, ctype: str, text: bool) -> ManifestEntry:
    digest = blake3(data).hexdigest()
    stem, _, ext = logical.rpartition(".")
    out = f"{stem}.{digest[:10]}.{ext}"
    (dist / out).parent.mkdir(parents=True, exist_ok=True)
    (dist / out).write_bytes(data)
    encodings = {}
    alternates: tuple[ImageAlternate, ...] = ()
    if text:
        for coding, suffix, packed in (
            ("br", ".br", brotli.compress(data, quality=5)),
            ("gzip", ".gz", gzip.compress(data, mtime=0)),
        ):
            (dist / (out + suffix)).write_bytes(packed)
            encodings[coding] = EncodedVariant(out + suffix, len(packed))
    else:
        webp = f"{stem}.{digest[:10]}.webp"
        (dist / webp).write_bytes(data[: len(data) // 2])
        alternates = (ImageAlternate("webp", "image/webp", webp, len(data) // 2, 64, 64),)
    sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    return ManifestEntry(out, len(data), ctype, digest, sri, True, encodings, (), alternates)


def generate(dist: Path, files: int, *, variant: int = 0) -> int:
    """A build of ``files`` logical files; ``variant`` changes exactly one JS module."""
    for old in dist.rglob("*"):
        if old.is_file():
            old.unlink()
    dist.mkdir(parents=True, exist_ok=True)
    entries = {}
    for i in range(files):
        kind = i % 3
        if kind == 0:
            data = (f".c{i}{{color:#{i % 4096:03x};margin:{i}px}}\n" * (20 + i % 50)).encode()
            entries[f"css/c{i}.css"] = _entry(dist, f"css/c{i}.css", data, "text/css", True)
        elif kind == 1:
            tag = variant if i == 1 else 0
            data = (f"export const v{i} = {i + tag};\n" * (30 + i % 80)).encode()
            entries[f"js/m{i}.js"] = _entry(dist, f"js/m{i}.js", data, "text/javascript", True)
        else:
            data = random.Random(i).randbytes(2048 + 97 * (i % 60))
            entries[f"img/p{i}.png"] = _entry(dist, f"img/p{i}.png", data, "image/png", False)
    (dist / "sw.js").write_text(f"// precache {variant}\n")
    (dist / "index.html").write_text("<!doctype html><title>bench</title>\n")
    write_manifest(Manifest(files=entries, build_id=f"bench-{variant}"), dist)
    return sum(1 for p in dist.rglob("*") if p.is_file())


def run_once(config: UploadConfig, endpoint: str) -> tuple[float, Counter[str], int]:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 5},
            max_pool_connections=config.concurrency + 2,
        ),
    )
    counts: Counter[str] = Counter()

    def count(request: Any, **_: Any) -> None:
        counts[request.method] += 1

    client.meta.events.register("before-send.s3.*", count)
    started = time.perf_counter()
    result = publish(config, out=io.StringIO(), err=io.StringIO(), s3_client=client)
    return time.perf_counter() - started, counts, result.uploaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="logical files in the build")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    port = free_port()
    # A separate process, so the server does not compete with the uploader for the GIL.
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, server, f"moto server did not start on port {port}", timeout=30.0)
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket=BUCKET
        )
        with tempfile.TemporaryDirectory() as tmp:
            dist = Path(tmp) / "dist"
            objects = generate(dist, args.files)
            size = sum(p.stat().st_size for p in dist.rglob("*") if p.is_file())
            print(f"build: {args.files} logical files, {objects} objects, {size / 2**20:.1f} MB")
            base = UploadConfig(
                dist=dist,
                bucket=BUCKET,
                prefix="static/",
                concurrency=args.concurrency,
                progress=False,
            )
            rows = []
            for label, config, variant in (
                ("cold", base, 0),
                ("unchanged", base, 0),
                ("unchanged --verify", replace(base, verify=True), 0),
                ("one file changed", base, 1),
            ):
                if variant:
                    generate(dist, args.files, variant=variant)
                seconds, counts, uploaded = run_once(config, endpoint)
                rows.append((label, seconds, sum(counts.values()), dict(counts), uploaded))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"{'run':<20} {'wall s':>7} {'requests':>9} {'objects PUT':>12}  by method")
    for label, seconds, total, by_method, uploaded in rows:
        methods = " ".join(f"{m}={n}" for m, n in sorted(by_method.items()))
        print(f"{label:<20} {seconds:>7.2f} {total:>9} {uploaded:>12}  {methods}")


if __name__ == "__main__":
    main()

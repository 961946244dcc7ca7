"""``asset-pipeline inspect DIST``: the manifest as a table, optionally verified.

Exit codes: 0 ok, 1 ``--verify`` found files missing or changed, 2 no readable manifest.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asset_pipeline.build.fingerprint import content_hash
from asset_pipeline.manifest import Manifest, ManifestError, load_manifest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Print a build's manifest.json as a table."
    parser.add_argument("dist", type=Path, help="build directory (or its manifest.json)")
    parser.add_argument("--json", action="store_true", help="print the manifest JSON instead")
    parser.add_argument(
        "--verify", action="store_true", help="check every listed file exists with its hash"
    )


def _kb(n: int) -> str:
    return f"{n / 1024:.1f}K" if n >= 1024 else f"{n}B"


def table(manifest: Manifest) -> str:
    rows = [("logical name", "output", "size", "type", "encodings", "deps")]
    for name in sorted(manifest.files):
        e = manifest.files[name]
        enc = " ".join(f"{c}:{_kb(v.size)}" for c, v in sorted(e.encodings.items())) or "-"
        if e.alternates:
            enc += " +" + ",".join(sorted({a.format for a in e.alternates}))
        media = e.content_type.split(";", 1)[0]
        rows.append((name, e.path, _kb(e.size), media, enc, str(len(e.dependencies))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    total = sum(e.size for e in manifest.files.values())
    lines.append(
        f"{len(manifest)} files, {_kb(total)}, build {manifest.build_id or '-'}, "
        f"served under {manifest.url_prefix}"
    )
    return "\n".join(lines)


def verify(manifest: Manifest, root: Path) -> list[str]:
    problems: list[str] = []
    for name, e in sorted(manifest.files.items()):
        path = root / e.path
        try:
            data = path.read_bytes()
        except OSError:
            problems.append(f"{name}: {e.path} is missing")
            continue
        if len(data) != e.size or content_hash(data) != e.hash:
            problems.append(f"{name}: {e.path} does not match the manifest (size or hash)")
        for coding, v in e.encodings.items():
            sibling = root / v.path
            if not sibling.is_file() or sibling.stat().st_size != v.size:
                problems.append(f"{name}: {coding} sibling {v.path} is missing or wrong size")
        for alt in e.alternates:
            if not (root / alt.path).is_file():
                problems.append(f"{name}: alternate {alt.path} is missing")
    return problems


def run(args: argparse.Namespace) -> int:
    try:
        manifest = load_manifest(args.dist)
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    root = args.dist if args.dist.is_dir() else args.dist.parent
    print(manifest.to_json() if args.json else table(manifest), end="\n" if not args.json else "")
    if args.verify:
        problems = verify(manifest, root)
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        if problems:
            print(
                f"error: {len(problems)} problem(s). HINT: rebuild with `asset-pipeline build`.",
                file=sys.stderr,
            )
            return 1
    return 0

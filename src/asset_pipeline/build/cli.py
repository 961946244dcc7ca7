"""``asset-pipeline build SRC --out DIST``.

Exit codes: 0 built (warnings allowed), 1 the build failed (DIST left as it was),
2 usage or configuration error, 130 interrupted by Ctrl-C (DIST left as it was).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TextIO

from asset_pipeline.build.orchestrate import BuildResult, build
from asset_pipeline.build.steps import BuildStats, DroppedFormat
from asset_pipeline.config import BuildConfig, load_config, parse_manifest_formats, validate
from asset_pipeline.errors import BuildError, ConfigError
from asset_pipeline.processors.base import DROPPED_FAILED, DROPPED_LARGER, DROPPED_LOSSLESS

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Minify, fingerprint, rewrite references, precompress and write a manifest. "
        "Options default to [tool.asset-pipeline] in the nearest pyproject.toml. "
        "Exit codes: 0 ok, 1 build failed (DIST untouched), 2 usage/config error, "
        "130 interrupted."
    )
    parser.add_argument("src", nargs="?", type=Path, help="source directory (config: src)")
    parser.add_argument("--out", "-o", type=Path, help="output directory (config: out)")
    parser.add_argument("--config", type=Path, help="TOML file with [tool.asset-pipeline] keys")
    parser.add_argument("--url-prefix", help='URL the build is served under (default "/static/")')
    parser.add_argument("--jobs", "-j", type=int, help="worker processes (default: CPU count)")
    parser.add_argument("--cache-dir", type=Path, help="build cache (default .asset-cache)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument(
        "--missing-reference", choices=("error", "warn"), help="missing local reference policy"
    )
    parser.add_argument(
        "--manifest-format",
        action="append",
        default=[],
        metavar="{django,vite}",
        help="also write staticfiles.json (django) or .vite/manifest.json (vite)",
    )
    parser.add_argument(
        "--history-from",
        metavar="s3://BUCKET[/PREFIX]",
        help="take earlier versions for dictionary deltas from where `upload` published "
        "the build (config: dictionaries.history_from); for CI jobs with a fresh DIST",
    )
    parser.add_argument(
        "--history-endpoint-url",
        metavar="URL",
        help="S3-compatible endpoint of --history-from (config: dictionaries.history_endpoint_url)",
    )
    parser.add_argument("--dry-run", action="store_true", help="build and report, write nothing")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("--verbose", "-v", action="store_true", help="list every output file")
    noise.add_argument("--quiet", "-q", action="store_true", help="print errors only")
    parser.set_defaults(usage=parser.format_usage)


def run(args: argparse.Namespace) -> int:
    err: TextIO = sys.stderr
    try:
        config = load_config(args.config.resolve() if args.config else None)
        if args.jobs is not None and args.jobs < 1:
            raise ConfigError("--jobs must be at least 1. HINT: omit it to use every CPU.")
        overrides: dict[str, object] = {
            "src": args.src.resolve() if args.src else None,
            "out": args.out.resolve() if args.out else None,
            "url_prefix": args.url_prefix,
            "jobs": args.jobs,
            "cache_dir": args.cache_dir.resolve() if args.cache_dir else None,
            "missing_reference": args.missing_reference,
        }
        if args.manifest_format:
            overrides["manifest_formats"] = parse_manifest_formats(args.manifest_format)
        history = {
            "history_from": args.history_from,
            "history_endpoint_url": args.history_endpoint_url,
        }
        if any(history.values()):
            overrides["dictionaries"] = dataclasses.replace(
                config.dictionaries, **{k: v for k, v in history.items() if v is not None}
            )
        config = validate(config.with_overrides(**overrides))
        if args.no_cache:
            config = dataclasses.replace(config, cache_dir=None)
        _require_paths(config)
    except ConfigError as exc:
        usage = getattr(args, "usage", None)
        if usage is not None and isinstance(exc, MissingPathsError):
            err.write(usage())
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    progress = None if args.quiet else ProgressBar(err)
    try:
        result = build(config, progress=progress, dry_run=args.dry_run)
    except BuildError as exc:
        if progress:
            progress.finish()
        print(f"error: build failed, {config.out} left unchanged:", file=err)
        for problem in exc.problems:
            print(f"  {problem}", file=err)
        return EXIT_FAILED
    except KeyboardInterrupt:  # the build removed its temp directory on the way out
        if progress:
            progress.finish()
        print(f"asset-pipeline: interrupted; {config.out} left unchanged", file=err)
        return EXIT_INTERRUPTED
    except OSError as exc:  # unreadable source, full disk, read-only output directory
        if progress:
            progress.finish()
        where = exc.filename or config.out
        print(
            f"error: build failed, {config.out} left unchanged: {where}: {exc.strerror or exc}. "
            "HINT: check that the file is readable and the output directory writable.",
            file=err,
        )
        return EXIT_FAILED
    if progress:
        progress.finish()
    if not args.quiet:
        for warning in result.warnings:
            print(f"warning: {warning}", file=err)
        if args.verbose:
            for name, entry in sorted(result.manifest.files.items()):
                print(f"{name} -> {entry.path}")
        print(summary(result, verbose=args.verbose), file=sys.stdout)
    return EXIT_OK


class MissingPathsError(ConfigError):
    """Neither the command line nor the config names SRC or DIST: a usage error (exit 2)."""


def _require_paths(config: BuildConfig) -> None:
    """SRC and DIST come from the command line or the config; neither is a usage error."""
    if config.src is None or config.out is None:
        missing = " and ".join(
            what
            for what, value in (("SRC", config.src), ("--out DIST", config.out))
            if value is None
        )
        raise MissingPathsError(
            f"no source directory (SRC) or output directory (--out) given (missing: {missing}). "
            "HINT: run `asset-pipeline build SRC --out DIST`, "
            "or set src and out in [tool.asset-pipeline] of pyproject.toml."
        )


class ProgressBar:
    """A bar on a terminal; one line per finished phase otherwise (CI logs)."""

    __slots__ = ("_last", "_stream", "_tty")

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._tty:
            width = 30
            filled = width * done // max(total, 1)
            bar = "#" * filled + "-" * (width - filled)
            self._stream.write(f"\r{phase:<12} [{bar}] {done}/{total}")
            self._stream.flush()
            self._last = phase
        elif done == total:
            self._stream.write(f"{phase}: {total} files\n")

    def finish(self) -> None:
        if self._tty and self._last:
            self._stream.write("\n")
            self._last = ""


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def summary(result: BuildResult, *, verbose: bool = False) -> str:
    """The closing table: files, variants and bytes before/after per type, time, cache reuse,
    and the alternate formats left out (with ``verbose``, which file at which widths)."""
    stats: BuildStats = result.stats
    header = ("type", "files", "variants", "source", "output", "variant bytes", "brotli")
    rows: list[tuple[str, ...]] = [header]
    total = [0, 0, 0, 0, 0, 0]
    for label in sorted(stats.by_type):
        t = stats.by_type[label]
        values = (t.files, t.variants, t.bytes_in, t.bytes_out, t.variant_bytes, t.bytes_br)
        rows.append((label, str(t.files), str(t.variants), *(_size(v) for v in values[2:])))
        for i, v in enumerate(values):
            total[i] += v
    rows.append(("total", str(total[0]), str(total[1]), *(_size(v) for v in total[2:])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if stats.up_to_date:
        lines.append(
            f"{len(result.manifest)} files up to date in {stats.seconds:.2f} s "
            f"(nothing changed; {result.out} left as it was)"
        )
        return "\n".join(lines)
    verb = "checked (dry run)" if result.dry_run else f"written to {result.out}"
    variants = f" + {total[1]} variants (other formats and widths)" if total[1] else ""
    lines.append(
        f"{len(result.manifest)} files{variants} {verb} in {stats.seconds:.2f} s; processed "
        f"{stats.processed}, reused {stats.processed_cached} from cache, copied "
        f"{stats.copied}; compressed {stats.compressed}, reused {stats.compressed_cached}; "
        f"{stats.linked} unchanged outputs linked from the previous build"
    )
    lines.extend(dropped_lines(stats.dropped, verbose=verbose))
    if stats.cache_bytes or stats.pruned:
        lines.append(
            f"build cache {stats.cache_bytes / 2**20:.1f} MiB"
            + (f" ({stats.pruned} unused entries pruned)" if stats.pruned else "")
        )
    return "\n".join(lines)


_FORMAT_NAMES = {"webp": "WebP", "avif": "AVIF", "jpeg": "JPEG", "png": "PNG"}


def _fmt(name: str) -> str:
    return _FORMAT_NAMES.get(name, name.upper())


def _reason(code: str) -> str:
    if code == DROPPED_LOSSLESS:
        return "a lossless image, where lossless WebP wins"
    if code == DROPPED_FAILED:
        return "the encoder failed (see the warnings)"
    winner = code.removeprefix(DROPPED_LARGER)
    return f"not smaller than {'the original' if winner == 'original' else _fmt(winner)}"


def dropped_lines(dropped: list[DroppedFormat], *, verbose: bool) -> list[str]:
    """One line per format the image processor left out somewhere: at how many of the
    sizes it was tried, in how many images, and why; with ``verbose`` one line per file."""
    lines: list[str] = []
    for fmt in sorted({d.format for d in dropped}):
        rows = [d for d in dropped if d.format == fmt]
        sizes = sum(len(d.widths) for d in rows)
        tried = sum(d.tried for d in {d.name: d for d in rows}.values())
        images = len({d.name for d in rows})
        reasons: dict[str, int] = {}
        for d in rows:
            reasons[d.reason] = reasons.get(d.reason, 0) + len(d.widths)
        why = (
            _reason(next(iter(reasons)))
            if len(reasons) == 1
            else "; ".join(f"{_reason(r)} ({n})" for r, n in sorted(reasons.items()))
        )
        plural = "image" if images == 1 else "images"
        line = f"{_fmt(fmt)} dropped at {sizes} of {tried} image sizes ({images} {plural}): {why}"
        if any(r.startswith(DROPPED_LARGER) and r != DROPPED_LARGER + "original" for r in reasons):
            line += (
                f'. HINT: formats = ["{fmt}"] in an [[tool.asset-pipeline.images.rules]] entry '
                "ships it without comparing it with the other formats."
            )
        lines.append(line)
        if verbose:
            for d in rows:
                at = ", ".join(f"{w}w" for w in d.widths)
                lines.append(f"  {d.name}: {_fmt(fmt)} dropped at {at} ({_reason(d.reason)})")
    return lines

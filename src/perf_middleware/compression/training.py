"""Write a site dictionary from sample pages: ``python -m perf_middleware.compression.training``.

Sources, in the order they are read (at least one is needed):

* ``--url URL`` (repeatable) and ``--urls FILE`` (one URL per line): pages fetched from the
  running app, as an anonymous visitor sees them (no cookies are sent; the dictionary must
  never hold a secret);
* ``--files GLOB`` (repeatable): saved HTML files, e.g. pages rendered in CI.

Pick pages that share the layout the app serves most (articles, listings, the home page):
the dictionary helps a page by the bytes it shares with them.

Two ways to make the dictionary (``--method``):

* ``raw`` (default): the samples themselves, most recent last, cut to ``--size``. zstd finds
  every shared run (layout, navigation, scripts) in them;
* ``trained``: ``zstandard.train_dictionary`` (zstd's COVER trainer) picks the segments
  that recur across samples. The result is used as raw content too (RFC 9842 section 4:
  browsers load the dictionary as a plain prefix).

The report compares both on held-out samples (every fifth page when there are ten or
more), so the choice can follow the site's own pages (docs/benchmarks.md has the figures
for a documentation site).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import zstandard

from perf_middleware.compression.site_dictionary import MIN_DICTIONARY_SIZE

__all__ = ["build_dictionary", "evaluate", "fetch_pages", "main"]

DEFAULT_SIZE = 110 * 1024
METHODS = ("raw", "trained")
_HOLD_OUT_EVERY = 5


def build_dictionary(
    samples: Sequence[bytes], *, size: int = DEFAULT_SIZE, method: str = "raw", level: int = 3
) -> bytes:
    """The dictionary bytes made from ``samples`` by ``method`` (see the module doc)."""
    if method not in METHODS:
        raise ValueError(f"unknown dictionary method {method!r}. HINT: one of {METHODS!r}.")
    if not samples:
        raise ValueError("no sample pages to build a dictionary from. HINT: pass --url/--files.")
    if size < MIN_DICTIONARY_SIZE:
        raise ValueError(f"dictionary size {size} is too small. HINT: e.g. {DEFAULT_SIZE}.")
    if method == "raw":
        data = b"".join(samples)[-size:]
    else:
        try:
            data = zstandard.train_dictionary(size, list(samples), level=level).as_bytes()
        except zstandard.ZstdError as exc:
            raise ValueError(
                f"zstd could not train a {size}-byte dictionary from {len(samples)} pages "
                f"({exc}). HINT: give more pages, a smaller --size, or --method raw."
            ) from None
    if len(data) < MIN_DICTIONARY_SIZE:
        raise ValueError(
            f"the {method} dictionary from {len(samples)} pages holds only {len(data)} bytes "
            f"(at least {MIN_DICTIONARY_SIZE} are needed). HINT: give more (and more varied) pages."
        )
    return data


def evaluate(dictionary: bytes, pages: Sequence[bytes], *, level: int = 3) -> tuple[float, float]:
    """Average compressed size of ``pages``: (zstd at ``level``, zstd with the dictionary
    as raw content at ``level``)."""
    raw = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    plain = zstandard.ZstdCompressor(level=level)
    with_dict = zstandard.ZstdCompressor(level=level, dict_data=raw, write_dict_id=False)
    count = max(len(pages), 1)
    return (
        sum(len(plain.compress(p)) for p in pages) / count,
        sum(len(with_dict.compress(p)) for p in pages) / count,
    )


def fetch_pages(urls: Sequence[str], *, timeout: float = 10.0) -> list[bytes]:
    """The bodies of ``urls`` (identity coding, no cookies); a failed fetch is an error
    naming the URL."""
    pages: list[bytes] = []
    for url in urls:
        request = urllib.request.Request(
            url, headers={"Accept-Encoding": "identity", "Accept": "text/html"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                pages.append(response.read())
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"cannot fetch sample page {url!r}: {exc}. HINT: start the app first and "
                "pass full http(s) URLs."
            ) from None
    return pages


def _read_files(patterns: Sequence[str]) -> list[bytes]:
    pages: list[bytes] = []
    for pattern in patterns:
        names = sorted(glob.glob(pattern, recursive=True))
        if not names:
            raise ValueError(f"--files {pattern!r} matches no file. HINT: quote the glob.")
        pages.extend(Path(name).read_bytes() for name in names)
    return pages


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m perf_middleware.compression.training",
        description="Write a site dictionary (RFC 9842) from sample pages.",
    )
    parser.add_argument("--url", action="append", default=[], help="a page to fetch")
    parser.add_argument("--urls", help="a file of page URLs, one per line")
    parser.add_argument("--files", action="append", default=[], help="a glob of HTML files")
    parser.add_argument("--out", required=True, help="the dictionary file to write")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="dictionary bytes")
    parser.add_argument("--method", choices=METHODS, default="raw")
    parser.add_argument("--level", type=int, default=3, help="zstd level of the pages")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        urls = list(args.url)
        if args.urls:
            lines = Path(args.urls).read_text(encoding="utf-8").splitlines()
            urls.extend(line.strip() for line in lines if line.strip())
        pages = fetch_pages(urls) + _read_files(args.files)
        if not pages:
            raise ValueError("no sample pages. HINT: pass --url, --urls or --files.")
        if len(pages) >= 2 * _HOLD_OUT_EVERY:
            held = pages[::_HOLD_OUT_EVERY]
            rest = [p for i, p in enumerate(pages) if i % _HOLD_OUT_EVERY]
            for method in METHODS:
                try:
                    trial = build_dictionary(rest, size=args.size, method=method, level=args.level)
                except ValueError as exc:
                    print(f"{method}: {exc}", file=sys.stderr)
                    continue
                plain, with_dict = evaluate(trial, held, level=args.level)
                print(
                    f"{method:8} held-out pages: zstd {args.level} {plain:,.0f} B, "
                    f"with dictionary {with_dict:,.0f} B ({plain / max(with_dict, 1):.1f}x)"
                )
        data = build_dictionary(pages, size=args.size, method=args.method, level=args.level)
        Path(args.out).write_bytes(data)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    digest = hashlib.sha256(data).hexdigest()
    print(f"wrote {args.out}: {len(data):,} bytes from {len(pages)} pages, sha256 {digest}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""Content-addressed build cache (``.asset-cache/`` by default).

Three things are expensive and deterministic, so each is stored by a key derived from
its inputs: a processor run (key: input bytes + kind + options + used code points +
processor version), the references found in a text file (key: its bytes), and the
precompressed siblings of an output (key: its bytes + codec settings). A rebuild with
nothing changed then runs no processor, no scanner and no compressor.

Entries are written to a temp file and renamed, so a crashed build never leaves a
half-written entry; an unreadable entry is treated as a miss. An entry is ONE file that
holds its bytes (a JSON header line, then the payloads, checked against a blake3 digest
on read): every file is an inode, a rename and a journal write, and on a tree of many
small modules those cost more than the compression itself. For the same reason entries
sit directly in their area's directory (no ``xx/`` shard directories: a directory per
prefix is one more inode per entry on a small tree), and the references of all scanned
files live in ONE pack per build (``refs/pack``, same format): a scan record is a few
hundred bytes, so a file each would be almost all overhead. The pack holds what the
last build used or found; a damaged pack is a miss for every record (the files are
scanned again). Files are written on a background thread: those system calls release
the GIL, and the main process keeps feeding the worker pool instead of waiting on the
disk. An entry not yet written is already visible to reads; ``flush`` waits for all of
them.

The cache would otherwise only grow (every edit adds entries): after a successful build,
``prune`` bounds it to a byte budget by deleting the entries that build did not use, oldest
first. Entries the build used are always kept, so the next unchanged build stays a no-op.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blake3 import blake3

from asset_pipeline.processors import ExtraOutput, ProcessorOutput, processor_module
from asset_pipeline.refs import RawRef

CACHE_FORMAT = "3"


def cache_key(*parts: str | bytes) -> str:
    h = blake3(CACHE_FORMAT.encode())
    for part in parts:
        raw = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(raw).to_bytes(8, "little"))
        h.update(raw)
    key: str = h.hexdigest()
    return key


def options_fingerprint(options: Mapping[str, Any], codepoints: frozenset[int] | None) -> str:
    """A stable text for the options, so equal options give equal keys across runs."""
    cps = sorted(codepoints) if codepoints is not None else None
    return json.dumps([options, cps], sort_keys=True, default=repr, separators=(",", ":"))


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """This package's code plus the set of installed distributions.

    Stands in for a processor's version string without importing it (importing Pillow
    and fontTools alone takes longer than a whole no-op build should): any change to
    the pipeline's code or any package upgrade invalidates processed results.
    """
    h = blake3()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".js") and path.is_file():
            h.update(path.relative_to(package).as_posix().encode() + b"\0")
            h.update(path.read_bytes())
    for key in ("purelib", "platlib"):
        try:
            names = sorted(
                n for n in os.listdir(sysconfig.get_paths()[key]) if n.endswith(".dist-info")
            )
        except OSError:
            names = []
        h.update("\n".join(names).encode())
    digest: str = h.hexdigest()
    return digest


def _pack(header: dict[str, Any], payloads: Sequence[bytes]) -> bytes:
    """One entry file: a JSON header line (with each payload's length and the digest of
    all of them), then the payloads back to back."""
    digest = blake3()
    for part in payloads:
        digest.update(part)
    head = {**header, "lengths": [len(p) for p in payloads], "blake3": digest.hexdigest()}
    return json.dumps(head, separators=(",", ":")).encode() + b"\n" + b"".join(payloads)


def _unpack(raw: bytes) -> tuple[dict[str, Any], list[bytes]] | None:
    """The header and payloads of an entry, or None when it is damaged or foreign."""
    head_end = raw.find(b"\n")
    try:
        header = json.loads(raw[:head_end]) if head_end >= 0 else None
        if not isinstance(header, dict):
            return None
        lengths = header["lengths"]
        if not isinstance(lengths, list) or not all(type(n) is int and n >= 0 for n in lengths):
            return None
        if sum(lengths) != len(raw) - head_end - 1:
            return None
        body = memoryview(raw)[head_end + 1 :]
        if blake3(body).hexdigest() != header["blake3"]:
            return None
    except (ValueError, TypeError, KeyError):
        return None
    payloads: list[bytes] = []
    at = 0
    for length in lengths:
        payloads.append(bytes(body[at : at + length]))
        at += length
    return header, payloads


def processor_fingerprint(kind: str) -> str | None:
    """Cache-key part for a processor kind, or None when its module is not installed yet
    (the build then copies such files unchanged)."""
    module = processor_module(kind)
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return None
    return f"{module}:{code_fingerprint()}"


#: The areas holding entries; the build's own state files live beside them and are kept.
#: ("blobs" held the payloads of format-1 entries; pruned like the others.)
ENTRY_AREAS = ("processed", "refs", "encoded", "blobs", "versions")
_STALE_TEMP_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What ``prune`` found and removed (sizes in bytes)."""

    entries: int
    bytes: int
    removed: int
    removed_bytes: int


class BuildCache:
    """A directory of cache entries; ``BuildCache(None)`` caches nothing. Remembers the
    entries this build read or wrote (``used``) so ``prune`` never removes them."""

    __slots__ = (
        "_base",
        "_dirs",
        "_pending",
        "_refs_kept",
        "_refs_stale",
        "_refs_stored",
        "_writer",
        "root",
        "used",
    )

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._base = str(root) if root is not None else ""
        self.used: set[str] = set()
        self._dirs: set[str] = set()  # area directories known to exist
        self._pending: dict[str, bytes] = {}  # path -> bytes not yet on disk
        self._writer: ThreadPoolExecutor | None = None
        self._refs_stored: dict[str, Any] | None = None  # the pack on disk, once read
        self._refs_kept: dict[str, Any] = {}  # records this build used or found
        self._refs_stale = False  # the pack on disk lacks some of them

    def __enter__(self) -> BuildCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    def flush(self) -> None:
        """Wait until every entry handed to the cache is on disk (or failed to be); the
        references pack is written here, once per build."""
        if self._refs_stale or (
            self._refs_stored is not None and len(self._refs_stored) != len(self._refs_kept)
        ):
            self._refs_stale = False
            self._refs_stored = dict(self._refs_kept)
            payload = json.dumps(self._refs_kept, separators=(",", ":")).encode()
            self._write("refs", "pack", _pack({"kind": "refs"}, [payload]))
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _path(self, area: str, key: str) -> str:
        # Plain strings: thousands of lookups per build, where pathlib's joins add up.
        return f"{self._base}/{area}/{key}"

    def _read(self, area: str, key: str) -> bytes | None:
        if self.root is None:
            return None
        path = self._path(area, key)
        pending = self._pending.get(path)
        if pending is not None:
            self.used.add(path)
            return pending
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        self.used.add(path)
        return data

    def _write(self, area: str, key: str, data: bytes) -> None:
        """Queue an entry for the writer thread (entries are content-addressed, so two
        writes of one path carry the same bytes)."""
        if self.root is None:
            return
        target = self._path(area, key)
        self.used.add(target)
        self._pending[target] = data
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="asset-cache-writer")
        self._writer.submit(self._store, target, data)

    def _store(self, target: str, data: bytes) -> None:
        parent = os.path.dirname(target)
        try:
            if parent not in self._dirs:
                os.makedirs(parent, exist_ok=True)
                self._dirs.add(parent)
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except OSError:
            pass  # a cache that cannot be written only costs speed
        finally:
            self._pending.pop(target, None)

    # -- processor outputs -------------------------------------------------------------
    def get_output(self, key: str) -> ProcessorOutput | None:
        found = self.get_processed(key)
        return found[0] if found is not None else None

    def get_processed(self, key: str) -> tuple[ProcessorOutput, list[RawRef] | None] | None:
        """A processor output and the references found in it (None: not recorded)."""
        raw = self._read("processed", key)
        entry = _unpack(raw) if raw is not None else None
        if entry is None:
            return None
        header, payloads = entry
        refs = _refs_from_rows(header.get("refs"))
        if header.get("refs") is not None and refs is None:
            return None
        try:
            extras = tuple(
                ExtraOutput(
                    e["suffix"], data, e["content_type"], e["format"], e["width"], e["height"]
                )
                for e, data in zip(header["extras"], payloads[1:], strict=True)
            )
            output = ProcessorOutput(
                data=payloads[0],
                suffix=header["suffix"],
                content_type=header["content_type"],
                extras=extras,
                metadata=header["metadata"],
            )
        except (KeyError, TypeError, ValueError, IndexError):
            return None
        return output, refs

    def put_output(
        self, key: str, output: ProcessorOutput, refs: Sequence[RawRef] | None = None
    ) -> None:
        """Store a processor output, with the references found in it when given (one
        file fewer than a separate ``refs`` entry)."""
        if self.root is None:
            return
        header = {
            "refs": _refs_to_rows(refs) if refs is not None else None,
            "suffix": output.suffix,
            "content_type": output.content_type,
            "metadata": dict(output.metadata),
            "extras": [
                {
                    "suffix": e.suffix,
                    "content_type": e.content_type,
                    "format": e.format,
                    "width": e.width,
                    "height": e.height,
                }
                for e in output.extras
            ],
        }
        try:
            raw = _pack(header, [output.data, *(e.data for e in output.extras)])
        except (TypeError, ValueError):
            return  # metadata that is not JSON cannot be cached; the file is reprocessed
        self._write("processed", key, raw)

    # -- scanned references ------------------------------------------------------------
    def _refs_pack(self) -> dict[str, Any]:
        if self._refs_stored is None:
            raw = self._read("refs", "pack")
            entry = _unpack(raw) if raw is not None else None
            stored: Any = None
            if entry is not None and len(entry[1]) == 1:
                try:
                    stored = json.loads(entry[1][0])
                except ValueError:
                    stored = None
            self._refs_stored = stored if isinstance(stored, dict) else {}
        return self._refs_stored

    def get_refs(self, key: str) -> list[RawRef] | None:
        if self.root is None:
            return None
        rows = self._refs_kept.get(key)
        if rows is None:
            rows = self._refs_pack().get(key)
        refs = _refs_from_rows(rows)
        if refs is not None:
            self._refs_kept[key] = rows
        return refs

    def put_refs(self, key: str, refs: Sequence[RawRef]) -> None:
        """Record a file's references; they reach the disk with the pack at ``flush``."""
        if self.root is None:
            return
        self._refs_pack()  # so the pack written at flush replaces, not loses, the old one
        if key not in self._refs_kept:
            self._refs_kept[key] = _refs_to_rows(refs)
            self._refs_stale = True

    # -- precompressed siblings --------------------------------------------------------
    def get_encoded(self, key: str) -> dict[str, bytes] | None:
        raw = self._read("encoded", key)
        entry = _unpack(raw) if raw is not None else None
        if entry is None:
            return None
        header, payloads = entry
        codings = header.get("codings")
        if not isinstance(codings, list) or len(codings) != len(payloads):
            return None
        return dict(zip(codings, payloads, strict=True))

    def put_encoded(self, key: str, encoded: Mapping[str, bytes]) -> None:
        if self.root is None:
            return
        self._write("encoded", key, _pack({"codings": list(encoded)}, list(encoded.values())))

    # -- earlier versions of files (compression dictionaries, RFC 9842) ----------------
    def get_version(self, sha256_hex: str) -> bytes | None:
        """The bytes of an output whose SHA-256 is ``sha256_hex``, if this cache kept them."""
        return self._read("versions", sha256_hex)

    def put_version(self, sha256_hex: str, data: bytes) -> None:
        self._write("versions", sha256_hex, data)

    # -- size bound --------------------------------------------------------------------
    def prune(self, max_bytes: int) -> PruneResult:
        """Delete entries this build did not use, least recently written first, until the
        entries take at most ``max_bytes`` (0: keep only what this build used). Temp files
        left by a crashed build are removed once they are an hour old."""
        if self.root is None:
            return PruneResult(0, 0, 0, 0)
        self.flush()
        now = time.time()
        unused: list[tuple[float, int, str]] = []
        entries = total = removed = removed_bytes = 0
        for area in ENTRY_AREAS:
            for path, stat in _files(f"{self._base}/{area}"):
                if os.path.basename(path).startswith(".tmp-"):
                    if now - stat.st_mtime > _STALE_TEMP_SECONDS and _unlink(path):
                        removed += 1
                        removed_bytes += stat.st_size
                    continue
                entries += 1
                total += stat.st_size
                if path not in self.used:
                    unused.append((stat.st_mtime, stat.st_size, path))
        unused.sort()
        for _, size, path in unused:
            if total <= max_bytes:
                break
            if _unlink(path):
                total -= size
                entries -= 1
                removed += 1
                removed_bytes += size
        for area in ENTRY_AREAS:  # shard directories of older formats, once emptied
            with contextlib.suppress(OSError), os.scandir(f"{self._base}/{area}") as items:
                for item in items:
                    if item.is_dir(follow_symlinks=False):
                        with contextlib.suppress(OSError):
                            os.rmdir(item.path)  # fails while it still holds files
        return PruneResult(entries, total, removed, removed_bytes)


def _refs_to_rows(refs: Sequence[RawRef]) -> list[list[Any]]:
    return [
        [r.kind, r.url, r.start, r.end, r.line, r.quote, r.comment, r.format_hint] for r in refs
    ]


def _refs_from_rows(rows: Any) -> list[RawRef] | None:
    if not isinstance(rows, list):
        return None
    try:
        return [
            RawRef(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                tuple(r[6]) if r[6] else None,
                tuple(r[7]) if r[7] else None,
            )
            for r in rows
        ]
    except (IndexError, TypeError):
        return None


def _files(directory: str) -> list[tuple[str, os.stat_result]]:
    """Every file directly under ``directory``, and one level deeper in the ``xx/`` shard
    directories of older formats (so ``prune`` removes their entries as unused)."""
    out: list[tuple[str, os.stat_result]] = []
    try:
        items = list(os.scandir(directory))
    except OSError:
        return out
    for item in items:
        if item.is_file(follow_symlinks=False):
            out.append((item.path, item.stat(follow_symlinks=False)))
        elif item.is_dir(follow_symlinks=False):
            try:
                for inner in os.scandir(item.path):
                    if inner.is_file(follow_symlinks=False):
                        out.append((inner.path, inner.stat(follow_symlinks=False)))
            except OSError:
                continue
    return out


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
    except OSError:
        return False
    return True

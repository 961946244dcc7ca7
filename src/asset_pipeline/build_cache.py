"""Content-addressed build cache (``.asset-cache/`` by default).

Three things are expensive and deterministic, so each is stored by a key derived from
its inputs: a processor run (key: input bytes + kind + options + used code points +
processor version), the references found in a text file (key: its bytes), and the
precompressed siblings of an output (key: its bytes + codec settings). A rebuild with
nothing changed then runs no processor, no scanner and no compressor.

Entries are written to a temp file and renamed, so a crashed build never leaves a
half-written entry; an unreadable entry is treated as a miss.

The cache would otherwise only grow (every edit adds entries): after a successful build,
``prune`` bounds it to a byte budget by deleting the entries that build did not use, oldest
first. Entries the build used are always kept, so the next unchanged build stays a no-op.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blake3 import blake3

from asset_pipeline.processors.base import ExtraOutput, ProcessorOutput
from asset_pipeline.references import RawRef

CACHE_FORMAT = "1"


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


def processor_fingerprint(kind: str) -> str | None:
    """Cache-key part for a processor kind, or None when its module is not installed yet
    (the build then copies such files unchanged)."""
    from asset_pipeline.processors import _PROCESSOR_FUNCTIONS

    module = _PROCESSOR_FUNCTIONS[kind].partition(":")[0]
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return None
    return f"{module}:{code_fingerprint()}"


#: The areas holding entries; the build's own state files live beside them and are kept.
ENTRY_AREAS = ("processed", "refs", "encoded", "blobs")
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

    __slots__ = ("_base", "root", "used")

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._base = str(root) if root is not None else ""
        self.used: set[str] = set()

    def _path(self, area: str, key: str) -> str:
        # Plain strings: thousands of lookups per build, where pathlib's joins add up.
        return f"{self._base}/{area}/{key[:2]}/{key}"

    def _read(self, area: str, key: str) -> bytes | None:
        if self.root is None:
            return None
        path = self._path(area, key)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        self.used.add(path)
        return data

    def _write(self, area: str, key: str, data: bytes) -> None:
        if self.root is None:
            return
        target = self._path(area, key)
        parent = os.path.dirname(target)
        try:
            os.makedirs(parent, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except OSError:
            return  # a cache that cannot be written only costs speed
        self.used.add(target)

    def _json(self, area: str, key: str) -> Any:
        raw = self._read(area, key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    # -- blobs -------------------------------------------------------------------------
    def put_blob(self, data: bytes) -> str:
        digest: str = blake3(data).hexdigest()
        if self.root is not None:
            path = self._path("blobs", digest)
            if os.path.exists(path):
                self.used.add(path)
            else:
                self._write("blobs", digest, data)
        return digest

    def get_blob(self, digest: str) -> bytes | None:
        data = self._read("blobs", digest)
        if data is None or blake3(data).hexdigest() != digest:
            return None
        return data

    # -- processor outputs -------------------------------------------------------------
    def get_output(self, key: str) -> ProcessorOutput | None:
        entry = self._json("processed", key)
        if not isinstance(entry, dict):
            return None
        try:
            data = self.get_blob(entry["data"])
            extras = []
            for e in entry["extras"]:
                blob = self.get_blob(e["data"])
                if blob is None:
                    return None
                extras.append(
                    ExtraOutput(
                        e["suffix"], blob, e["content_type"], e["format"], e["width"], e["height"]
                    )
                )
            if data is None:
                return None
            return ProcessorOutput(
                data=data,
                suffix=entry["suffix"],
                content_type=entry["content_type"],
                extras=tuple(extras),
                metadata=entry["metadata"],
            )
        except (KeyError, TypeError):
            return None

    def put_output(self, key: str, output: ProcessorOutput) -> None:
        if self.root is None:
            return
        entry = {
            "data": self.put_blob(output.data),
            "suffix": output.suffix,
            "content_type": output.content_type,
            "metadata": dict(output.metadata),
            "extras": [
                {
                    "suffix": e.suffix,
                    "data": self.put_blob(e.data),
                    "content_type": e.content_type,
                    "format": e.format,
                    "width": e.width,
                    "height": e.height,
                }
                for e in output.extras
            ],
        }
        try:
            raw = json.dumps(entry).encode()
        except (TypeError, ValueError):
            return  # metadata that is not JSON cannot be cached; the file is reprocessed
        self._write("processed", key, raw)

    # -- scanned references ------------------------------------------------------------
    def get_refs(self, key: str) -> list[RawRef] | None:
        rows = self._json("refs", key)
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

    def put_refs(self, key: str, refs: Sequence[RawRef]) -> None:
        rows = [
            [r.kind, r.url, r.start, r.end, r.line, r.quote, r.comment, r.format_hint] for r in refs
        ]
        self._write("refs", key, json.dumps(rows).encode())

    # -- precompressed siblings --------------------------------------------------------
    def get_encoded(self, key: str) -> dict[str, bytes] | None:
        entry = self._json("encoded", key)
        if not isinstance(entry, dict):
            return None
        out: dict[str, bytes] = {}
        for coding, digest in entry.items():
            blob = self.get_blob(digest) if isinstance(digest, str) else None
            if blob is None:
                return None
            out[coding] = blob
        return out

    def put_encoded(self, key: str, encoded: Mapping[str, bytes]) -> None:
        if self.root is None:
            return
        entry = {coding: self.put_blob(data) for coding, data in encoded.items()}
        self._write("encoded", key, json.dumps(entry).encode())

    # -- size bound --------------------------------------------------------------------
    def prune(self, max_bytes: int) -> PruneResult:
        """Delete entries this build did not use, least recently written first, until the
        entries take at most ``max_bytes`` (0: keep only what this build used). Temp files
        left by a crashed build are removed once they are an hour old."""
        if self.root is None:
            return PruneResult(0, 0, 0, 0)
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
        return PruneResult(entries, total, removed, removed_bytes)


def _files(directory: str) -> list[tuple[str, os.stat_result]]:
    """Every file one or two levels under ``directory`` (entries live in ``xx/`` shards)."""
    out: list[tuple[str, os.stat_result]] = []
    try:
        shards = list(os.scandir(directory))
    except OSError:
        return out
    for shard in shards:
        if not shard.is_dir(follow_symlinks=False):
            continue
        try:
            for item in os.scandir(shard.path):
                if item.is_file(follow_symlinks=False):
                    out.append((item.path, item.stat(follow_symlinks=False)))
        except OSError:
            continue
    return out


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
    except OSError:
        return False
    return True

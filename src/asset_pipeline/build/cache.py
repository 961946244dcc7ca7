"""Content-addressed build cache (``.asset-cache/`` by default).

Three things are expensive and deterministic, so each is stored by a key derived from
its inputs: a processor run (key: input bytes + kind + options + used code points +
processor version), the references found in a text file (key: its bytes), and the
precompressed siblings of an output (key: its bytes + codec settings). A rebuild with
nothing changed then runs no processor, no scanner and no compressor.

An entry is a JSON header line (with each payload's length and a blake3 digest of the
payloads), then the payloads back to back; a read checks the digest, so damaged bytes are
a miss, never an error. Every file a build creates is an inode, a rename and a journal
write, and on some file systems (ext4 without a journal) the inode allocator also scans
past every inode freed in the last minutes: on a tree of many small modules the files
cost more than the compression. So a build stores entries in as few files as possible:

* ``packs/<id>.pack``: the small ``processed`` and ``encoded`` entries a build writes,
  appended to ONE new pack per build (a log-structured store, like git's packs), and
  ``packs/<id>.idx``: that pack's index (entry name -> offset, length), written once at
  ``flush`` through a temp file and a rename, after the pack's bytes. A build killed
  mid-way leaves a pack without an index (removed by ``prune`` once it is an hour old),
  never an index that points at bytes not written. Each build writes its own pack and
  index, so two builds sharing the directory never write the same file. A read is one
  ``pread`` at the indexed offset; a damaged or truncated pack or index is a miss for its
  entries.
* ``processed/<key>``, ``encoded/<key>``: an entry above ``PACK_ENTRY_MAX`` bytes stays a
  file of its own (temp file + rename): one more inode matters little beside its bytes,
  and ``prune`` can drop it without copying anything.
* ``refs/pack``: the references of every scanned file (a few hundred bytes each), one
  file rewritten per build with the records the build used or found.
* ``versions/<sha256>``: earlier outputs kept for compression dictionaries.

Files are written on a background thread: those system calls release the GIL, and the
main process keeps feeding the worker pool instead of waiting on the disk. An entry not
yet written is already visible to reads; ``flush`` waits for all of them.

The cache would otherwise only grow (every edit adds entries): after a successful build,
``prune`` bounds it to a byte budget. Entries the build used are always kept, so the next
unchanged build stays a no-op. Loose files the build did not use are deleted, oldest
first; a pack is pruned as a unit: deleted when the build used none of it, or, when it
holds mostly unused bytes, its used entries are copied into this build's pack first.
Folding the least used packs the same way keeps their number at most ``MAX_PACKS``, so a
lookup never reads more than that many indexes. Packs written after this build started
belong to a build that may still be running and are left alone.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blake3 import blake3

from asset_pipeline.processors import ExtraOutput, ProcessorOutput, processor_module
from asset_pipeline.refs import RawRef

CACHE_FORMAT = "4"


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
ENTRY_AREAS = ("processed", "refs", "encoded", "blobs", "versions", "packs")
#: Areas whose small entries go to the build's pack instead of a file each.
PACKED_AREAS = frozenset(("processed", "encoded"))
#: Entries up to this size are packed. A minified module with its references, or its
#: precompressed siblings, is far below it; what is above (a CSS framework, an image
#: with its alternates) is few files whose bytes, not inodes, are the cost, and a loose
#: file is pruned without copying it.
PACK_ENTRY_MAX = 64 * 1024
#: At most this many packs (each lookup reads every index once per build).
MAX_PACKS = 16
_STALE_TEMP_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What ``prune`` found and removed (sizes in bytes; a packed entry counts as one)."""

    entries: int
    bytes: int
    removed: int
    removed_bytes: int


@dataclass(slots=True)
class PackOnDisk:
    """One pack with a readable index, as ``prune`` sees it."""

    name: str
    entries: dict[str, tuple[int, int]]
    size: int  # bytes of the pack and its index
    mtime: float  # the later of the two
    used: list[str] = field(default_factory=list)  # entries this build needs from it
    used_bytes: int = 0


class BuildCache:
    """A directory of cache entries; ``BuildCache(None)`` caches nothing. Remembers the
    entries this build read or wrote (``used``) so ``prune`` never removes them."""

    __slots__ = (
        "_base",
        "_dirs",
        "_fds",
        "_indexed",
        "_located",
        "_pack_failed",
        "_pack_fd",
        "_pack_id",
        "_pack_index",
        "_pack_size",
        "_pending",
        "_refs_kept",
        "_refs_stale",
        "_refs_stored",
        "_started",
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
        self._started = time.time()
        self._located: dict[str, list[tuple[str, int, int]]] | None = None  # other packs' entries
        self._fds: dict[str, int] = {}  # pack id -> descriptor for reads (-1: unreadable)
        # This build's pack: created by the writer thread on the first packed entry.
        self._pack_id: str | None = None
        self._pack_fd: int | None = None
        self._pack_failed = False
        self._pack_index: dict[str, tuple[int, int]] = {}  # name -> (offset, length)
        self._pack_size = 0
        self._indexed = 0  # entries covered by the index on disk

    def __enter__(self) -> BuildCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
        self.close()

    def flush(self) -> None:
        """Wait until every entry handed to the cache is on disk (or failed to be); the
        references pack and this build's pack index are written here, once per build."""
        if self._refs_stale or (
            self._refs_stored is not None and len(self._refs_stored) != len(self._refs_kept)
        ):
            self._refs_stale = False
            self._refs_stored = dict(self._refs_kept)
            payload = json.dumps(self._refs_kept, separators=(",", ":")).encode()
            self._write("refs", "pack", _pack({"kind": "refs"}, [payload]))
        if self._writer is not None:
            self._writer.submit(self._store_index)  # after every append queued so far
            self._writer.shutdown(wait=True)
            self._writer = None

    def close(self) -> None:
        """Release the pack descriptors (reads reopen them)."""
        for fd in self._fds.values():
            if fd >= 0:
                os.close(fd)
        self._fds.clear()
        if self._pack_fd is not None:
            os.close(self._pack_fd)
            self._pack_fd = None

    def _path(self, area: str, key: str) -> str:
        # Plain strings: thousands of lookups per build, where pathlib's joins add up.
        return f"{self._base}/{area}/{key}"

    def _read(self, area: str, key: str) -> bytes | None:
        """The bytes of a loose entry (or one not yet written)."""
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

    def _entry(self, area: str, key: str) -> tuple[dict[str, Any], list[bytes]] | None:
        """An entry of a packed area, from wherever an intact copy is: not yet written,
        this build's pack, an earlier build's pack, or a loose file."""
        if self.root is None:
            return None
        path = self._path(area, key)
        name = f"{area}/{key}"
        candidates: list[bytes | None] = [self._pending.get(path)]
        own = self._pack_index.get(name)
        if own is not None and self._pack_id is not None:
            fd = self._pack_fd if self._pack_fd is not None else self._fd(self._pack_id)
            candidates.append(_pread(fd, *own))
        for pack, offset, length in self._index().get(name, ()):
            candidates.append(_pread(self._fd(pack), offset, length))
        for raw in candidates:
            entry = _unpack(raw) if raw is not None else None
            if entry is not None:
                self.used.add(path)
                return entry
        raw = self._read(area, key)
        return _unpack(raw) if raw is not None else None

    def _fd(self, pack: str) -> int:
        fd = self._fds.get(pack)
        if fd is None:
            try:
                fd = os.open(f"{self._base}/packs/{pack}.pack", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                fd = -1
            self._fds[pack] = fd
        return fd

    def _index(self) -> dict[str, list[tuple[str, int, int]]]:
        """Where each packed entry of earlier builds is (a pack each build that wrote it),
        read once per build."""
        if self._located is None:
            self._located = {}
            for pack in read_pack_indexes(f"{self._base}/packs"):
                for name, (offset, length) in pack.entries.items():
                    self._located.setdefault(name, []).append((pack.name, offset, length))
        return self._located

    def _write(self, area: str, key: str, data: bytes) -> None:
        """Queue an entry for the writer thread (entries are content-addressed, so two
        writes of one path carry the same bytes)."""
        if self.root is None:
            return
        target = self._path(area, key)
        self.used.add(target)
        packed = area in PACKED_AREAS and len(data) <= PACK_ENTRY_MAX
        name = f"{area}/{key}"
        if packed and (name in self._pack_index or target in self._pending):
            return
        self._pending[target] = data
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="asset-cache-writer")
        if packed:
            self._writer.submit(self._append, target, name, data)
        else:
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

    def _append(self, target: str, name: str, data: bytes) -> None:
        """Append one entry to this build's pack (writer thread only: offsets follow
        the order of the appends)."""
        try:
            fd = self._open_pack()
            if fd is None:
                return
            offset = self._pack_size
            written = 0
            while written < len(data):
                written += os.pwrite(fd, memoryview(data)[written:], offset + written)
            self._pack_index[name] = (offset, len(data))  # before the pending bytes go
            self._pack_size = offset + len(data)
        except OSError:
            pass  # the entry is not indexed, so its bytes are never read
        finally:
            self._pending.pop(target, None)

    def _open_pack(self) -> int | None:
        if self._pack_fd is not None or self._pack_failed:
            return self._pack_fd
        directory = f"{self._base}/packs"
        try:
            if self._pack_id is None:
                os.makedirs(directory, exist_ok=True)
                self._pack_id = f"{time.time_ns():x}-{os.getpid()}-{os.urandom(4).hex()}"
                flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            else:  # reopened after ``close``: appends continue after the indexed bytes
                flags = os.O_RDWR | os.O_CLOEXEC
            self._pack_fd = os.open(f"{directory}/{self._pack_id}.pack", flags, 0o644)
        except OSError:
            self._pack_failed = True
            return None
        return self._pack_fd

    def _store_index(self) -> None:
        """Write this build's pack index (writer thread, after the appends it covers)."""
        if self._pack_id is None or len(self._pack_index) == self._indexed:
            return
        entries = dict(self._pack_index)
        payload = json.dumps(entries, separators=(",", ":")).encode()
        raw = _pack({"kind": "index", "pack": self._pack_id}, [payload])
        self._store(f"{self._base}/packs/{self._pack_id}.idx", raw)
        self._indexed = len(entries)

    # -- processor outputs -------------------------------------------------------------
    def get_output(self, key: str) -> ProcessorOutput | None:
        found = self.get_processed(key)
        return found[0] if found is not None else None

    def get_processed(self, key: str) -> tuple[ProcessorOutput, list[RawRef] | None] | None:
        """A processor output and the references found in it (None: not recorded)."""
        entry = self._entry("processed", key)
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
        entry = self._entry("encoded", key)
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
        """Delete what this build did not use, least recently written first, until the
        entries take at most ``max_bytes`` (0: keep only what this build used). Temp files
        and packs without an index left by a crashed build go once they are an hour old."""
        if self.root is None:
            return PruneResult(0, 0, 0, 0)
        self.flush()
        now = time.time()
        removed = removed_bytes = 0
        unused: list[tuple[float, int, str]] = []
        total = 0
        for area in ENTRY_AREAS:
            if area == "packs":
                continue
            for path, stat in _files(f"{self._base}/{area}"):
                if os.path.basename(path).startswith(".tmp-"):
                    if now - stat.st_mtime > _STALE_TEMP_SECONDS and _unlink(path):
                        removed += 1
                        removed_bytes += stat.st_size
                    continue
                total += stat.st_size
                if path not in self.used:
                    unused.append((stat.st_mtime, stat.st_size, path))
        packs, pack_bytes, swept = self._survey_packs(now)
        total += pack_bytes
        removed_bytes += swept
        fold = self._choose_folds(packs, unused, total, max_bytes)
        for _, size, path in unused:  # ``_choose_folds`` left only the ones to delete
            if _unlink(path):
                removed += 1
                removed_bytes += size
        for pack in self._fold(fold):
            removed += len(pack.entries) - len(pack.used)
            removed_bytes += pack.size - pack.used_bytes
        for area in ENTRY_AREAS:  # shard directories of older formats, once emptied
            with contextlib.suppress(OSError), os.scandir(f"{self._base}/{area}") as items:
                for item in items:
                    if item.is_dir(follow_symlinks=False):
                        with contextlib.suppress(OSError):
                            os.rmdir(item.path)  # fails while it still holds files
        entries, size = self._measure()
        return PruneResult(entries, size, removed, removed_bytes)

    def _survey_packs(self, now: float) -> tuple[list[PackOnDisk], int, int]:
        """The packs ``prune`` may fold (older than this build, not its own), the bytes of
        everything under ``packs/``, and the bytes of crash leftovers removed."""
        directory = f"{self._base}/packs"
        stats: dict[str, os.stat_result] = {}
        with contextlib.suppress(OSError), os.scandir(directory) as items:
            for item in items:
                if item.is_file(follow_symlinks=False):
                    stats[item.name] = item.stat(follow_symlinks=False)
        # Indexes read after the listing: an index listed but not read is damaged, not
        # one that another build renamed into place in between.
        indexed = {p.name: p for p in read_pack_indexes(directory)}
        total = swept = 0
        packs: list[PackOnDisk] = []
        for filename, stat in stats.items():
            stem, _, suffix = filename.rpartition(".")
            old = now - stat.st_mtime > _STALE_TEMP_SECONDS
            if filename.startswith(".tmp-") or stem == self._pack_id:
                orphan = filename.startswith(".tmp-") and old
            elif suffix == "idx":  # its pack pruned, or damaged and older than this build
                pack_stat = stats.get(f"{stem}.pack")
                orphan = pack_stat is None or (
                    stem not in indexed and max(stat.st_mtime, pack_stat.st_mtime) < self._started
                )
            elif suffix == "pack":  # no index: being written, killed, or its index damaged
                idx_stat = stats.get(f"{stem}.idx")
                orphan = stem not in indexed and (
                    old
                    or (
                        idx_stat is not None
                        and max(stat.st_mtime, idx_stat.st_mtime) < self._started
                    )
                )
            else:
                orphan = False
            if orphan and _unlink(f"{directory}/{filename}"):
                swept += stat.st_size
            else:
                total += stat.st_size
        for name, pack in indexed.items():
            pack_stat, idx_stat = stats.get(f"{name}.pack"), stats.get(f"{name}.idx")
            if name == self._pack_id or pack_stat is None or idx_stat is None:
                continue
            pack.mtime = max(pack_stat.st_mtime, idx_stat.st_mtime)
            if pack.mtime >= self._started:
                continue  # another build may be writing it right now
            pack.size = pack_stat.st_size + idx_stat.st_size
            for entry, (_, length) in pack.entries.items():
                if f"{self._base}/{entry}" in self.used and entry not in self._pack_index:
                    pack.used.append(entry)
                    pack.used_bytes += length
            packs.append(pack)
        return packs, total, swept

    def _choose_folds(
        self,
        packs: list[PackOnDisk],
        unused: list[tuple[float, int, str]],
        total: int,
        max_bytes: int,
    ) -> list[PackOnDisk]:
        """Which packs to fold into this build's pack; ``unused`` keeps only the loose
        files to delete. Oldest first, as for loose files; a pack mostly used is folded
        only when nothing else brings the cache under budget."""
        fold: list[PackOnDisk] = []
        count = len(packs) + (1 if self._pack_id is not None else 0)
        for pack in sorted(packs, key=lambda p: (p.used_bytes, p.mtime)):
            if count <= MAX_PACKS:
                break
            fold.append(pack)
            total -= pack.size - pack.used_bytes
            count -= 1
        units: list[tuple[float, int, str | PackOnDisk]] = [
            (mtime, size, path) for mtime, size, path in unused
        ]
        units += [(p.mtime, p.size, p) for p in packs if p not in fold]
        units.sort(key=lambda u: u[0])
        doomed: list[tuple[float, int, str]] = []
        later: list[PackOnDisk] = []
        for mtime, size, unit in units:
            if total <= max_bytes:
                break
            if isinstance(unit, str):
                doomed.append((mtime, size, unit))
                total -= size
            elif unit.used_bytes * 2 <= unit.size:  # mostly unused
                fold.append(unit)
                total -= unit.size - unit.used_bytes
            else:
                later.append(unit)
        for pack in later:
            if total <= max_bytes:
                break
            if len(pack.used) < len(pack.entries):
                fold.append(pack)
                total -= pack.size - pack.used_bytes
        unused[:] = doomed
        return fold

    def _fold(self, packs: list[PackOnDisk]) -> list[PackOnDisk]:
        """Copy the used entries of ``packs`` into this build's pack, then delete each
        pack whose entries all made it (its index first, so no index outlives its pack)."""
        copied: dict[str, list[str]] = {}
        for pack in packs:
            fd = self._fd(pack.name)
            copied[pack.name] = []
            for entry in pack.used:
                offset, length = pack.entries[entry]
                try:
                    data = os.pread(fd, length, offset) if fd >= 0 else b""
                except OSError:
                    data = b""
                if len(data) == length and _unpack(data) is not None:
                    area, _, key = entry.partition("/")
                    self._write(area, key, data)
                    copied[pack.name].append(entry)
        self.flush()
        folded: list[PackOnDisk] = []
        for pack in packs:
            if all(entry in self._pack_index for entry in copied[pack.name]):
                fd = self._fds.pop(pack.name, -1)
                if fd >= 0:
                    os.close(fd)
                if _unlink(f"{self._base}/packs/{pack.name}.idx"):
                    _unlink(f"{self._base}/packs/{pack.name}.pack")
                    folded.append(pack)
        return folded

    def _measure(self) -> tuple[int, int]:
        """Entries (a packed one counts once) and bytes the cache holds now."""
        entries = size = 0
        for area in ENTRY_AREAS:
            for path, stat in _files(f"{self._base}/{area}"):
                if not os.path.basename(path).startswith(".tmp-"):
                    size += stat.st_size
                    entries += area != "packs"
        entries += sum(len(p.entries) for p in read_pack_indexes(f"{self._base}/packs"))
        return entries, size


def read_pack_indexes(directory: str) -> list[PackOnDisk]:
    """The packs under ``directory`` whose index is intact (a damaged index is a miss
    for every entry of its pack)."""
    packs: list[PackOnDisk] = []
    try:
        names = [n for n in os.listdir(directory) if n.endswith(".idx")]
    except OSError:
        return packs
    for filename in names:
        name = filename[: -len(".idx")]
        try:
            with open(f"{directory}/{filename}", "rb") as fh:
                entry = _unpack(fh.read())
        except OSError:
            continue
        if entry is None or entry[0].get("pack") != name or len(entry[1]) != 1:
            continue
        try:
            rows = json.loads(entry[1][0])
        except ValueError:
            continue
        if not isinstance(rows, dict):
            continue
        entries: dict[str, tuple[int, int]] = {}
        for key, value in rows.items():
            if (
                isinstance(value, list)
                and len(value) == 2
                and all(type(n) is int and n >= 0 for n in value)
            ):
                entries[key] = (value[0], value[1])
        packs.append(PackOnDisk(name, entries, 0, 0.0))
    return packs


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


def _pread(fd: int, offset: int, length: int) -> bytes | None:
    """``length`` bytes at ``offset``, or None (a truncated or unreadable pack: a miss)."""
    if fd < 0:
        return None
    try:
        data = os.pread(fd, length, offset)
    except OSError:
        return None
    return data if len(data) == length else None


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
    except OSError:
        return False
    return True

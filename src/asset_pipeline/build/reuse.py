"""Reuse unchanged files of the previous DIST by hard link when writing the new one.

A rebuild after a one-file change still assembles a complete new DIST (that is what
makes the swap atomic), but most of its files are byte-identical to the previous
build's. Creating thousands of files is the slowest part of such a rebuild on a busy
disk, while a hard link is one metadata operation and shares the blocks.

The files are written on a background thread in the order they were placed: the calls
release the GIL, so the main process goes on rewriting and feeding the compressing
workers instead of waiting on the disk. ``flush`` waits for them and raises the first
error (a full disk fails the build as before).
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from asset_pipeline.manifest import ManifestError, load_manifest


class Previous:
    """Output paths of the previous build with what is known about their bytes."""

    __slots__ = ("_dirs", "_hashes", "_root", "_sizes", "_writer", "_writes", "linked")

    def __init__(self, root: Path | None, hashes: dict[str, str], sizes: dict[str, int]) -> None:
        self._root = str(root) if root is not None else None
        self._hashes = hashes
        self._sizes = sizes
        self._dirs: set[str] = set()
        self._writer: ThreadPoolExecutor | None = None
        self._writes: list[Future[None]] = []
        self.linked = 0

    @classmethod
    def load(cls, out: Path) -> Previous:
        try:
            manifest = load_manifest(out)
        except (ManifestError, OSError):
            return cls(None, {}, {})
        hashes: dict[str, str] = {}
        sizes: dict[str, int] = {}
        for entry in manifest.files.values():
            hashes[entry.path] = entry.hash
            sizes[entry.path] = entry.size
            for variant in entry.encodings.values():
                sizes[variant.path] = variant.size
            for alt in entry.alternates:
                sizes[alt.path] = alt.size
            if entry.dictionary is not None:
                for codings in entry.dictionary.deltas.values():
                    sizes.update((v.path, v.size) for v in codings.values())
        return cls(out, hashes, sizes)

    def _same(self, path: str, data: bytes, digest: str | None) -> bool:
        if self._root is None or self._sizes.get(path) != len(data):
            return False
        if digest is not None and path in self._hashes:
            return self._hashes[path] == digest
        try:
            with open(f"{self._root}/{path}", "rb") as fh:
                return fh.read() == data
        except OSError:
            return False

    def place(self, tmp: Path, path: str, data: bytes, digest: str | None = None) -> None:
        """Have ``data`` written to ``tmp/path``, as a hard link to the previous copy when
        the bytes are the same (``digest``: the blake3 hex of ``data``, if known). The file
        is there after ``flush``."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="asset-output-writer")
        self._writes.append(self._writer.submit(self._place, f"{tmp}/{path}", path, data, digest))

    def flush(self) -> None:
        """Wait until every placed file is written; raises the first OSError."""
        writes, self._writes = self._writes, []
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        for write in writes:
            write.result()

    def _place(self, target: str, path: str, data: bytes, digest: str | None) -> None:
        parent = os.path.dirname(target)
        if parent not in self._dirs:
            os.makedirs(parent, exist_ok=True)
            self._dirs.add(parent)
        if self._same(path, data, digest):
            try:
                os.link(f"{self._root}/{path}", target)
                self.linked += 1
                return
            except OSError:
                pass  # another file system, or links unsupported: write instead
        with open(target, "wb") as fh:
            fh.write(data)

"""Reuse unchanged files of the previous DIST by hard link when writing the new one.

A rebuild after a one-file change still assembles a complete new DIST (that is what
makes the swap atomic), but most of its files are byte-identical to the previous
build's. Creating thousands of files is the slowest part of such a rebuild on a busy
disk, while a hard link is one metadata operation and shares the blocks.
"""

from __future__ import annotations

import os
from pathlib import Path

from asset_pipeline.manifest import ManifestError, load_manifest


class Previous:
    """Output paths of the previous build with what is known about their bytes."""

    __slots__ = ("_hashes", "_root", "_sizes", "linked")

    def __init__(self, root: Path | None, hashes: dict[str, str], sizes: dict[str, int]) -> None:
        self._root = root
        self._hashes = hashes
        self._sizes = sizes
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
        return cls(out, hashes, sizes)

    def _same(self, path: str, data: bytes, digest: str | None) -> bool:
        if self._root is None or self._sizes.get(path) != len(data):
            return False
        if digest is not None and path in self._hashes:
            return self._hashes[path] == digest
        try:
            return (self._root / path).read_bytes() == data
        except OSError:
            return False

    def place(self, tmp: Path, path: str, data: bytes, digest: str | None = None) -> None:
        """Write ``data`` to ``tmp/path``, as a hard link to the previous copy when the
        bytes are the same (``digest``: the blake3 hex of ``data``, if known)."""
        target = tmp / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if self._same(path, data, digest):
            assert self._root is not None
            try:
                os.link(self._root / path, target)
                self.linked += 1
                return
            except OSError:
                pass  # another file system, or links unsupported: write instead
        target.write_bytes(data)

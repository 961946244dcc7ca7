"""What a build directory holds, as objects to publish: key, hash, headers, phase.

The manifest says which files are fingerprinted (safe to cache forever and to upload
first); anything in DIST that the manifest does not list (``sw.js``, the manifest
itself, Django/Vite manifest copies, HTML) is an entry point, uploaded after every file
it can reference. Every file is hashed here with blake3 because the skip decision must
not trust S3's ETag (not an MD5 for multipart or encoded objects).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from blake3 import blake3

from asset_pipeline.errors import AssetPipelineError
from asset_pipeline.file_tree import TreeError, list_files
from asset_pipeline.manifest import ENCODING_SUFFIX, MANIFEST_NAME, Manifest
from asset_pipeline.upload.rules import UploadRules

#: Upload order: every phase completes before the next one starts.
PHASE_HASHED, PHASE_ENTRY, PHASE_MANIFEST = 0, 1, 2
PHASE_NAMES = ("hashed", "entry", "manifest")
#: Files that describe the build; uploaded last, ``manifest.json`` the very last.
MANIFEST_FILES = ("staticfiles.json", ".vite/manifest.json", MANIFEST_NAME)
#: Precompressed-variant handling: upload with Content-Encoding, or leave to the CDN.
PRECOMPRESSED_MODES = ("upload", "skip")

#: Where the upload keeps its state under the prefix; a DIST folder of that name would
#: overwrite it, so it is never uploaded.
RESERVED_DIR = ".asset-pipeline/"

_CODING_BY_SUFFIX = {suffix: coding for coding, suffix in ENCODING_SUFFIX.items()}


class InventoryError(AssetPipelineError, ValueError):
    """The build directory does not match its manifest."""


@dataclass(frozen=True, slots=True)
class LocalObject:
    """One file to publish; ``rel`` is relative to DIST with ``/`` separators."""

    rel: str
    path: str
    size: int
    blake3: str
    content_type: str
    cache_control: str
    content_encoding: str | None
    phase: int
    #: Canned ACL (``public-read`` for stores served without a CDN identity), or None.
    acl: str | None = None
    #: For an RFC 9842 delta (``Content-Encoding: dcz``): SHA-256 (hex) of its dictionary.
    dictionary: str | None = None

    @property
    def fingerprinted(self) -> bool:
        return self.phase == PHASE_HASHED


@dataclass(frozen=True, slots=True)
class _Source:
    """What the manifest says about one output path."""

    content_type: str | None
    fingerprinted: bool
    coding: str | None
    base_rel: str
    expected_hash: str | None
    dictionary: str | None = None


def file_blake3(path: str | os.PathLike[str]) -> str:
    hasher = blake3()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def _manifest_sources(manifest: Manifest) -> dict[str, _Source]:
    sources: dict[str, _Source] = {}
    for entry in manifest.files.values():
        fp = entry.fingerprinted
        sources[entry.path] = _Source(entry.content_type, fp, None, entry.path, entry.hash)
        for coding, variant in entry.encodings.items():
            sources[variant.path] = _Source(entry.content_type, fp, coding, entry.path, None)
        for alt in entry.alternates:
            sources[alt.path] = _Source(alt.content_type, fp, None, alt.path, None)
        if entry.dictionary is not None:
            for digest, codings in entry.dictionary.deltas.items():
                for coding, variant in codings.items():
                    sources[variant.path] = _Source(
                        entry.content_type, fp, coding, entry.path, None, digest
                    )
    return sources


def _walk(dist: Path, exclude: Iterable[str]) -> list[str]:
    """The files to publish; a link in DIST that leaves it (or a FIFO, a device) is an
    error naming it: the upload must not publish what the build would have refused."""
    patterns = tuple(exclude)

    def keep(rel: str) -> bool:
        if rel.startswith(RESERVED_DIR):
            return False
        if rel.endswith("/"):
            return True
        name = rel.rsplit("/", 1)[-1]
        return not any(fnmatchcase(rel, p) or fnmatchcase(name, p) for p in patterns)

    hint = "rebuild DIST, or copy the file into it instead of linking."
    try:
        return list_files(dist, keep=keep, hint=hint)
    except TreeError as exc:
        raise InventoryError("\n".join(exc.problems)) from None


def _phase(rel: str, fingerprinted: bool) -> int:
    if rel in MANIFEST_FILES:
        return PHASE_MANIFEST
    return PHASE_HASHED if fingerprinted else PHASE_ENTRY


def scan_build(
    dist: str | os.PathLike[str],
    manifest: Manifest,
    *,
    rules: UploadRules,
    precompressed: str = "upload",
    exclude: Iterable[str] = (),
    acl: str | None = None,
) -> list[LocalObject]:
    """Every file of DIST as a :class:`LocalObject`, in upload order.

    Raises :class:`InventoryError` when the manifest names a file that is missing or
    whose bytes do not hash to the manifest's value (a half-copied build).
    """
    if precompressed not in PRECOMPRESSED_MODES:
        raise InventoryError(
            f"precompressed={precompressed!r} is not a mode. HINT: use one of "
            f"{', '.join(PRECOMPRESSED_MODES)}."
        )
    root = Path(dist)
    sources = _manifest_sources(manifest)
    present = set(_walk(root, exclude))
    missing = sorted(p for p in sources if p not in present)
    if missing:
        raise InventoryError(
            f"{root}: the manifest lists {missing[0]!r} (and {len(missing) - 1} more) but the "
            "file is not in the build directory. HINT: rebuild, or upload the whole build."
        )
    objects = []
    for rel in sorted(present):
        source = sources.get(rel)
        if source is None:
            source = _unlisted_source(rel, present, sources)
        if source.coding is not None and precompressed == "skip":
            continue
        full = root / rel
        digest = file_blake3(full)
        if source.expected_hash is not None and digest != source.expected_hash:
            raise InventoryError(
                f"{full}: content does not match the manifest's blake3 hash. "
                "HINT: the build directory was modified after the build; rebuild it."
            )
        objects.append(
            LocalObject(
                rel=rel,
                path=str(full),
                size=full.stat().st_size,
                blake3=digest,
                content_type=rules.content_type(source.base_rel, source.content_type),
                cache_control=rules.cache_control(
                    source.base_rel, fingerprinted=source.fingerprinted
                ),
                content_encoding=source.coding,
                phase=_phase(rel, source.fingerprinted),
                acl=acl,
                dictionary=source.dictionary,
            )
        )
    objects.sort(key=_upload_order)
    return objects


def _unlisted_source(rel: str, present: set[str], sources: dict[str, _Source]) -> _Source:
    """A file the manifest does not name: an entry point, or a precompressed sibling of one
    (``sw.js.br`` next to ``sw.js``), which inherits its base file's type and lifetime."""
    stem, dot, suffix = rel.rpartition(".")
    coding = _CODING_BY_SUFFIX.get(dot + suffix) if dot else None
    if coding is not None and stem in present:
        base = sources.get(stem)
        if base is not None:
            return _Source(base.content_type, base.fingerprinted, coding, stem, None)
        return _Source(None, False, coding, stem, None)
    return _Source(None, False, None, rel, None)


def _upload_order(obj: LocalObject) -> tuple[int, int, str]:
    tail = MANIFEST_FILES.index(obj.rel) if obj.rel in MANIFEST_FILES else -1
    return (obj.phase, tail, obj.rel)

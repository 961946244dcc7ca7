"""The build's end: precompressed siblings, the manifest (plus Django/Vite shapes) and the
swap of the finished temp directory into place."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from blake3 import blake3

from asset_pipeline.build.cache import BuildCache, cache_key
from asset_pipeline.build.fingerprint import content_hash, integrity
from asset_pipeline.build.plan import ProgressCallback
from asset_pipeline.build.precompress import is_compressible, precompress
from asset_pipeline.build.scan import JobStream, Workers
from asset_pipeline.build.steps import Emitted, Emitter, type_label
from asset_pipeline.config.model import BuildConfig
from asset_pipeline.manifest import (
    ENCODING_SUFFIX,
    DictionaryInfo,
    EncodedVariant,
    ImageAlternate,
    Manifest,
    ManifestEntry,
)
from asset_pipeline.refs.graph import es_modules


class Precompressor:
    """Writes the ``.zst``/``.br``/``.gz`` siblings of each file as it is emitted.

    Files are emitted leaves first, one at a time, in this process; each one's compression
    goes to the pool (``JobStream``) as soon as it is on disk, so the workers compress
    while the rest is still being rewritten and hashed instead of idling until the last
    file is written. ``add`` writes what has come back meanwhile; ``finish`` waits for
    the rest.
    """

    __slots__ = (
        "_cache",
        "_done",
        "_emitter",
        "_progress",
        "_settings",
        "_sizes",
        "_stream",
        "_todo",
    )

    def __init__(
        self,
        emitter: Emitter,
        cache: BuildCache,
        workers: Workers,
        config: BuildConfig,
        progress: ProgressCallback | None,
    ) -> None:
        self._emitter = emitter
        self._cache = cache
        self._settings = config.precompress
        self._progress = progress
        self._sizes: dict[str, dict[str, int]] = {}
        self._stream: JobStream[int, dict[str, bytes]] = workers.stream(precompress)
        self._todo: list[tuple[Emitted, str]] = []  # (file, cache key) sent to the pool
        self._done = 0

    def add(self, items: Sequence[Emitted]) -> None:
        """Start compressing ``items`` (one emitted file and its image alternates)."""
        if not self._settings.enabled:
            return
        for item in items:
            if not item.data or not is_compressible(item.content_type):
                continue
            file_settings = self._settings.for_file(item.logical)
            key = cache_key("precompress", repr(file_settings), item.data)
            cached = self._cache.get_encoded(key)
            if cached is not None:
                self._sizes[item.path] = _write_siblings(self._emitter, item.path, cached)
                self._emitter.stats.compressed_cached += 1
            else:
                self._stream.add(len(self._todo), (item.data, file_settings))
                self._todo.append((item, key))
        self._write(self._stream.ready(), final=False)

    def finish(self) -> dict[str, dict[str, int]]:
        """Wait for the rest; returns output path -> {coding: size}."""
        if not self._settings.enabled:
            return {}
        if self._progress is not None and self._done:
            self._progress("precompress", self._done, len(self._todo))
        self._write(self._stream.drain(), final=True)
        for name, item in self._emitter.main.items():
            br = self._sizes.get(item.path, {}).get("br", len(item.data))
            self._emitter.stats.by_type[type_label(name)].bytes_br += br
        return self._sizes

    def _write(self, results: Iterable[tuple[int, dict[str, bytes]]], *, final: bool) -> None:
        for i, encoded in results:
            item, key = self._todo[i]
            self._cache.put_encoded(key, encoded)
            self._sizes[item.path] = _write_siblings(self._emitter, item.path, encoded)
            self._emitter.stats.compressed += 1
            self._done += 1
            if final and self._progress is not None:  # the total is known once all are in
                self._progress("precompress", self._done, len(self._todo))


def _write_siblings(emitter: Emitter, path: str, encoded: Mapping[str, bytes]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for coding, data in encoded.items():
        emitter.previous.place(emitter.out, path + ENCODING_SUFFIX[coding], data)
        sizes[coding] = len(data)
    return sizes


def _entry(item: Emitted, sizes: Mapping[str, int], deps: Sequence[str]) -> ManifestEntry:
    return ManifestEntry(
        path=item.path,
        size=len(item.data),
        content_type=item.content_type,
        hash=content_hash(item.data),
        integrity=integrity(item.data),
        fingerprinted=item.fingerprinted,
        encodings={
            coding: EncodedVariant(item.path + ENCODING_SUFFIX[coding], size)
            for coding, size in sorted(sizes.items())
        },
        dependencies=tuple(deps),
    )


def make_manifest(
    emitter: Emitter,
    encoded: Mapping[str, Mapping[str, int]],
    config: BuildConfig,
    dictionaries: Mapping[str, DictionaryInfo] | None = None,
) -> Manifest:
    files: dict[str, ManifestEntry] = {}
    rank = {name: i for i, name in enumerate(emitter.plan.order)}
    modules = es_modules(emitter.plan.names, emitter.plan.refs, config.url_prefix)
    for name, item in emitter.main.items():
        # Leaves first (the build order), as the manifest schema documents.
        deps = sorted(emitter.plan.graph.deps.get(name, ()), key=rank.__getitem__)
        entry = _entry(item, encoded.get(item.path, {}), deps)
        metadata = emitter.processed[name].metadata
        alternates = tuple(
            ImageAlternate(
                format=extra.format,
                content_type=alt.content_type,
                path=alt.path,
                size=len(alt.data),
                width=extra.width,
                height=extra.height,
            )
            for alt, extra in emitter.alternates.get(name, ())
        )
        files[name] = ManifestEntry(
            **{
                **{f: getattr(entry, f) for f in ManifestEntry.__dataclass_fields__},
                "alternates": alternates,
                "width": _int_or_none(metadata.get("width")),
                "height": _int_or_none(metadata.get("height")),
                "unicode_range": _str_or_none(metadata.get("unicode_range")),
                "dictionary": (dictionaries or {}).get(name),
                "module": name in modules,
            }
        )
    build_id = blake3(
        "\n".join(f"{n}={files[n].hash}" for n in sorted(files)).encode()
    ).hexdigest()[:16]
    return Manifest(files=files, build_id=build_id, url_prefix=config.url_prefix)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def write_extra_manifests(manifest: Manifest, out: Path, formats: Sequence[str]) -> None:
    """``staticfiles.json`` (Django ManifestStaticFilesStorage) and ``.vite/manifest.json``."""
    if "django" in formats:
        (out / "staticfiles.json").write_text(
            json.dumps(manifest.django_staticfiles(), indent=2) + "\n", encoding="utf-8"
        )
    if "vite" in formats:
        (out / ".vite").mkdir(exist_ok=True)
        (out / ".vite" / "manifest.json").write_text(
            json.dumps(manifest.vite_manifest(), indent=2) + "\n", encoding="utf-8"
        )


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); False where unsupported."""
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(rc == 0)


def swap_into_place(tmp: Path, out: Path) -> None:
    """Make ``tmp`` the new ``out``: an atomic exchange where the OS offers one, else two
    renames (the window without ``out`` is a single rename long)."""
    if not out.exists():
        os.rename(tmp, out)
        return
    if _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous build
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def make_temp_dir(out: Path) -> Path:
    """A fresh directory next to ``out`` to build into (same file system, so the final
    rename is cheap). Leftovers of builds that were killed are removed first: their
    names carry the builder's process id, and a dead process cannot finish them."""
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        pid = stale.name.removeprefix(f".{out.name}.tmp-").split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    tmp.chmod(0o755)
    return tmp


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True

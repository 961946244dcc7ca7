"""Delta-compressed versions of JS and CSS for returning visitors (RFC 9842).

A browser that holds an earlier version of ``js/app.<hash>.js`` (it was served with
``Use-As-Dictionary``) asks for the new one with ``Available-Dictionary: :<sha-256>:`` and
``Accept-Encoding: …, dcz``. The build prepares the answer: for each eligible file it
remembers the SHA-256 of its last versions (in the manifest); the version a build replaces
is read from the previous DIST and kept in the build cache as it leaves (a cold build writes
no extra cache file), so older versions come from the cache; a build with neither (a CI job)
fetches them from the bucket the upload published them to (``VersionSource``), checking each
against its SHA-256 before use. It writes the new file compressed
with zstd against each old one used as a raw-content dictionary, framed as RFC 9842
section 5 says. A delta that is not clearly smaller than the ``.br`` is dropped.

Only names the build fingerprints take part: their URL minus the hash is what the
``match`` URL Pattern describes. A name that already carries a bundler's hash changes
with every version, so nothing ties its versions together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import zstandard

from asset_pipeline.build.cache import BuildCache, cache_key
from asset_pipeline.build.fingerprint import content_hash, split_name, with_suffix
from asset_pipeline.build.plan import ProgressCallback
from asset_pipeline.build.precompress import is_compressible
from asset_pipeline.build.scan import Workers
from asset_pipeline.build.steps import Emitted, Emitter
from asset_pipeline.config.model import BuildConfig
from asset_pipeline.manifest import (
    DCZ_MAGIC,
    DELTA_SUFFIX,
    DictionaryInfo,
    EncodedVariant,
    Manifest,
    ManifestEntry,
    ManifestError,
    load_manifest,
    urlpattern_literal,
)

#: Fetch destinations (``match-dest``) by extension, so a script's dictionary is only
#: offered for script requests.
_DESTINATIONS = {".js": ("script",), ".mjs": ("script",), ".css": ("style",)}
_HASH_MARK = "\x00"


def dcz_encode(dictionary: bytes, data: bytes, level: int) -> bytes:
    """``data`` as a ``dcz`` body: the 40-byte header, then one zstd frame compressed with
    ``dictionary`` as raw content (RFC 8878 section 5). The frame records its content size
    and no dictionary ID; with the size known, zstd sizes the window to the input plus the
    dictionary, capped by the level (8 MB at 19), inside what RFC 9842 lets clients
    demand (at least 8 MB or 1.25 times the dictionary)."""
    raw = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    cctx = zstandard.ZstdCompressor(
        level=level, dict_data=raw, write_content_size=True, write_dict_id=False
    )
    return DCZ_MAGIC + hashlib.sha256(dictionary).digest() + cctx.compress(data)


def dcz_decode(dictionary: bytes, body: bytes) -> bytes:
    """The inverse of :func:`dcz_encode`; raises ValueError on a wrong header or hash."""
    if body[:8] != DCZ_MAGIC:
        raise ValueError("not a dcz stream: the 8-byte RFC 9842 header is missing")
    if body[8:40] != hashlib.sha256(dictionary).digest():
        raise ValueError("dcz stream was compressed with another dictionary")
    raw = zstandard.ZstdCompressionDict(dictionary, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    out: bytes = zstandard.ZstdDecompressor(dict_data=raw).decompress(body[40:])
    return out


def match_pattern(out_logical: str, name_pattern: str) -> str:
    """The URL Pattern (relative to the URL prefix) of every version of ``out_logical``:
    its fingerprinted name with the hash as ``*`` and everything else literal."""
    directory, stem, ext = split_name(out_logical)
    parts = (directory + name_pattern.format(name=stem, hash=_HASH_MARK, ext=ext)).split(_HASH_MARK)
    return "*".join(urlpattern_literal(part) for part in parts)


def prior_manifest(out: Path) -> Manifest | None:
    """The manifest of the build DIST holds now (None: first build or unreadable)."""
    try:
        return load_manifest(out)
    except (ManifestError, OSError):
        return None


class VersionSource(Protocol):
    """Where earlier versions were published (the upload's bucket): ``fetch`` returns the
    objects it could read by build-relative path, ``where`` names one for a warning."""

    def fetch(self, paths: Iterable[str]) -> dict[str, bytes]: ...

    def where(self, path: str) -> str: ...


@dataclass(frozen=True, slots=True)
class _Candidate:
    name: str
    item: Emitted
    sha256: str
    match: str
    match_dest: tuple[str, ...]
    #: SHA-256 of the previous versions, newest first -> where each was published.
    history: dict[str, str | None]


@dataclass(slots=True)
class _Versions:
    """Finds the bytes of earlier versions: the build cache, then DIST, then the bucket;
    whatever it finds outside the cache it checks and keeps there for later builds."""

    cache: BuildCache
    out: Path
    remote: VersionSource | None
    warnings: list[str]

    def local(self, path: str | None) -> bytes | None:
        """A file in DIST by the path a manifest recorded; a path that would leave DIST
        (a manifest from the bucket is not trusted with the local disk) reads nothing."""
        if path is None or path.startswith("/") or ".." in path.split("/"):
            return None
        try:
            return (self.out / path).read_bytes()
        except OSError:
            return None

    def read(self, path: str) -> bytes | None:
        """One file by path, from DIST or the bucket (no hash known to check it against)."""
        data = self.local(path)
        if data is None and self.remote is not None:
            data = self.remote.fetch([path]).get(path)
        return data

    def keep(self, digest: str, data: bytes, where: str) -> bytes | None:
        if hashlib.sha256(data).hexdigest() != digest:
            self.warnings.append(
                f"{where}: its SHA-256 is not {digest[:16]}…, the one the manifest history "
                "records, so no delta is made against that version. HINT: the object was "
                "changed after it was published; browsers hold the recorded version."
            )
            return None
        self.cache.put_version(digest, data)
        return data

    def find(self, wanted: Mapping[str, str | None]) -> dict[str, bytes]:
        """SHA-256 -> bytes for every wanted version that can be found and checks out."""
        found: dict[str, bytes] = {}
        missing: dict[str, str] = {}
        for digest, path in wanted.items():
            data = self.cache.get_version(digest)
            if data is not None and hashlib.sha256(data).hexdigest() == digest:
                found[digest] = data
                continue
            data = self.local(path)
            if data is not None and hashlib.sha256(data).hexdigest() == digest:
                self.cache.put_version(digest, data)  # it leaves DIST now: the cache keeps it
                found[digest] = data
            elif path is not None:
                missing[digest] = path
        if self.remote is not None and missing:
            fetched = self.remote.fetch(missing.values())
            for digest, path in missing.items():
                data = fetched.get(path)
                if data is not None and self.keep(digest, data, self.remote.where(path)):
                    found[digest] = data
        return found


def _history(
    sha: str, data: bytes, old: ManifestEntry | None, versions: _Versions, keep: int
) -> dict[str, str | None]:
    """SHA-256 of the versions before this one, newest first, at most ``keep``, each with
    the path it was published at (None when no manifest recorded it)."""
    if old is None:
        return {}
    info = old.dictionary
    if info is None:  # the previous build kept no history: start it from its file
        if old.hash == content_hash(data):
            return {}
        previous = versions.read(old.path)
        if previous is None or content_hash(previous) != old.hash:
            return {}
        digest = hashlib.sha256(previous).hexdigest()
        versions.cache.put_version(digest, previous)
        info = DictionaryInfo(sha256=digest, match="")
    chain = list(info.history) if info.sha256 == sha else [info.sha256, *info.history]
    seen: dict[str, str | None] = {}
    for digest in chain:
        if digest != sha and digest not in seen and len(seen) < keep:
            seen[digest] = info.path_of(digest, old.path)
    return seen


def build_deltas(
    emitter: Emitter,
    cache: BuildCache,
    workers: Workers,
    config: BuildConfig,
    encoded: Mapping[str, Mapping[str, int]],
    prior: Manifest | None,
    progress: ProgressCallback | None = None,
    *,
    remote: VersionSource | None = None,
    warnings: list[str] | None = None,
) -> dict[str, DictionaryInfo]:
    """Write the deltas of every eligible file into the new DIST; logical name ->
    what the manifest records about it. ``prior`` is the manifest of the build the
    visitors have (DIST's, or the bucket's with ``remote``); earlier versions missing from
    the cache and DIST are fetched from ``remote``; problems go to ``warnings``."""
    settings = config.dictionaries
    out = config.resolve(config.out) if config.out is not None else emitter.out
    versions = _Versions(cache, out, remote, warnings if warnings is not None else [])
    candidates: list[_Candidate] = []
    for name, item in emitter.main.items():
        if not item.data or not settings.eligible(name) or not is_compressible(item.content_type):
            continue
        out_logical = with_suffix(name, emitter.processed[name].suffix)
        if item.path == out_logical:
            continue  # not fingerprinted by this build: no pattern ties its versions
        sha = hashlib.sha256(item.data).hexdigest()
        old = prior.get(name) if prior is not None else None
        history = _history(sha, item.data, old, versions, settings.versions)
        match = match_pattern(out_logical, config.name_pattern)
        dest = _DESTINATIONS.get(split_name(out_logical)[2].lower(), ())
        candidates.append(_Candidate(name, item, sha, match, dest, history))

    keys: dict[tuple[str, str], str] = {}
    wanted: dict[str, str | None] = {}
    found: dict[tuple[str, str], bytes] = {}
    for cand in candidates:
        for digest, path in cand.history.items():
            key = cache_key("dcz", str(settings.zstd_level), digest, cand.item.data)
            cached = cache.get_encoded(key)
            if cached is not None and "dcz" in cached:
                found[(cand.name, digest)] = cached["dcz"]
                emitter.stats.deltas_cached += 1
                continue
            keys[(cand.name, digest)] = key
            if wanted.get(digest) is None:
                wanted[digest] = path
    dictionaries = versions.find(wanted)
    todo: list[tuple[tuple[str, str], str]] = []
    jobs: list[tuple[bytes, bytes, int]] = []
    for (name, digest), key in keys.items():
        dictionary = dictionaries.get(digest)
        if dictionary is not None:
            todo.append(((name, digest), key))
            jobs.append((dictionary, emitter.main[name].data, settings.zstd_level))
    for done, (i, delta) in enumerate(workers.map_unordered(dcz_encode, jobs), 1):
        ident, key = todo[i]
        cache.put_encoded(key, {"dcz": delta})
        found[ident] = delta
        emitter.stats.deltas += 1
        if progress is not None:
            progress("dictionaries", done, len(jobs))

    infos: dict[str, DictionaryInfo] = {}
    for cand in candidates:
        sizes = encoded.get(cand.item.path, {})
        best = min(sizes.values(), default=len(cand.item.data))
        limit = best * (1.0 - settings.min_saving)
        deltas: dict[str, dict[str, EncodedVariant]] = {}
        for digest in cand.history:
            kept = found.get((cand.name, digest))
            if kept is None or len(kept) > limit:
                continue
            path = f"{cand.item.path}.{digest[:16]}{DELTA_SUFFIX['dcz']}"
            emitter.previous.place(emitter.out, path, kept)
            deltas[digest] = {"dcz": EncodedVariant(path, len(kept))}
        infos[cand.name] = DictionaryInfo(
            sha256=cand.sha256,
            match=cand.match,
            match_dest=cand.match_dest,
            history=tuple(cand.history),
            deltas=deltas,
            history_paths={d: p for d, p in cand.history.items() if p is not None},
        )
    return infos

"""Delta-compressed versions of JS and CSS for returning visitors (RFC 9842).

A browser that holds an earlier version of ``js/app.<hash>.js`` (it was served with
``Use-As-Dictionary``) asks for the new one with ``Available-Dictionary: :<sha-256>:`` and
``Accept-Encoding: …, dcz``. The build prepares the answer: for each eligible file it
remembers the SHA-256 of its last versions (in the manifest); the version a build replaces
is read from the previous DIST and kept in the build cache as it leaves (a cold build writes
no extra cache file), so older versions come from the cache. It writes the new file compressed
with zstd against each old one used as a raw-content dictionary, framed as RFC 9842
section 5 says. A delta that is not clearly smaller than the ``.br`` is dropped.

Only names the build fingerprints take part: their URL minus the hash is what the
``match`` URL Pattern describes. A name that already carries a bundler's hash changes
with every version, so nothing ties its versions together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True, slots=True)
class _Candidate:
    name: str
    item: Emitted
    sha256: str
    match: str
    match_dest: tuple[str, ...]
    history: tuple[str, ...]


def _history(
    sha: str, data: bytes, old: ManifestEntry | None, out: Path, cache: BuildCache, keep: int
) -> tuple[str, ...]:
    """SHA-256 of the versions before this one, newest first, at most ``keep``."""
    if old is None:
        return ()
    info = old.dictionary
    if info is None:  # the previous build kept no history: start it from its file
        if old.hash == content_hash(data):
            return ()
        try:
            previous = (out / old.path).read_bytes()
        except OSError:
            return ()
        digest = hashlib.sha256(previous).hexdigest()
        cache.put_version(digest, previous)
        info = DictionaryInfo(sha256=digest, match="")
    chain = list(info.history) if info.sha256 == sha else [info.sha256, *info.history]
    seen: list[str] = []
    for digest in chain:
        if digest != sha and digest not in seen:
            seen.append(digest)
    return tuple(seen[:keep])


def _old_bytes(
    digest: str, cache: BuildCache, out: Path, prior: Manifest | None, name: str
) -> bytes | None:
    data = cache.get_version(digest)
    if data is None and prior is not None:
        entry = prior.get(name)
        info = entry.dictionary if entry is not None else None
        if entry is not None and info is not None and info.sha256 == digest:
            try:
                data = (out / entry.path).read_bytes()
            except OSError:
                return None
            if hashlib.sha256(data).hexdigest() == digest:
                cache.put_version(digest, data)  # it leaves DIST now: the cache keeps it
    if data is None or hashlib.sha256(data).hexdigest() != digest:
        return None
    return data


def build_deltas(
    emitter: Emitter,
    cache: BuildCache,
    workers: Workers,
    config: BuildConfig,
    encoded: Mapping[str, Mapping[str, int]],
    prior: Manifest | None,
    progress: ProgressCallback | None = None,
) -> dict[str, DictionaryInfo]:
    """Write the deltas of every eligible file into the new DIST; logical name ->
    what the manifest records about it."""
    settings = config.dictionaries
    out = config.resolve(config.out) if config.out is not None else emitter.out
    candidates: list[_Candidate] = []
    for name, item in emitter.main.items():
        if not item.data or not settings.eligible(name) or not is_compressible(item.content_type):
            continue
        out_logical = with_suffix(name, emitter.processed[name].suffix)
        if item.path == out_logical:
            continue  # not fingerprinted by this build: no pattern ties its versions
        sha = hashlib.sha256(item.data).hexdigest()
        old = prior.get(name) if prior is not None else None
        history = _history(sha, item.data, old, out, cache, settings.versions)
        match = match_pattern(out_logical, config.name_pattern)
        dest = _DESTINATIONS.get(split_name(out_logical)[2].lower(), ())
        candidates.append(_Candidate(name, item, sha, match, dest, history))

    found: dict[tuple[str, str], bytes] = {}
    todo: list[tuple[tuple[str, str], str]] = []
    jobs: list[tuple[bytes, bytes, int]] = []
    for cand in candidates:
        for digest in cand.history:
            key = cache_key("dcz", str(settings.zstd_level), digest, cand.item.data)
            cached = cache.get_encoded(key)
            if cached is not None and "dcz" in cached:
                found[(cand.name, digest)] = cached["dcz"]
                emitter.stats.deltas_cached += 1
                continue
            dictionary = _old_bytes(digest, cache, out, prior, cand.name)
            if dictionary is not None:
                todo.append(((cand.name, digest), key))
                jobs.append((dictionary, cand.item.data, settings.zstd_level))
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
            history=cand.history,
            deltas=deltas,
        )
    return infos

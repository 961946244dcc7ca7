"""The build manifest: the one contract between the asset build and the runtime.

Standard library only (and ``asset_pipeline.errors``, itself standard library only), because
the runtime (``perf_middleware``) reads it and must not depend on the build-side libraries.
Everything that writes or reads ``manifest.json`` goes through these types, so the schema is
defined exactly once.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from asset_pipeline.errors import ManifestError as ManifestError  # part of the contract

MANIFEST_NAME = "manifest.json"
#: Logical name of the service-worker registration script the build writes (a file, so
#: pages under a Content-Security-Policy without inline scripts can load it).
SW_REGISTER_NAME = "sw-register.js"
SCHEMA_VERSION = 1

#: File suffix of each precompressed sibling.
ENCODING_SUFFIX = {"zstd": ".zst", "br": ".br", "gzip": ".gz"}
#: Dictionary-compressed codings (RFC 9842) a build may write as deltas, and their suffix.
DELTA_SUFFIX = {"dcz": ".dcz"}
#: RFC 9842 section 5: a ``dcz`` body starts with a zstd skippable frame (magic 0x184D2A5E)
#: announcing 32 bytes, which are the SHA-256 of the dictionary; the compressed frame
#: follows. The build writes such deltas and the runtime writes such responses.
DCZ_MAGIC = b"\x5e\x2a\x4d\x18\x20\x00\x00\x00"


#: Characters with a meaning in URL Pattern syntax; a literal one is escaped with ``\\``.
_URLPATTERN_SPECIAL = frozenset("*:(){}?+\\")


def urlpattern_literal(path: str) -> str:
    """``path`` as a URL Pattern that matches exactly it: percent-encoded the way the
    request URL will be (RFC 9842 section 2.1.1 matches the encoded path), with every
    pattern metacharacter escaped."""
    encoded = quote(path, safe="/!$&'()*+,;=:@-._~")
    return "".join("\\" + ch if ch in _URLPATTERN_SPECIAL else ch for ch in encoded)


@dataclass(frozen=True, slots=True)
class EncodedVariant:
    """A precompressed sibling of an output file (``app.3f2a1b9c0d.css.br``)."""

    path: str
    size: int


@dataclass(frozen=True, slots=True)
class ImageAlternate:
    """Another rendition of an image: a modern format and/or a responsive width."""

    format: str  # "avif", "webp", "png", "jpeg", "gif"
    content_type: str
    path: str
    size: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class DictionaryInfo:
    """Compression Dictionary Transport (RFC 9842) data of one output file.

    ``match`` is the URL Pattern (RFC 9842 section 2.1.1) of this file's versions,
    relative to the URL prefix the build is served under (``js/app.*.js``): the server
    puts its prefix in front. ``history`` lists the SHA-256 (hex) of the previous versions,
    newest first, and ``history_paths`` where each of them was published (relative to the
    build directory, so to the upload prefix too): a later build that starts from an empty
    DIST and cache fetches them from the bucket. ``deltas`` maps such a SHA-256 to this
    file compressed against that version, by coding (``dcz``).
    """

    sha256: str
    match: str
    match_dest: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    deltas: Mapping[str, Mapping[str, EncodedVariant]] = field(default_factory=dict)
    history_paths: Mapping[str, str] = field(default_factory=dict)

    def path_of(self, digest: str, path: str) -> str | None:
        """Where the version ``digest`` was published; ``path`` is this version's own."""
        return path if digest == self.sha256 else self.history_paths.get(digest)

    def match_under(self, prefix: str) -> str:
        """The absolute ``match`` for files served under the URL path ``prefix``."""
        return urlpattern_literal(prefix.rstrip("/") + "/") + self.match

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "match": self.match,
            "match_dest": list(self.match_dest),
            "history": list(self.history),
            "history_paths": dict(self.history_paths),
            "deltas": {
                digest: {c: {"path": v.path, "size": v.size} for c, v in codings.items()}
                for digest, codings in self.deltas.items()
            },
        }


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One logical source file and what the build made of it.

    ``path`` is relative to the build directory and uses ``/``; ``dependencies`` are
    logical names of the files this one references (for preload hints), leaves first.
    ``module`` marks JavaScript the build treated as an ES module (it imports, is
    imported, or is ``.mjs``): a classic ``<script>`` cannot run it, so the template
    helpers emit ``type="module"`` and ``modulepreload`` for it.
    """

    path: str
    size: int
    content_type: str
    hash: str  # full blake3 hex digest of the output bytes
    integrity: str  # SRI, "sha384-<base64>"
    fingerprinted: bool
    encodings: Mapping[str, EncodedVariant] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    alternates: tuple[ImageAlternate, ...] = ()
    width: int | None = None
    height: int | None = None
    unicode_range: str | None = None
    dictionary: DictionaryInfo | None = None
    module: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "size": self.size,
            "content_type": self.content_type,
            "hash": self.hash,
            "integrity": self.integrity,
            "fingerprinted": self.fingerprinted,
            "encodings": {
                name: {"path": v.path, "size": v.size} for name, v in self.encodings.items()
            },
            "dependencies": list(self.dependencies),
        }
        if self.alternates:
            data["alternates"] = [
                {
                    "format": a.format,
                    "content_type": a.content_type,
                    "path": a.path,
                    "size": a.size,
                    "width": a.width,
                    "height": a.height,
                }
                for a in self.alternates
            ]
        if self.width is not None:
            data["width"] = self.width
        if self.height is not None:
            data["height"] = self.height
        if self.unicode_range is not None:
            data["unicode_range"] = self.unicode_range
        if self.dictionary is not None:
            data["dictionary"] = self.dictionary.to_dict()
        if self.module:
            data["module"] = True
        return data


@dataclass(frozen=True, slots=True)
class Manifest:
    """All entries of one build, keyed by logical name (``css/app.css``)."""

    files: Mapping[str, ManifestEntry]
    build_id: str = ""
    url_prefix: str = "/static/"
    generator: str = "asset-pipeline"
    version: int = SCHEMA_VERSION

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, logical_name: str) -> ManifestEntry:
        return self.files[logical_name]

    def get(self, logical_name: str) -> ManifestEntry | None:
        return self.files.get(logical_name)

    def output_paths(self) -> set[str]:
        """Every file path in the build directory the manifest refers to."""
        paths: set[str] = set()
        for entry in self.files.values():
            paths.add(entry.path)
            paths.update(v.path for v in entry.encodings.values())
            paths.update(a.path for a in entry.alternates)
            if entry.dictionary is not None:
                for codings in entry.dictionary.deltas.values():
                    paths.update(v.path for v in codings.values())
        return paths

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "generator": self.generator,
            "build_id": self.build_id,
            "url_prefix": self.url_prefix,
            "files": {name: self.files[name].to_dict() for name in sorted(self.files)},
        }

    def to_json(self) -> str:
        """The manifest as JSON text, one file entry per line.

        A reviewer can still read and diff it line by line, while each entry is encoded
        by ``json``'s C encoder: asking for ``indent`` makes the standard library fall back
        to its pure-Python encoder, which a manifest of thousands of entries waits on.
        """
        data = self.to_dict()
        files = data.pop("files")
        lines = [f"  {json.dumps(key)}: {json.dumps(value)}," for key, value in data.items()]
        entries = [f"    {json.dumps(name)}: {json.dumps(entry)}" for name, entry in files.items()]
        body = "{\n" + ",\n".join(entries) + "\n  }" if entries else "{}"
        return "{\n" + "\n".join(lines) + f'\n  "files": {body}\n}}\n'

    def django_staticfiles(self) -> dict[str, Any]:
        """The shape Django's ManifestStaticFilesStorage reads (``staticfiles.json``)."""
        return {
            "paths": {name: e.path for name, e in sorted(self.files.items())},
            "version": "1.1",
            "hash": self.build_id,
        }

    def vite_manifest(self) -> dict[str, Any]:
        """The shape of Vite's ``.vite/manifest.json``, for integrations that read it."""
        out: dict[str, Any] = {}
        for name, e in sorted(self.files.items()):
            item: dict[str, Any] = {"file": e.path, "src": name}
            css = [d for d in e.dependencies if d.endswith(".css")]
            imports = [d for d in e.dependencies if d.endswith((".js", ".mjs"))]
            if css:
                item["css"] = [self.files[d].path for d in css if d in self.files]
            if imports:
                item["imports"] = imports
            out[name] = item
        return out


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ManifestError(f"{where}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"{where}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _optional_int(data: Mapping[str, Any], key: str, where: str) -> int | None:
    if data.get(key) is None:
        return None
    return int(_require(data, key, int, where))


def entry_from_dict(name: str, data: Any) -> ManifestEntry:
    where = f"manifest entry {name!r}"
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected an object")
    encodings_raw = data.get("encodings") or {}
    if not isinstance(encodings_raw, dict):
        raise ManifestError(f"{where}: 'encodings' must be an object")
    encodings = {
        str(coding): EncodedVariant(
            path=_require(v, "path", str, f"{where} encoding {coding}"),
            size=_require(v, "size", int, f"{where} encoding {coding}"),
        )
        for coding, v in encodings_raw.items()
        if isinstance(v, dict)
    }
    alternates_raw = data.get("alternates") or []
    if not isinstance(alternates_raw, list):
        raise ManifestError(f"{where}: 'alternates' must be a list")
    alternates = []
    for i, a in enumerate(alternates_raw):
        w = f"{where} alternate {i}"
        if not isinstance(a, dict):
            raise ManifestError(f"{w}: expected an object")
        alternates.append(
            ImageAlternate(
                format=_require(a, "format", str, w),
                content_type=_require(a, "content_type", str, w),
                path=_require(a, "path", str, w),
                size=_require(a, "size", int, w),
                width=_require(a, "width", int, w),
                height=_require(a, "height", int, w),
            )
        )
    deps = data.get("dependencies") or []
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ManifestError(f"{where}: 'dependencies' must be a list of names")
    unicode_range = data.get("unicode_range")
    dictionary = data.get("dictionary")
    module = data.get("module", False)
    if not isinstance(module, bool):
        raise ManifestError(f"{where}: field 'module' has the wrong type ({type(module).__name__})")
    return ManifestEntry(
        path=_require(data, "path", str, where),
        size=_require(data, "size", int, where),
        content_type=_require(data, "content_type", str, where),
        hash=_require(data, "hash", str, where),
        integrity=_require(data, "integrity", str, where),
        fingerprinted=_require(data, "fingerprinted", bool, where),
        encodings=encodings,
        dependencies=tuple(deps),
        alternates=tuple(alternates),
        width=_optional_int(data, "width", where),
        height=_optional_int(data, "height", where),
        unicode_range=unicode_range if isinstance(unicode_range, str) else None,
        dictionary=None if dictionary is None else _dictionary(dictionary, where),
        module=module,
    )


def _str_tuple(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{where}: {key!r} must be a list of strings")
    return tuple(value)


def _dictionary(data: Any, where: str) -> DictionaryInfo:
    where = f"{where} dictionary"
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected an object")
    deltas_raw = data.get("deltas") or {}
    if not isinstance(deltas_raw, dict) or not all(
        isinstance(v, dict) for v in deltas_raw.values()
    ):
        raise ManifestError(f"{where}: 'deltas' must map a SHA-256 to an object of codings")
    deltas = {
        str(digest): {
            str(coding): EncodedVariant(
                path=_require(v, "path", str, f"{where} delta {digest} {coding}"),
                size=_require(v, "size", int, f"{where} delta {digest} {coding}"),
            )
            for coding, v in codings.items()
            if isinstance(v, dict)
        }
        for digest, codings in deltas_raw.items()
    }
    return DictionaryInfo(
        sha256=_require(data, "sha256", str, where),
        match=_require(data, "match", str, where),
        match_dest=_str_tuple(data, "match_dest", where),
        history=_str_tuple(data, "history", where),
        deltas=deltas,
        history_paths=_str_map(data, "history_paths", where),
    )


def _str_map(data: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = data.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ManifestError(f"{where}: {key!r} must map strings to strings")
    return {str(k): v for k, v in value.items()}


def manifest_from_dict(data: Any) -> Manifest:
    if not isinstance(data, dict):
        raise ManifestError("manifest: expected a JSON object at the top level")
    version = data.get("version")
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"manifest: schema version {version!r} is not supported (expected {SCHEMA_VERSION}). "
            "HINT: rebuild the assets with this version of asset-pipeline."
        )
    files_raw = _require(data, "files", dict, "manifest")
    files = {str(name): entry_from_dict(str(name), e) for name, e in files_raw.items()}
    return Manifest(
        files=files,
        build_id=str(data.get("build_id", "")),
        url_prefix=str(data.get("url_prefix", "/static/")),
        generator=str(data.get("generator", "asset-pipeline")),
        version=SCHEMA_VERSION,
    )


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read ``manifest.json`` (or a build directory containing one)."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            f"{p}: no manifest. HINT: run `asset-pipeline build SRC --out DIR` first."
        ) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{p}: not valid JSON ({exc})") from None
    return manifest_from_dict(data)


def write_manifest(manifest: Manifest, directory: str | os.PathLike[str]) -> Path:
    """Write ``manifest.json`` atomically (temp file + rename) into ``directory``."""
    target = Path(directory) / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(manifest.to_json())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the manifest is served and read by others
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target

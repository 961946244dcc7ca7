"""The precomputed file table behind ``StaticAssets``: built once, looked up per request.

Every representation a URL can answer with (identity, each precompressed sibling, each
same-size image alternate) gets its final 200 and 304 header lists, its validator and, when
small, its bytes, at start-up. Serving is then a dict lookup plus a few comparisons.

Paths from the manifest are data, not trusted: each must be a plain relative path that
resolves (after symlinks) inside the build directory to a regular file, or it is skipped
with a warning, so a tampered manifest or a symlink in the build cannot expose other files.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from asset_pipeline.manifest import ENCODING_SUFFIX, ManifestEntry, load_manifest
from perf_middleware.http.dates import format_http_date
from perf_middleware.http.etag import make_etag

logger = logging.getLogger("perf_middleware.static")

RawHeaders = list[tuple[bytes, bytes]]

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

_TEXT_LIKE = (
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "application/xml",
    "image/svg+xml",
)
_EXTRA_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".avif": "image/avif",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".wasm": "application/wasm",
}
_SUFFIX_CODING = {suffix: coding for coding, suffix in ENCODING_SUFFIX.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticConfig:
    """Options of ``StaticAssets`` (every one keyword-only, defaults documented inline)."""

    #: URL prefix the files live under; ``prefix + "/" + manifest path`` is a file's URL.
    prefix: str = "/static"
    #: Also answer ``/static/css/app.css`` (the logical, un-fingerprinted name), with no-cache.
    serve_logical_names: bool = False
    #: Serve every regular file in the directory, not only those in the manifest (no-cache).
    serve_unlisted: bool = False
    #: Files outside the manifest served anyway when present (revalidated on every use).
    extra_files: tuple[str, ...] = ("manifest.json", "sw.js")
    #: Path of the service worker script; it is never cached as immutable.
    service_worker: str | None = "sw.js"
    #: ``Service-Worker-Allowed`` value for the service worker (e.g. ``"/"``), or None.
    service_worker_allowed: str | None = None
    #: Answer image URLs with a smaller AVIF/WebP alternate when the client names the format.
    image_negotiation: bool = True
    #: ``Access-Control-Allow-Origin`` on every file (fonts/SRI from another origin), or None.
    allow_origin: str | None = None
    #: Representations up to this size are kept in memory; larger ones are read from disk.
    max_memory_file_size: int = 2 * 2**20
    #: Total bytes kept in memory; files past the budget are read from disk.
    memory_budget: int = 256 * 2**20
    #: Read size for files served from disk.
    chunk_size: int = 2**20
    #: Cache-Control for fingerprinted files and for everything else.
    immutable_cache_control: str = IMMUTABLE
    revalidate_cache_control: str = REVALIDATE
    #: Re-read the manifest when it changes on disk (development only: one stat per request).
    autorefresh: bool = False


@dataclass(slots=True)
class Representation:
    """One concrete response body for a URL, with everything needed to send it."""

    path: str  # absolute filesystem path
    size: int
    etag: str
    etag_bytes: bytes
    last_modified: int
    coding: str  # "identity" or a content coding
    headers: RawHeaders  # full 200 header list
    not_modified_headers: RawHeaders
    body: bytes | None = None


@dataclass(slots=True)
class StaticFile:
    """A URL: its identity representation, precompressed ones and image alternates."""

    identity: Representation
    media_type: str
    #: codings in increasing size order (the order ``choose_encoding`` prefers them)
    codings: tuple[str, ...] = ()
    encoded: dict[str, Representation] = field(default_factory=dict)
    #: ``(media_type, size)`` of negotiable image alternates, and their representations
    image_candidates: tuple[tuple[str, int], ...] = ()
    images: dict[str, Representation] = field(default_factory=dict)


def guess_type(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    return _EXTRA_TYPES.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def content_type_header(media_type: str) -> str:
    """Text types get ``charset=utf-8`` (the pipeline writes UTF-8) unless one is given."""
    base = media_type.split(";", 1)[0].strip().lower()
    if "charset=" in media_type.lower():
        return media_type
    if base.startswith("text/") or base in _TEXT_LIKE:
        return f"{media_type}; charset=utf-8"
    return media_type


def safe_relative_path(path: str) -> bool:
    """A plain ``a/b.css`` path: no empty/dot segments, backslashes, NUL or absolute forms."""
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return False
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return False
    return ":" not in parts[0]  # no "C:" drive or scheme-like first segment


class _Budget:
    __slots__ = ("left",)

    def __init__(self, total: int) -> None:
        self.left = total


class TableBuilder:
    """Builds the URL -> StaticFile table for one build directory and config."""

    def __init__(self, directory: str | os.PathLike[str], config: StaticConfig) -> None:
        self.root = os.path.realpath(directory)
        self.config = config
        self.budget = _Budget(config.memory_budget)
        # real path -> (bytes or None, computed etag): a file reached through two URLs
        # (an image alternate, a logical name) is read, hashed and held in memory once
        self._loaded: dict[str, tuple[bytes | None, str | None]] = {}

    def resolve(self, relative: str) -> str | None:
        """Absolute path of a file inside the root, or None (with a warning) if unsafe."""
        if not safe_relative_path(relative):
            logger.warning("static file skipped reason=unsafe-path path=%r", relative)
            return None
        real = os.path.realpath(os.path.join(self.root, relative))
        if not real.startswith(self.root + os.sep):
            logger.warning("static file skipped reason=outside-directory path=%r", relative)
            return None
        if not os.path.isfile(real):
            logger.warning("static file skipped reason=missing path=%r", relative)
            return None
        return real

    def representation(
        self,
        real: str,
        *,
        media_type: str,
        coding: str,
        etag: str | None,
        cache_control: str,
        vary: str | None,
        extra: RawHeaders,
    ) -> Representation:
        st = os.stat(real)
        if real in self._loaded:
            body, known = self._loaded[real]
        else:
            body, known = None, None
            if st.st_size <= self.config.max_memory_file_size and st.st_size <= self.budget.left:
                body = Path(real).read_bytes()
                self.budget.left -= len(body)
        if etag is None:
            etag = known or make_etag(body if body is not None else Path(real).read_bytes())
            known = etag
        self._loaded[real] = (body, known)
        last_modified = int(st.st_mtime)
        validators: RawHeaders = [
            (b"etag", etag.encode("latin-1")),
            (b"last-modified", format_http_date(last_modified).encode("latin-1")),
            (b"cache-control", cache_control.encode("latin-1")),
        ]
        if vary:
            validators.append((b"vary", vary.encode("latin-1")))
        headers: RawHeaders = [
            (b"content-type", content_type_header(media_type).encode("latin-1")),
            (b"content-length", str(st.st_size).encode("latin-1")),
            *validators,
            (b"accept-ranges", b"bytes"),
            (b"x-content-type-options", b"nosniff"),
        ]
        if coding != "identity":
            headers.append((b"content-encoding", coding.encode("latin-1")))
        if self.config.allow_origin:
            headers.append((b"access-control-allow-origin", self.config.allow_origin.encode()))
        headers.extend(extra)
        return Representation(
            path=real,
            size=st.st_size,
            etag=etag,
            etag_bytes=etag.encode("latin-1"),
            last_modified=last_modified,
            coding=coding,
            headers=headers,
            not_modified_headers=[*validators, *extra],
            body=body,
        )

    def static_file(
        self,
        real: str,
        *,
        url_path: str,
        media_type: str,
        etag: str | None,
        immutable: bool,
        encodings: Mapping[str, str],
        alternates: list[tuple[str, str]],
    ) -> StaticFile:
        """``encodings``: coding -> real path; ``alternates``: (media type, real path)."""
        config = self.config
        is_worker = config.service_worker is not None and url_path == config.service_worker
        cache_control = (
            config.immutable_cache_control
            if immutable and not is_worker
            else config.revalidate_cache_control
        )
        extra: RawHeaders = []
        if is_worker and config.service_worker_allowed:
            extra.append((b"service-worker-allowed", config.service_worker_allowed.encode()))
        vary_fields = ["Accept-Encoding"] if encodings else []
        if alternates:
            vary_fields.append("Accept")
        vary = ", ".join(vary_fields) or None

        def rep(path: str, mtype: str, coding: str, tag: str | None) -> Representation:
            return self.representation(
                path,
                media_type=mtype,
                coding=coding,
                etag=tag,
                cache_control=cache_control,
                vary=vary,
                extra=extra,
            )

        identity = rep(real, media_type, "identity", etag)
        opaque = identity.etag.strip('"').removeprefix("W/").strip('"')
        encoded = {
            coding: rep(path, media_type, coding, f'"{opaque}-{coding}"')
            for coding, path in encodings.items()
        }
        images = {mtype: rep(path, mtype, "identity", None) for mtype, path in alternates}
        return StaticFile(
            identity=identity,
            media_type=media_type,
            codings=tuple(sorted(encoded, key=lambda c: encoded[c].size)),
            encoded=encoded,
            image_candidates=tuple((m, r.size) for m, r in images.items()),
            images=images,
        )

    def entry_files(self, entry: ManifestEntry) -> StaticFile | None:
        real = self.resolve(entry.path)
        if real is None:
            return None
        encodings: dict[str, str] = {}
        for coding, variant in entry.encodings.items():
            path = self.resolve(variant.path)
            if path is not None and coding in ENCODING_SUFFIX:
                encodings[coding] = path
        alternates: list[tuple[str, str]] = []
        if self.config.image_negotiation and entry.alternates:
            for alt in entry.alternates:
                same_size = entry.width is None or (
                    alt.width == entry.width and alt.height == entry.height
                )
                if not same_size or alt.content_type == entry.content_type:
                    continue
                path = self.resolve(alt.path)
                if path is not None and alt.size < entry.size:
                    alternates.append((alt.content_type, path))
        return self.static_file(
            real,
            url_path=entry.path,
            media_type=entry.content_type,
            etag=f'"{entry.hash[:32]}"' if entry.hash else None,
            immutable=entry.fingerprinted,
            encodings=encodings,
            alternates=alternates,
        )

    def alternate_file(self, entry: ManifestEntry, index: int) -> StaticFile | None:
        """An image alternate at its own URL (what ``<picture>`` srcsets point to)."""
        alt = entry.alternates[index]
        real = self.resolve(alt.path)
        if real is None:
            return None
        return self.static_file(
            real,
            url_path=alt.path,
            media_type=alt.content_type,
            etag=None,
            immutable=entry.fingerprinted,
            encodings={},
            alternates=[],
        )

    def plain_file(self, relative: str) -> StaticFile | None:
        """A file outside the manifest: identity plus any ``.br``/``.zst``/``.gz`` sibling."""
        real = self.resolve(relative)
        if real is None:
            return None
        encodings = {
            coding: real + suffix
            for coding, suffix in ENCODING_SUFFIX.items()
            if os.path.isfile(real + suffix)
            and os.path.realpath(real + suffix).startswith(self.root + os.sep)
        }
        return self.static_file(
            real,
            url_path=relative,
            media_type=guess_type(relative),
            etag=None,
            immutable=False,
            encodings=encodings,
            alternates=[],
        )

    def walk(self) -> Iterator[str]:
        """Relative paths of regular files under the root, never following directory links."""
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
                yield rel


def build_table(directory: str | os.PathLike[str], config: StaticConfig) -> dict[str, StaticFile]:
    """URL path below the prefix (``css/app.3f2a1b9c0d.css``) -> StaticFile."""
    manifest = load_manifest(directory)
    builder = TableBuilder(directory, config)
    table: dict[str, StaticFile] = {}
    for logical, entry in manifest.files.items():
        static = builder.entry_files(entry)
        if static is None:
            continue
        table[entry.path] = static
        for index, alt in enumerate(entry.alternates):
            if alt.path not in table:
                alt_file = builder.alternate_file(entry, index)
                if alt_file is not None:
                    table[alt.path] = alt_file
        if config.serve_logical_names and logical != entry.path and safe_relative_path(logical):
            # same bytes and validators, but the URL is not content-addressed: revalidate
            again = builder.entry_files(replace(entry, fingerprinted=False))
            if again is not None:
                table.setdefault(logical, again)
    listed = manifest.output_paths()
    extras = list(config.extra_files)
    if config.serve_unlisted:
        for rel in builder.walk():
            base, suffix = os.path.splitext(rel)
            if suffix in _SUFFIX_CODING and os.path.isfile(os.path.join(builder.root, base)):
                continue  # a precompressed sibling, served through its base file
            extras.append(rel)
    for rel in extras:
        if rel in table or rel in listed or not os.path.isfile(os.path.join(builder.root, rel)):
            continue
        static = builder.plain_file(rel)
        if static is not None:
            table[rel] = static
    logger.info(
        "static table built files=%d in_memory_bytes=%d directory=%s",
        len(table),
        config.memory_budget - builder.budget.left,
        builder.root,
    )
    return table

"""The precomputed representations behind ``StaticAssets``: built once, sent as they are.

Every representation a URL can answer with (identity, each precompressed sibling, each
same-size image alternate) gets its final 200 and 304 header lists, its validator and, when
small, its bytes, at start-up. Serving is then a dict lookup plus a few comparisons.

Paths from the manifest are data, not trusted: each must be a plain relative path that
resolves (after symlinks) inside the build directory to a regular file, or it is skipped
with a warning, so a tampered manifest or a symlink in the build cannot expose other files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from asset_pipeline.media_types import with_charset
from perf_middleware.http.dates import format_http_date
from perf_middleware.http.etag import make_etag
from perf_middleware.static.config import StaticConfig, safe_relative_path
from perf_middleware.types import MutableRawHeaders

logger = logging.getLogger("perf_middleware.static")


@dataclass(slots=True)
class Representation:
    """One concrete response body for a URL, with everything needed to send it."""

    path: str  # absolute filesystem path
    size: int
    etag: str
    etag_bytes: bytes
    last_modified: int
    coding: str  # "identity" or a content coding
    headers: MutableRawHeaders  # full 200 header list
    not_modified_headers: MutableRawHeaders
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
    #: RFC 9842 deltas: SHA-256 of the dictionary (an earlier version) -> representation
    deltas: dict[bytes, Representation] = field(default_factory=dict)


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
        extra: MutableRawHeaders,
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
        validators: MutableRawHeaders = [
            (b"etag", etag.encode("latin-1")),
            (b"last-modified", format_http_date(last_modified).encode("latin-1")),
            (b"cache-control", cache_control.encode("latin-1")),
        ]
        if vary:
            validators.append((b"vary", vary.encode("latin-1")))
        headers: MutableRawHeaders = [
            (b"content-type", with_charset(media_type).encode("latin-1")),
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
        use_as_dictionary: str | None = None,
        deltas: Mapping[bytes, tuple[str, str]] | None = None,
    ) -> StaticFile:
        """``encodings``: coding -> real path; ``alternates``: (media type, real path);
        ``use_as_dictionary``: that header's value; ``deltas``: dictionary SHA-256 ->
        (coding, real path) of the file compressed against that dictionary."""
        config = self.config
        is_worker = config.service_worker is not None and url_path == config.service_worker
        cache_control = (
            config.immutable_cache_control
            if immutable and not is_worker
            else config.revalidate_cache_control
        )
        extra: MutableRawHeaders = []
        if is_worker and config.service_worker_allowed:
            extra.append((b"service-worker-allowed", config.service_worker_allowed.encode()))
        if use_as_dictionary:
            extra.append((b"use-as-dictionary", use_as_dictionary.encode("ascii")))
        vary_fields = ["Accept-Encoding"] if encodings or deltas else []
        if deltas:  # RFC 9842 section 6.2: the body depends on the dictionary offered
            vary_fields.append("Available-Dictionary")
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
        delta_reps = {
            digest: rep(path, media_type, coding, f'"{opaque}-{coding}-{digest[:6].hex()}"')
            for digest, (coding, path) in (deltas or {}).items()
        }
        return StaticFile(
            identity=identity,
            media_type=media_type,
            codings=tuple(sorted(encoded, key=lambda c: encoded[c].size)),
            encoded=encoded,
            image_candidates=tuple((m, r.size) for m, r in images.items()),
            images=images,
            deltas=delta_reps,
        )

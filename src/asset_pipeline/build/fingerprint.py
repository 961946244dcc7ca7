"""Content-hashed file names, so an output can be cached forever and still change.

The hash is taken over the final bytes (after references were rewritten), which is why
a changed image renames every stylesheet that points to it.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from functools import lru_cache

from blake3 import blake3


def content_hash(data: bytes) -> str:
    """Full blake3 hex digest (stored in the manifest; the name uses a prefix)."""
    digest: str = blake3(data).hexdigest()
    return digest


def integrity(data: bytes) -> str:
    """Subresource Integrity value (``sha384-…``) for ``<script integrity>``/``<link>``."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def split_name(logical_name: str) -> tuple[str, str, str]:
    """``css/app.min.css`` -> ``("css/", "app.min", ".css")``; dotfiles have no extension."""
    directory, base = posixpath.split(logical_name)
    stem, ext = posixpath.splitext(base)
    return (directory + "/" if directory else ""), stem, ext


def with_suffix(logical_name: str, suffix: str | None) -> str:
    """Replace the extension (``fonts/a.ttf`` + ``.woff2`` -> ``fonts/a.woff2``)."""
    if not suffix:
        return logical_name
    directory, stem, _ = split_name(logical_name)
    return directory + stem + suffix


def hashed_name(
    name: str, digest: str, *, pattern: str = "{name}.{hash}{ext}", length: int = 10
) -> str:
    """Insert the first ``length`` hex digits of ``digest`` into ``name`` per ``pattern``.

    ``pattern`` fields: ``{name}`` (stem), ``{hash}``, ``{ext}`` (with its dot). The
    directory is kept, so relative references between files stay valid.
    """
    directory, stem, ext = split_name(name)
    return directory + pattern.format(name=stem, hash=digest[:length], ext=ext)


@lru_cache(maxsize=16)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def has_bundler_hash(logical_name: str, pattern: str | None) -> bool:
    """True when a bundler already put a content hash in the name (``index-BfT4x2aQ.js``);
    such files keep their name (renaming would break the bundler's own references)."""
    if not pattern:
        return False
    return _compile(pattern).search(posixpath.basename(logical_name)) is not None

"""Content types for build outputs, independent of the host's ``/etc/mime.types``.

Python's ``mimetypes`` reads system files, so the same build could record different
types on different machines; web-asset types are pinned here, the rest falls back.
"""

from __future__ import annotations

import mimetypes
import posixpath

_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".map": "application/json",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
}
_TEXT_APPLICATIONS = {
    "application/json",
    "application/manifest+json",
    "application/xml",
    "application/javascript",
    "image/svg+xml",
}


def content_type(name: str) -> str:
    """Media type for ``name``, with ``; charset=utf-8`` on text types."""
    ext = posixpath.splitext(name)[1].lower()
    media = _TYPES.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return with_charset(media)


def with_charset(media: str) -> str:
    if "charset=" in media:
        return media
    if media.startswith("text/") or media in _TEXT_APPLICATIONS:
        return media + "; charset=utf-8"
    return media

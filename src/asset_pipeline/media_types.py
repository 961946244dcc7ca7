"""The one media-type table: the build records it in the manifest, the upload sends it as
Content-Type, and static serving can answer with it, so a file has the same type
everywhere and on every machine.

Python's ``mimetypes`` reads system files (``/etc/mime.types``), so the same build could
record different types on different hosts; web-asset types are pinned here and only the
rest falls back to it. Standard library only: the runtime imports this module.
"""

from __future__ import annotations

import mimetypes
import posixpath

_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",  # RFC 9239: text/javascript for every JavaScript flavour
    ".mjs": "text/javascript",
    ".cjs": "text/javascript",
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
#: Types outside ``text/*`` that are text, so they need a charset or browsers sniff one.
_TEXT_APPLICATIONS = {
    "application/json",
    "application/manifest+json",
    "application/xml",
    "application/javascript",
    "image/svg+xml",
}


def guess_type(name: str) -> str:
    """The bare media type of ``name`` (no parameters): the pinned table, then
    ``mimetypes``, then ``application/octet-stream``."""
    ext = posixpath.splitext(name)[1].lower()
    if ext in _TYPES:
        return _TYPES[ext]
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


def with_charset(media: str, charset: str = "utf-8") -> str:
    """``media`` with ``; charset=...`` when it is text and names no charset yet (media
    types and parameter names are case-insensitive, RFC 9110 §8.3.1)."""
    if "charset=" in media.lower():
        return media
    base = media.split(";", 1)[0].strip().lower()
    if base.startswith("text/") or base in _TEXT_APPLICATIONS:
        return f"{media}; charset={charset}"
    return media


def content_type(name: str) -> str:
    """The Content-Type for ``name``: its media type, with ``; charset=utf-8`` on text."""
    return with_charset(guess_type(name))

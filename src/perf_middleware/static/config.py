"""Options of ``StaticAssets`` and the per-file rules decided from them at start-up: cache
lifetimes and which relative paths are safe. Media types come from the build's own table
(``asset_pipeline.media_types``), so a file is served with the type the build recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from perf_middleware.http.cache_control import IMMUTABLE
from perf_middleware.options import checked

REVALIDATE = "no-cache"


@checked()
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
    #: When the server offers ``http.response.pathsend`` (granian), representations at least
    #: this big are handed to it even if held in memory: it streams them without copying
    #: the bytes through Python. Smaller ones are cheaper as one in-memory body.
    pathsend_min_size: int = 256 * 2**10
    #: Read size for files served from disk.
    chunk_size: int = 2**20
    #: Cache-Control for fingerprinted files and for everything else.
    immutable_cache_control: str = IMMUTABLE
    revalidate_cache_control: str = REVALIDATE
    #: Re-read the manifest when it changes on disk (development only: one stat per request).
    autorefresh: bool = False
    #: Serve the directory as an unbuilt source tree (no manifest): every file revalidated,
    #: never immutable, templates get plain names. Needs ``PERF_MIDDLEWARE_DEVELOPMENT=1`` in
    #: the environment too; without it the option is ignored with a warning.
    development: bool = False


def safe_relative_path(path: str) -> bool:
    """A plain ``a/b.css`` path: no empty/dot segments, backslashes, NUL or absolute forms."""
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return False
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return False
    return ":" not in parts[0]  # no "C:" drive or scheme-like first segment

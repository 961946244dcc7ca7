"""Which URLs the service worker precaches, resolved against the build manifest.

Resolution happens at build time so that a name the build did not produce fails the
build with the URL named, instead of failing every user's worker install with a 404.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import logging
from dataclasses import dataclass
from urllib.parse import quote

from asset_pipeline.errors import AssetPipelineError
from asset_pipeline.manifest import Manifest, ManifestEntry
from asset_pipeline.sw.config import ServiceWorkerConfig

log = logging.getLogger("asset_pipeline.sw")
_GLOB_CHARS = frozenset("*?[")


class ServiceWorkerError(AssetPipelineError):
    """The worker cannot be generated for this build; the message names the URL or file."""


@dataclass(frozen=True, slots=True)
class PrecacheEntry:
    """One URL the worker downloads on install. ``revision`` is None for fingerprinted
    files (the hash in the name is the revision) and the content hash otherwise."""

    url: str
    path: str
    size: int
    revision: str | None
    integrity: str | None


def deployed_base(manifest: Manifest, config: ServiceWorkerConfig) -> str:
    base = config.base_url or manifest.url_prefix or "/"
    return base if base.endswith("/") else base + "/"


def url_for(base: str, path: str) -> str:
    return base + quote(path, safe="/-._~!$&'()*+,;=:@")


def _entry(manifest: Manifest, config: ServiceWorkerConfig, name: str) -> list[PrecacheEntry]:
    """The precache entries for one logical name (an image brings its alternates)."""
    e: ManifestEntry = manifest.files[name]
    base = deployed_base(manifest, config)
    revision = None if e.fingerprinted else e.hash[:16]
    sri = e.integrity if config.integrity and e.integrity else None
    out = [PrecacheEntry(url_for(base, e.path), e.path, e.size, revision, sri)]
    if config.image_alternates:
        for alt in e.alternates:
            alt_rev = None
            if not e.fingerprinted:
                seed = f"{e.hash}:{alt.path}:{alt.size}".encode()
                alt_rev = hashlib.sha256(seed).hexdigest()[:16]
            out.append(PrecacheEntry(url_for(base, alt.path), alt.path, alt.size, alt_rev, None))
    return out


def resolve_name(manifest: Manifest, config: ServiceWorkerConfig, wanted: str, what: str) -> str:
    """Map a logical name, output path or deployed URL to a logical name, or fail."""
    if wanted in manifest.files:
        return wanted
    base = deployed_base(manifest, config)
    for name, e in manifest.files.items():
        if wanted in (e.path, url_for(base, e.path)):
            return name
    url = wanted if wanted.startswith(("/", "http:", "https:")) else url_for(base, wanted)
    close = difflib.get_close_matches(wanted, list(manifest.files), n=3, cutoff=0.5)
    raise ServiceWorkerError(
        f"{what} {wanted!r} (URL {url}) is not in the build manifest ({len(manifest)} files), "
        "so installing the service worker would fail with a 404. Closest names: "
        f"{', '.join(repr(c) for c in close) or 'none'}. HINT: fix the name in "
        "[tool.asset-pipeline.service-worker] or add the file to the asset source directory."
    )


def offline_url(manifest: Manifest, config: ServiceWorkerConfig) -> str | None:
    if not config.offline_page:
        return None
    name = resolve_name(manifest, config, config.offline_page, "offline page")
    return url_for(deployed_base(manifest, config), manifest[name].path)


def plan_precache(
    manifest: Manifest, config: ServiceWorkerConfig
) -> tuple[tuple[PrecacheEntry, ...], tuple[str, ...]]:
    """Select what the worker precaches; returns (entries sorted by URL, skipped names)."""
    chosen: dict[str, str] = {}  # logical name -> why (for error messages)
    skipped: list[str] = []
    explicit = [p for p in config.precache if not _GLOB_CHARS & set(p)]
    if config.offline_page:
        explicit.append(config.offline_page)
    for wanted in explicit:
        what = "offline page" if wanted == config.offline_page else "precache entry"
        chosen[resolve_name(manifest, config, wanted, what)] = what
    globs = [p for p in config.precache if _GLOB_CHARS & set(p)]
    images = list(config.images)
    for name, e in sorted(manifest.files.items()):
        if name in chosen:
            continue
        candidates = (name, e.path)
        by_glob = any(fnmatch.fnmatchcase(c, g) for g in globs for c in candidates)
        is_image = e.content_type.startswith("image/")
        by_image = is_image and any(fnmatch.fnmatchcase(c, g) for g in images for c in candidates)
        if by_glob or by_image:
            chosen[name] = "glob"
    entries: dict[str, PrecacheEntry] = {}
    for name, why in chosen.items():
        for item in _entry(manifest, config, name):
            if item.size > config.max_file_size:
                if why != "glob" and item.path == manifest.files[name].path:
                    raise ServiceWorkerError(
                        f"{why} {item.url} is {item.size} bytes, over max_file_size "
                        f"({config.max_file_size}). HINT: raise max_file_size in "
                        "[tool.asset-pipeline.service-worker] or leave the file out."
                    )
                skipped.append(item.path)
                log.info("service worker precache skipped path=%s size=%d", item.path, item.size)
                continue
            entries[item.url] = item
    return tuple(entries[u] for u in sorted(entries)), tuple(sorted(skipped))


def precache_version(entries: tuple[PrecacheEntry, ...]) -> str:
    """A hash over (URL, revision) pairs: any changed file gives a new worker and cache."""
    digest = hashlib.sha256()
    for item in sorted(entries, key=lambda i: i.url):
        digest.update(f"{item.url}\n{item.revision or ''}\n".encode())
    return digest.hexdigest()[:16]

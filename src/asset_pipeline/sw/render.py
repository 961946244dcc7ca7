"""Generate ``sw.js`` from a build's manifest: precache list, runtime rules, offline page.

The worker is one self-contained script (``template.js`` with the configuration
inlined as JSON), so it has no imports that could fail to load offline; the only ones
are the ``import_scripts`` a project asks for, which the browser stores with the worker
when it installs (``importScripts`` during start-up). Every precache
URL is resolved against the manifest *here*, at build time: a name the build did not
produce is an error now instead of a 404 that makes every user's install fail later.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from asset_pipeline.manifest import Manifest
from asset_pipeline.sw.config import (
    RuntimeRule,
    ServiceWorkerConfig,
)
from asset_pipeline.sw.precache import (
    PrecacheEntry,
    ServiceWorkerError,
    deployed_base,
    offline_url,
    plan_precache,
    precache_version,
    resolve_name,
    url_for,
)

log = logging.getLogger(__name__)
PLACEHOLDER = "__SW_CONFIG__"
IMPORTS = "__SW_IMPORTS__"


@dataclass(frozen=True, slots=True)
class GeneratedWorker:
    source: str
    version: str
    precache: tuple[PrecacheEntry, ...]
    skipped: tuple[str, ...]  # glob matches left out because of max_file_size


def path_glob_to_regex(pattern: str) -> str:
    """Translate a path glob to a JavaScript regular expression anchored on the path."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch in "\\^$.|+()[]{}/":
            out.append("\\" + ch)
        else:
            out.append(ch)
        i += 1
    return "^" + "".join(out) + "$"


def _rule_json(rule: RuntimeRule) -> dict[str, Any]:
    pattern = None
    if rule.path is not None:
        pattern = path_glob_to_regex(rule.path)
    elif rule.url_regex is not None:
        pattern = rule.url_regex
    return {
        "name": rule.name,
        "strategy": rule.strategy,
        "navigate": rule.navigate,
        "pattern": pattern,
        "sameOrigin": rule.path is not None,
        "timeout": rule.network_timeout_seconds,
        "maxEntries": rule.max_entries,
        "maxAge": rule.max_age_seconds,
        "maxBytes": rule.max_bytes,
        "opaque": rule.cache_opaque,
        "maxOpaque": rule.max_opaque_entries if rule.cache_opaque else None,
        "include": [path_glob_to_regex(g) for g in rule.include],
        "exclude": [path_glob_to_regex(g) for g in rule.exclude],
        "contentTypes": list(rule.content_types) if rule.content_types is not None else None,
        "broadcast": rule.broadcast_update,
    }


def import_urls(manifest: Manifest, config: ServiceWorkerConfig) -> list[str]:
    """``import_scripts`` as URLs: absolute URLs and paths as written, logical names
    through the manifest (an unknown name fails the build)."""
    out = []
    for wanted in config.import_scripts:
        if wanted.startswith(("/", "http:", "https:")):
            out.append(wanted)
            continue
        name = resolve_name(manifest, config, wanted, "import_scripts entry")
        out.append(url_for(deployed_base(manifest, config), manifest[name].path))
    return out


def script_source(name: str, minify: bool) -> str:
    """A JavaScript file shipped with this package, minified when rjsmin is installed."""
    source = resources.files("asset_pipeline.sw").joinpath(name).read_text("utf-8")
    if minify:
        try:
            import rjsmin
        except ImportError:  # the "build" extra is not installed: ship it readable
            return source
        minified: str = rjsmin.jsmin(source, keep_bang_comments=True)
        return minified
    return source


def render_service_worker(manifest: Manifest, config: ServiceWorkerConfig) -> GeneratedWorker:
    """The worker's JavaScript source for this manifest (pure: no file system access)."""
    if config.retire:  # a no-op worker: nothing to precache or route
        config = dataclasses.replace(config, precache=(), images=(), offline_page=None, runtime=())
    entries, skipped = plan_precache(manifest, config)
    version = precache_version(entries)
    data = {
        "version": version,
        "prefix": config.cache_prefix,
        "precache": [
            {"url": e.url, "revision": e.revision, "integrity": e.integrity} for e in entries
        ],
        "offline": offline_url(manifest, config),
        "rules": [_rule_json(r) for r in config.runtime],
        "skipWaiting": config.skip_waiting,
        "clientsClaim": config.clients_claim,
        "navigationPreload": config.navigation_preload,
        "retire": config.retire,
        "base": deployed_base(manifest, config),
        "ignoreParams": list(config.ignore_url_parameters),
        "debug": config.debug,
    }
    config_js = json.dumps(data, separators=(",", ":"))
    imports = [] if config.retire else import_urls(manifest, config)
    call = f"importScripts({', '.join(json.dumps(u) for u in imports)})" if imports else ""
    source = script_source("template.js", config.minify).replace(PLACEHOLDER, config_js, 1)
    source = source.replace(IMPORTS, call, 1)
    return GeneratedWorker(source, version, entries, skipped)


def write_service_worker(
    manifest: Manifest, dist: str | os.PathLike[str], config: ServiceWorkerConfig
) -> GeneratedWorker:
    """Render and write ``DIST/<filename>`` atomically, after checking every precached
    file exists in ``dist`` (a stale manifest would otherwise 404 on install)."""
    root = Path(dist)
    worker = render_service_worker(manifest, config)
    for entry in worker.precache:
        if not (root / entry.path).is_file():
            raise ServiceWorkerError(
                f"precache URL {entry.url}: the manifest lists {entry.path!r} but "
                f"{root / entry.path} does not exist. HINT: rebuild the assets."
            )
    fd, tmp = tempfile.mkstemp(prefix=".sw.", suffix=".js", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(worker.source)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; web servers must read it
        os.replace(tmp, root / config.filename)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return worker

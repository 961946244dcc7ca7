"""Generate ``sw.js`` from a build's manifest: precache list, runtime rules, offline page.

The worker is one self-contained script (``template.js`` with the configuration
inlined as JSON), so it has no imports that could fail to load offline. Every precache
URL is resolved against the manifest *here*, at build time: a name the build did not
produce is an error now instead of a 404 that makes every user's install fail later.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import json
import logging
import os
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from asset_pipeline.config.model import BuildConfig
from asset_pipeline.manifest import Manifest, ManifestError, load_manifest
from asset_pipeline.sw.config import (
    RuntimeRule,
    ServiceWorkerConfig,
    ServiceWorkerConfigError,
    config_from_mapping,
)
from asset_pipeline.sw.precache import (
    PrecacheEntry,
    ServiceWorkerError,
    offline_url,
    plan_precache,
    precache_version,
)

log = logging.getLogger(__name__)
PLACEHOLDER = "__SW_CONFIG__"


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
        "opaque": rule.cache_opaque,
    }


def _script(name: str, minify: bool) -> str:
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
    }
    config_js = json.dumps(data, separators=(",", ":"))
    source = _script("template.js", config.minify).replace(PLACEHOLDER, config_js, 1)
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


def generate_for_build(
    manifest: Manifest, dist: str | os.PathLike[str], table: Any
) -> GeneratedWorker | None:
    """Hook for ``asset-pipeline build``: writes the worker when the config enables it."""
    config = config_from_mapping(table)
    return write_service_worker(manifest, dist, config) if config.enabled else None


def build_hook(manifest: Manifest, out_dir: Path, config: BuildConfig) -> None:
    """``after_manifest`` hook of ``asset-pipeline build``: writes the worker into the
    build's temp directory (so it is swapped in with the rest) when the config file the
    build read enables it. A precache problem fails the build, leaving DIST untouched."""
    from asset_pipeline.build.orchestrate import BuildError

    try:
        source = Path(config.source)
        table = _read_table(source) if source.suffix == ".toml" and source.is_file() else None
        worker = generate_for_build(manifest, out_dir, table)
    except (ServiceWorkerError, ServiceWorkerConfigError) as exc:
        raise BuildError([str(exc)]) from None
    if worker is not None:
        for path in worker.skipped:
            log.warning("service worker: not precaching %s (over max_file_size)", path)
        log.info("service worker written version=%s urls=%d", worker.version, len(worker.precache))


def _read_table(path: Path) -> Any:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ServiceWorkerConfigError(f"{path}: no such file. HINT: pass --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ServiceWorkerConfigError(f"{path}: invalid TOML ({exc})") from None
    tool = data.get("tool", {}).get("asset-pipeline")
    return (data if tool is None else tool).get("service-worker")


def load_config(pyproject: str | os.PathLike[str]) -> ServiceWorkerConfig:
    """The service-worker options of a pyproject.toml (or a top-level config file)."""
    return config_from_mapping(_read_table(Path(pyproject)))


def registration_snippet(
    *, sw_url: str = "/sw.js", scope: str = "/", reload: bool = False, minify: bool = True
) -> str:
    """An inline ``<script>`` that registers the worker (see ``register.js``): the
    page gets a ``sw:update-available`` event, or reloads by itself with ``reload``."""
    source = _script("register.js", minify)
    attrs = f' data-sw="{html.escape(sw_url)}" data-scope="{html.escape(scope)}"'
    if reload:
        attrs += " data-reload"
    safe = source.replace("</", "<\\/")
    return f"<script{attrs}>\n{safe}</script>"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dist", metavar="DIST", help="build directory holding manifest.json")
    parser.add_argument(
        "--config",
        default="pyproject.toml",
        help="pyproject.toml with [tool.asset-pipeline.service-worker] (default: ./pyproject.toml;"
        " missing file = defaults)",
    )
    parser.add_argument("--base-url", help="deployed URL prefix (CDN) of the build's files")
    parser.add_argument("--offline-page", help="logical name of the offline fallback page")
    parser.add_argument("--snippet", action="store_true", help="also print the <script> snippet")
    parser.add_argument(
        "--retire",
        action="store_true",
        help="write a no-op worker that deletes the caches (switches the worker off)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = ServiceWorkerConfig()
        if args.config != "pyproject.toml" or Path(args.config).is_file():
            config = load_config(args.config)
        overrides = {
            "base_url": args.base_url,
            "offline_page": args.offline_page,
            "retire": True if args.retire else None,
        }
        table = {k: v for k, v in overrides.items() if v is not None}
        if table:
            config = dataclasses.replace(config, **table)
        manifest = load_manifest(args.dist)
        worker = write_service_worker(manifest, args.dist, config)
    except (ServiceWorkerError, ServiceWorkerConfigError, ManifestError) as exc:
        print(f"asset-pipeline sw: error: {exc}", file=sys.stderr)
        return 1
    size = len(worker.source.encode())
    print(
        f"wrote {Path(args.dist) / config.filename}: {size} bytes, version {worker.version}, "
        f"{len(worker.precache)} precached URLs ({sum(e.size for e in worker.precache)} bytes)"
    )
    for path in worker.skipped:
        print(f"  skipped {path}: larger than max_file_size ({config.max_file_size})")
    if args.snippet:
        # the worker is always served by the site itself, even when assets are on a CDN
        print(registration_snippet(sw_url=manifest.url_prefix.rstrip("/") + "/" + config.filename))
    return 0

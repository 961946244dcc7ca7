"""``asset-pipeline sw``: (re)generate ``sw.js`` for an existing build."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from asset_pipeline.errors import ConfigError
from asset_pipeline.manifest import ManifestError, load_manifest
from asset_pipeline.sw.config import ServiceWorkerConfig, load_config
from asset_pipeline.sw.precache import ServiceWorkerError
from asset_pipeline.sw.registration import registration_snippet
from asset_pipeline.sw.render import write_service_worker


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
    except (ServiceWorkerError, ConfigError, ManifestError) as exc:
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

"""The admin API's own browser assets: the Web Vitals beacon script and the dashboard.

``src/`` holds the sources (with the vendored web-vitals and uPlot builds and their
licences); ``dist/`` is their ``asset-pipeline`` build, shipped in the package so users
need no build step (``make admin-assets`` regenerates it; a test checks it is current).
The admin API serves ``dist/`` with ``StaticAssets`` under ``<prefix>/assets``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

from asset_pipeline.manifest import MANIFEST_NAME, Manifest, load_manifest

__all__ = ["WEB_DIST", "WEB_SRC", "web_manifest"]

WEB_SRC: Final = Path(__file__).resolve().parent / "src"
WEB_DIST: Final = Path(__file__).resolve().parent / "dist"


@functools.cache
def web_manifest() -> Manifest:
    """The shipped build's manifest (read once)."""
    return load_manifest(WEB_DIST / MANIFEST_NAME)

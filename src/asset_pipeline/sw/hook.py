"""The service worker as a plugin of ``asset-pipeline build``: written into the build's temp
directory after the manifest, so it is swapped into place with the rest of the build."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from asset_pipeline.config.model import BuildConfig
from asset_pipeline.config.pyproject import read_table
from asset_pipeline.errors import BuildError, ConfigError
from asset_pipeline.manifest import Manifest
from asset_pipeline.sw.config import config_from_mapping
from asset_pipeline.sw.precache import ServiceWorkerError
from asset_pipeline.sw.registration import write_registration_script
from asset_pipeline.sw.render import GeneratedWorker, write_service_worker

log = logging.getLogger(__name__)


def generate_for_build(
    manifest: Manifest, dist: str | os.PathLike[str], table: Any
) -> tuple[Manifest, GeneratedWorker | None]:
    """Hook for ``asset-pipeline build``: when the config enables the worker, writes the
    registration script (added to the manifest, so the worker precaches it) and the
    worker; returns the manifest to record and the worker."""
    config = config_from_mapping(table)
    if not config.enabled:
        return manifest, None
    if config.registration_script and not config.retire:
        manifest = write_registration_script(manifest, Path(dist), minify=config.minify)
    return manifest, write_service_worker(manifest, dist, config)


def build_hook(manifest: Manifest, out_dir: Path, config: BuildConfig) -> Manifest:
    """``after_manifest`` hook of ``asset-pipeline build``: writes the worker into the
    build's temp directory (so it is swapped in with the rest) when the config file the
    build read enables it. A precache problem fails the build, leaving DIST untouched."""
    try:
        source = Path(config.source)
        table = None
        if source.suffix == ".toml" and source.is_file():
            table = (read_table(source, explicit=True) or {}).get("service-worker")
        manifest, worker = generate_for_build(manifest, out_dir, table)
    except (ServiceWorkerError, ConfigError) as exc:
        raise BuildError([str(exc)]) from None
    if worker is not None:
        for path in worker.skipped:
            log.warning("service worker: not precaching %s (over max_file_size)", path)
        log.info("service worker written version=%s urls=%d", worker.version, len(worker.precache))
    return manifest

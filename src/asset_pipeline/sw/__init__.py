"""The service worker: ``sw.js`` rendered from a build's manifest (``render`` and
``template.js``), its options (``config``), the precache plan (``precache``), the build
plugin (``hook``), the ``sw`` command (``cli``) and how pages register it
(``registration``: ``register.js`` as a build file or an inline snippet)."""

from __future__ import annotations

from asset_pipeline.sw.config import ServiceWorkerConfig, load_config
from asset_pipeline.sw.registration import registration_hash, registration_snippet
from asset_pipeline.sw.render import (
    GeneratedWorker,
    render_service_worker,
    write_service_worker,
)

__all__ = [
    "GeneratedWorker",
    "ServiceWorkerConfig",
    "load_config",
    "registration_hash",
    "registration_snippet",
    "render_service_worker",
    "write_service_worker",
]

"""The service worker: ``sw.js`` rendered from a build's manifest (``template.js``), its
configuration, the precache plan and the registration snippet (``register.js``)."""

from __future__ import annotations

from asset_pipeline.sw.worker import (
    registration_snippet,
    render_service_worker,
    write_service_worker,
)

__all__ = ["registration_snippet", "render_service_worker", "write_service_worker"]

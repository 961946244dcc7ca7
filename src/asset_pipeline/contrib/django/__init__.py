"""Django: ``collectstatic`` runs the asset pipeline (install with the ``django`` extra).

``STORAGES["staticfiles"]["BACKEND"] = "asset_pipeline.contrib.django.AssetPipelineStorage"``;
see ``storage`` for the options. The runtime half (serving, template tags, invalidation)
is ``perf_middleware.contrib.django``.
"""

from __future__ import annotations

from asset_pipeline.contrib.django.storage import AssetPipelineStorage

__all__ = ["AssetPipelineStorage"]

"""Publishing a build to S3-compatible storage: inventory, plan, transfer, publish
(manifest last), history and CDN invalidation; ``cli`` is the ``upload`` command."""

from __future__ import annotations

from asset_pipeline.errors import UploadError
from asset_pipeline.upload.config import UploadConfig
from asset_pipeline.upload.publish import publish

__all__ = ["UploadConfig", "UploadError", "publish"]

"""Build orchestration: scan, process (pool + content-addressed cache), rewrite and
fingerprint, precompress, write the manifest and swap the result into place."""

from __future__ import annotations

from asset_pipeline.build.orchestrate import BuildResult, build, default_hooks
from asset_pipeline.build.plan import BuildHooks, BuildPlan
from asset_pipeline.errors import BuildError

__all__ = ["BuildError", "BuildHooks", "BuildPlan", "BuildResult", "build", "default_hooks"]

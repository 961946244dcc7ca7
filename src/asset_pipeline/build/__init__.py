"""Build orchestration: scan, process (pool + content-addressed cache), rewrite and
fingerprint, precompress, write the manifest and swap the result into place."""

from __future__ import annotations

from asset_pipeline.build.orchestrate import (
    BuildError,
    BuildHooks,
    BuildPlan,
    BuildResult,
    build,
    default_hooks,
)

__all__ = ["BuildError", "BuildHooks", "BuildPlan", "BuildResult", "build", "default_hooks"]

"""The exception root of ``asset_pipeline``.

Every error the build tool raises on purpose derives from ``AssetPipelineError``, so a
caller can catch one class; every configuration problem (a pyproject table, a flag, an
upload rule, a service-worker option) derives from ``ConfigError``, the way Django's
``ImproperlyConfigured`` is the one answer to a bad setting. This module imports only the
standard library: ``manifest.py``, the contract with the runtime, takes ``ManifestError``
from here.
"""

from __future__ import annotations


class AssetPipelineError(Exception):
    """Root of every error ``asset_pipeline`` raises on purpose."""


class ConfigError(AssetPipelineError, ValueError):
    """The configuration is invalid; the message names the file (or flag) and the key."""


class ManifestError(AssetPipelineError, ValueError):
    """The manifest file is missing, not JSON, or does not follow the schema (a
    ``ValueError`` too, what callers caught before it had a root)."""

    @property
    def problem(self) -> str:
        """The message without its ``HINT:`` and final full stop, for a caller (the Django
        integrations) that knows a better hint for its own users and appends that."""
        return str(self).split(" HINT:", 1)[0].rstrip(".")


class BuildError(AssetPipelineError):
    """The build failed; ``problems`` lists every reason found (one line each)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class UploadError(AssetPipelineError, RuntimeError):
    """The upload failed; the message is one actionable line (or a few, one per key)."""

"""Earlier versions of a build, read back from the bucket the upload published it to.

A CI job usually builds into a fresh DIST with an empty build cache, so the build has no
local copy of the versions returning visitors hold. The live ``manifest.json`` under the
upload prefix records, for each dictionary-eligible file, the SHA-256 of its last versions
and where each was published (RFC 9842 deltas are made against exactly those bytes); the
fingerprinted objects stay in the bucket until the upload prunes them. This module reads
that manifest and fetches the objects; the build checks every one against its SHA-256
before using it, so a changed or truncated object can only cost a delta, never produce a
wrong one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asset_pipeline.config.model import DictionaryConfig, split_s3_url
from asset_pipeline.manifest import MANIFEST_NAME, Manifest, ManifestError, manifest_from_dict
from asset_pipeline.upload.transfer import describe_error, make_client

#: Parallel GETs; the objects are small (scripts and stylesheets).
CONCURRENCY = 8
#: A build should not wait long on an unreachable bucket: it builds without deltas.
MAX_ATTEMPTS = 2


class RemoteVersions:
    """Reads ``s3://bucket/prefix``: its live manifest, and objects by build-relative path.

    Every failure becomes a warning (appended to ``warnings``) that names the object and
    carries a HINT; the caller builds on without what could not be read.
    """

    __slots__ = ("_client", "bucket", "endpoint_url", "prefix", "url", "warnings")

    def __init__(
        self, settings: DictionaryConfig, warnings: list[str], *, client: Any = None
    ) -> None:
        url = settings.history_from or ""
        self.url = url
        self.bucket, self.prefix = split_s3_url(url, "dictionaries.history_from")
        self.endpoint_url = settings.history_endpoint_url
        self.warnings = warnings
        self._client = client or make_client(
            "s3",
            endpoint_url=settings.history_endpoint_url,
            region=settings.history_region,
            retry_mode="standard",
            max_attempts=MAX_ATTEMPTS,
            pool_size=CONCURRENCY,
            addressing_style=settings.history_addressing_style,
        )

    def where(self, path: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{path}"

    def _get(self, path: str) -> bytes:
        response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + path)
        body: bytes = response["Body"].read()
        return body

    def manifest(self) -> Manifest | None:
        """The manifest of the build live under the prefix; None (with a warning) when
        there is none or it cannot be read."""
        try:
            raw = self._get(MANIFEST_NAME)
        except Exception as exc:
            key = self.prefix + MANIFEST_NAME
            self.warnings.append(
                f"history from {self.url}: {MANIFEST_NAME} could not be read: "
                f"{describe_error(exc, self.bucket, self.endpoint_url, key=key)}"
                " This build makes no deltas from the bucket's versions. HINT: check "
                "history_from, history_endpoint_url and the credentials; the first upload "
                "to a prefix has no history yet."
            )
            return None
        try:
            return manifest_from_dict(json.loads(raw))
        except (ValueError, ManifestError) as exc:
            self.warnings.append(
                f"history from {self.url}: {self.where(MANIFEST_NAME)} is not a manifest this "
                f"version reads ({exc}); no deltas from the bucket's versions. HINT: upload a "
                "build made with this version once."
            )
            return None

    def fetch(self, paths: Iterable[str]) -> dict[str, bytes]:
        """The objects at ``paths`` (relative to the prefix) that could be read."""
        wanted = sorted(set(paths))
        if not wanted:
            return {}

        def one(path: str) -> tuple[str, bytes | None]:
            try:
                return path, self._get(path)
            except Exception as exc:
                key = self.prefix + path
                self.warnings.append(
                    f"history from {self.url}: {self.where(path)} could not be read: "
                    f"{describe_error(exc, self.bucket, self.endpoint_url, key=key)} No delta "
                    "against that version. HINT: an upload with --prune-older-than removes old "
                    "versions; keep at least as many builds as dictionaries.versions."
                )
                return path, None

        with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="history") as pool:
            return {path: data for path, data in pool.map(one, wanted) if data is not None}

"""CloudFront invalidation of the entry points a new build changed.

Fingerprinted objects never need invalidating (a new name is a new URL), so only the
unhashed keys that were uploaded are listed: CloudFront bills per path, and a wildcard
would also evict the immutable files every returning visitor still has cached.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

#: CloudFront accepts at most 3000 file paths in flight; stay well below per request.
BATCH = 1000


def invalidation_paths(prefix: str, rels: Sequence[str]) -> list[str]:
    """URL paths for changed entry points; ``dir/index.html`` also covers ``dir/``.

    Characters outside the unreserved set are percent-encoded, as CloudFront expects.
    """
    paths: list[str] = []
    for rel in rels:
        paths.append("/" + prefix + rel)
        if rel == "index.html" or rel.endswith("/index.html"):
            paths.append("/" + prefix + rel[: -len("index.html")])
    return [quote(p, safe="/~-._") for p in dict.fromkeys(paths)]


def create_invalidations(
    client: Any, distribution_id: str, paths: Sequence[str], *, build_id: str
) -> list[str]:
    """One invalidation per batch of paths; returns the invalidation ids."""
    ids = []
    for start in range(0, len(paths), BATCH):
        batch = list(paths[start : start + BATCH])
        response = client.create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(batch), "Items": batch},
                "CallerReference": f"asset-pipeline-{build_id}-{time.time_ns()}-{start}",
            },
        )
        ids.append(str(response["Invalidation"]["Id"]))
    return ids

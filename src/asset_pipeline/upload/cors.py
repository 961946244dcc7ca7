"""The bucket's CORS rules: what a CDN origin needs for pages that use SRI.

``Assets(cdn_url=...)`` writes ``integrity`` and ``crossorigin="anonymous"`` on every
stylesheet, script and font preload: a browser checks SRI only on a CORS fetch, so it asks
the CDN with an ``Origin`` header and refuses the response (an unstyled page, no scripts,
no fonts) unless it carries ``Access-Control-Allow-Origin`` for the page's origin. A new S3
bucket sends none. ``asset-pipeline upload --cors-origin https://www.example.com`` sets a
rule allowing GET/HEAD from those origins (kept beside any other rules the bucket has,
under the ID ``asset-pipeline``); ``--verify`` reads the rules back and checks them. A CDN
in front of the bucket must forward ``Origin`` (or the CORS headers) and vary its cache on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from asset_pipeline.errors import ConfigError

RULE_ID = "asset-pipeline"
_ORIGIN = re.compile(r"(\*|https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?)")


def check_origins(origins: Iterable[object], where: str) -> tuple[str, ...]:
    """Origins as CORS compares them: ``scheme://host[:port]``, no path, or ``*``."""
    checked: list[str] = []
    for origin in origins:
        text = origin.strip().rstrip("/") if isinstance(origin, str) else None
        if text is None or not _ORIGIN.fullmatch(text):
            raise ConfigError(
                f"{where}: {origin!r} is not an origin. HINT: the page's scheme, host and "
                'port, e.g. "https://www.example.com" (no path), or "*" for any site.'
            )
        checked.append(text)
    return tuple(checked)


def our_rule(origins: Sequence[str]) -> dict[str, Any]:
    return {
        "ID": RULE_ID,
        "AllowedOrigins": list(origins),
        "AllowedMethods": ["GET", "HEAD"],
        "AllowedHeaders": ["*"],
        "MaxAgeSeconds": 86400,
    }


def current_rules(client: Any, bucket: str) -> list[dict[str, Any]]:
    """The bucket's CORS rules; ``[]`` when it has none (a new bucket)."""
    from botocore.exceptions import ClientError

    try:
        rules: list[dict[str, Any]] = client.get_bucket_cors(Bucket=bucket).get("CORSRules", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchCORSConfiguration":
            return []
        raise
    return rules


def apply_rules(client: Any, bucket: str, origins: Sequence[str]) -> bool:
    """Make the ``asset-pipeline`` rule allow ``origins``; other rules are kept. Returns
    whether the bucket's configuration changed."""
    rules = current_rules(client, bucket)
    ours = our_rule(origins)
    kept = [r for r in rules if r.get("ID") != RULE_ID]
    if [r for r in rules if r.get("ID") == RULE_ID] == [ours]:
        return False
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [*kept, ours]})
    return True


def _matches(origin: str, allowed: str) -> bool:
    if allowed == "*":
        return True
    if "*" in allowed:  # S3 allows one wildcard: https://*.example.com
        head, _, tail = allowed.partition("*")
        return origin.startswith(head) and origin.endswith(tail) and len(origin) > len(allowed)
    return origin == allowed


def allows(rules: Sequence[dict[str, Any]], origin: str) -> bool:
    """Whether some rule lets ``origin`` GET objects (what a ``crossorigin`` fetch needs)."""
    return any(
        "GET" in rule.get("AllowedMethods", ())
        and any(_matches(origin, a) for a in rule.get("AllowedOrigins", ()))
        for rule in rules
    )


def problems(rules: Sequence[dict[str, Any]], origins: Sequence[str], bucket: str) -> list[str]:
    """What ``--verify`` reports: origins the rules do not allow, or no rule at all."""
    if not origins:
        if any("GET" in r.get("AllowedMethods", ()) for r in rules):
            return []
        return [
            f"bucket {bucket!r} has no CORS rule allowing GET: pages loading these assets "
            "with crossorigin (Assets(cdn_url=...) does, for SRI) get no stylesheets, "
            "scripts or fonts. HINT: asset-pipeline upload --cors-origin https://your.site"
        ]
    return [
        f"bucket {bucket!r}: the CORS rules do not allow GET from {origin}, so browsers "
        "block the assets on its pages. HINT: run the upload with --cors-origin "
        f"{origin} (or cors_origins in [tool.asset-pipeline.upload])."
        for origin in origins
        if not allows(rules, origin)
    ]

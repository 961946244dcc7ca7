"""The ``Server-Timing`` response header (W3C Server Timing), so browser dev tools show
whether a response came from the cache and how long the app and the encoder took."""

from __future__ import annotations

import json

__all__ = ["server_timing_value"]

_OUTCOMES = frozenset({"hit", "stale", "miss", "bypass", "revalidated"})


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}".rstrip("0").rstrip(".")


def server_timing_value(
    *,
    cache: str | None = None,
    cache_seconds: float | None = None,
    app_seconds: float | None = None,
    compress_seconds: float | None = None,
) -> str:
    """A ``Server-Timing`` value (W3C Server Timing): ``cache;desc=hit, app;dur=1.2, …``.

    Durations are milliseconds; parts that did not happen are left out. ``cache_seconds`` is
    the lookup (miss) or the whole answer (hit).
    """
    parts: list[str] = []
    if cache is not None:
        token = cache in _OUTCOMES or (
            cache.isascii() and cache.replace("-", "").replace("_", "").isalnum()
        )
        desc = cache if token else json.dumps(cache)
        dur = "" if cache_seconds is None else f";dur={_ms(cache_seconds)}"
        parts.append(f"cache;desc={desc}{dur}")
    if app_seconds is not None:
        parts.append(f"app;dur={_ms(app_seconds)}")
    if compress_seconds is not None:
        parts.append(f"compress;dur={_ms(compress_seconds)}")
    return ", ".join(parts)

"""``settings.PERF_MIDDLEWARE``: the middleware's options in ``settings.py``.

A dict whose keys are ``PerformanceMiddleware``'s keyword options (``cache_config``,
``compression``, ``policy``, ``etag``, ``server_timing``, ``metrics`` …), plus:

* ``cache``: a backend object, or a URL — ``"memory://"`` (``MemoryBackend``),
  ``"redis://…"``/``"rediss://…"``/``"unix://…"`` (``RedisBackend``) — with
  ``cache_options`` passed to its constructor. Default None: no response cache.
* ``static``: True (default) serves ``STATIC_ROOT`` with ``StaticAssets`` under the path
  of ``STATIC_URL`` (with ``DEBUG`` on, the finders' files through Django's own handler
  instead, so development needs no build); False serves nothing; a dict adds
  ``StaticConfig`` options.
* ``admin``: an ``AdminConfig`` or a dict of its options; default
  ``AdminConfig.from_env()`` (mounted only when ``PERF_ADMIN_TOKEN`` is set).
* ``preload``: True or a dict of ``PreloadConfig`` options adds ``Link: rel=preload``
  headers (and 103 Early Hints) for what the template tags rendered. Default False.
* ``assets``: ``AssetsConfig`` options of the template tags (``strict``, ``integrity`` …).

The cache backend is made once per process (``get_cache``), so the ASGI application and
the code that invalidates share it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from perf_middleware.cache.backends.memory import MemoryBackend

__all__ = ["SETTING", "get_cache", "options", "static_prefix"]

SETTING = "PERF_MIDDLEWARE"
_HINT = (
    'HINT: PERF_MIDDLEWARE = {"cache": "memory://"} (or "redis://host:6379/0"); every '
    "other key is a keyword option of PerformanceMiddleware."
)


def options() -> dict[str, Any]:
    """A copy of ``settings.PERF_MIDDLEWARE`` (empty when unset), checked to be a dict."""
    value = getattr(settings, SETTING, None)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(
            f"settings.{SETTING} must be a dict, got {type(value).__name__}. {_HINT}"
        )
    return dict(value)


def static_prefix() -> tuple[str, str | None]:
    """``STATIC_URL`` as (local path prefix, CDN base URL or None)."""
    static_url = str(getattr(settings, "STATIC_URL", None) or "/static/")
    parts = urlsplit(static_url)
    path = "/" + parts.path.strip("/")
    cdn = static_url.rstrip("/") if parts.netloc else None
    return ("" if path == "/" else path), cdn


@functools.cache
def get_cache() -> Any:
    """The response-cache backend named by ``PERF_MIDDLEWARE["cache"]`` (or None), made
    once per process: the ASGI application, ``@cached`` functions and invalidations
    triggered from Django code must all use this one object."""
    conf = options()
    cache = conf.get("cache")
    cache_options = conf.get("cache_options") or {}
    if not isinstance(cache_options, Mapping):
        raise ImproperlyConfigured(
            f"settings.{SETTING}['cache_options'] must be a dict of the backend's "
            f"options, got {type(cache_options).__name__}. {_HINT}"
        )
    if cache is None or not isinstance(cache, str):
        return cache
    scheme = urlsplit(cache).scheme
    if scheme == "memory":
        return MemoryBackend(**cache_options)
    if scheme in ("redis", "rediss", "unix"):
        from perf_middleware.cache.backends.redis import RedisBackend  # the redis extra

        return RedisBackend(cache, **cache_options)
    raise ImproperlyConfigured(
        f"settings.{SETTING}['cache'] = {cache!r} is not a cache URL this knows. {_HINT}"
    )

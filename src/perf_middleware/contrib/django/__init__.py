"""Django as a first-class home: the ASGI wrapper, template tags and cache invalidation.

* ``settings.py``::

      INSTALLED_APPS = [..., "django.contrib.staticfiles", "perf_middleware.contrib.django"]
      STORAGES = {"staticfiles": {"BACKEND": "asset_pipeline.contrib.django.AssetPipelineStorage"},
                  "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
      PERF_MIDDLEWARE = {"cache": "memory://", "cache_config": CacheConfig(allowed_hosts=[...])}

* ``asgi.py``: ``application = perf_middleware.contrib.django.get_asgi_application()``
  (``django.core.asgi.get_asgi_application()`` wrapped in ``PerformanceMiddleware``, with
  ``StaticAssets`` over ``STATIC_ROOT``).
* templates: ``{% load perf_assets %}`` then ``{% stylesheet "css/app.css" %}``,
  ``{% script "js/app.js" %}``, ``{% picture "img/hero.jpg" alt="…" %}``,
  ``{% asset_url "img/logo.svg" %}``, ``{% preload_links "css/app.css" %}``.
* writes: ``invalidate_on_save(Article, tags=lambda a: [f"article:{a.pk}"])`` drops every
  cached response tagged so once the transaction commits; ``invalidate_tags([...])`` and
  ``ainvalidate_tags([...])`` do it by hand. ``get_cache()`` is the backend itself.

The options are in ``settings.PERF_MIDDLEWARE`` (``contrib.django.config``).
"""

from __future__ import annotations

from perf_middleware.contrib.django.asgi import get_asgi_application, wrap_application
from perf_middleware.contrib.django.assets import get_assets
from perf_middleware.contrib.django.config import get_cache
from perf_middleware.contrib.django.invalidation import (
    ainvalidate_tags,
    invalidate_on_save,
    invalidate_tags,
)

__all__ = [
    "ainvalidate_tags",
    "get_asgi_application",
    "get_assets",
    "get_cache",
    "invalidate_on_save",
    "invalidate_tags",
    "wrap_application",
]

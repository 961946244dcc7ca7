"""perf-middleware: drop-in ASGI performance middleware.

The names below are the public API; everything else (``perf_middleware.cache.stage``,
``perf_middleware.pipeline`` ...) is internal and may move between releases. They are imported
lazily so ``import perf_middleware`` stays cheap and an app that never uses Redis never imports
the Redis client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> defining module
_EXPORTS: dict[str, str] = {
    "PerformanceMiddleware": "perf_middleware.middleware",
    "MemoryBackend": "perf_middleware.cache.backends.memory",
    "RedisBackend": "perf_middleware.cache.backends.redis",
    "CacheBackend": "perf_middleware.cache.backends.base",
    "cached": "perf_middleware.cache.decorator",
    "CacheConfig": "perf_middleware.cache.config",
    "CompressionConfig": "perf_middleware.compression.codecs",
    "SiteDictionaryConfig": "perf_middleware.compression.site_dictionary",
    "Policy": "perf_middleware.policy",
    "Rule": "perf_middleware.policy",
    "StaticAssets": "perf_middleware.static",
    "StaticConfig": "perf_middleware.static.config",
    "Assets": "perf_middleware.templating",
    "AssetsConfig": "perf_middleware.templating",
    "PreloadHints": "perf_middleware.templating.preload",
    "PreloadConfig": "perf_middleware.templating.preload",
    "Metrics": "perf_middleware.metrics.counters",
    "MetricsConfig": "perf_middleware.metrics.counters",
    "AdminConfig": "perf_middleware.admin.config",
    "WebVitals": "perf_middleware.templating.vitals",
}

__all__ = [  # keep in step with _EXPORTS
    "AdminConfig",
    "Assets",
    "AssetsConfig",
    "CacheBackend",
    "CacheConfig",
    "CompressionConfig",
    "MemoryBackend",
    "Metrics",
    "MetricsConfig",
    "PerformanceMiddleware",
    "Policy",
    "PreloadConfig",
    "PreloadHints",
    "RedisBackend",
    "Rule",
    "SiteDictionaryConfig",
    "StaticAssets",
    "StaticConfig",
    "WebVitals",
    "__version__",
    "cached",
]

if TYPE_CHECKING:  # pragma: no cover
    from perf_middleware.admin.config import AdminConfig
    from perf_middleware.cache.backends.base import CacheBackend
    from perf_middleware.cache.backends.memory import MemoryBackend
    from perf_middleware.cache.backends.redis import RedisBackend
    from perf_middleware.cache.config import CacheConfig
    from perf_middleware.cache.decorator import cached
    from perf_middleware.compression.codecs import CompressionConfig
    from perf_middleware.compression.site_dictionary import SiteDictionaryConfig
    from perf_middleware.metrics.counters import Metrics, MetricsConfig
    from perf_middleware.middleware import PerformanceMiddleware
    from perf_middleware.policy import Policy, Rule
    from perf_middleware.static import StaticAssets
    from perf_middleware.static.config import StaticConfig
    from perf_middleware.templating import Assets, AssetsConfig
    from perf_middleware.templating.preload import PreloadConfig, PreloadHints
    from perf_middleware.templating.vitals import WebVitals


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'perf_middleware' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value

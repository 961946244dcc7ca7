"""perf-middleware: drop-in ASGI performance middleware.

The public API is imported lazily so ``import perf_middleware`` stays cheap and an app
that never uses Redis never imports the Redis client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> defining module (each owner adds its names here)
_EXPORTS: dict[str, str] = {
    "PerformanceMiddleware": "perf_middleware.middleware",
    "MemoryBackend": "perf_middleware.cache.backends.memory",
    "RedisBackend": "perf_middleware.cache.backends.redis",
    "cached": "perf_middleware.cache.decorator",
    "StaticAssets": "perf_middleware.static",
    "Assets": "perf_middleware.templating",
    "PreloadHints": "perf_middleware.preload",
    "Metrics": "perf_middleware.metrics",
    "MetricsConfig": "perf_middleware.metrics",
    "AdminConfig": "perf_middleware.admin_config",
}

__all__ = [  # keep in step with _EXPORTS
    "AdminConfig",
    "Assets",
    "MemoryBackend",
    "Metrics",
    "MetricsConfig",
    "PerformanceMiddleware",
    "PreloadHints",
    "RedisBackend",
    "StaticAssets",
    "__version__",
    "cached",
]

if TYPE_CHECKING:  # pragma: no cover
    from perf_middleware.admin_config import AdminConfig
    from perf_middleware.cache.backends.memory import MemoryBackend
    from perf_middleware.cache.backends.redis import RedisBackend
    from perf_middleware.cache.decorator import cached
    from perf_middleware.metrics import Metrics, MetricsConfig
    from perf_middleware.middleware import PerformanceMiddleware
    from perf_middleware.preload import PreloadHints
    from perf_middleware.static import StaticAssets
    from perf_middleware.templating import Assets


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'perf_middleware' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value

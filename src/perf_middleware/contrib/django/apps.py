"""The Django app (``INSTALLED_APPS += ["perf_middleware.contrib.django"]``): it makes the
``perf_assets`` template tag library available and forgets memoised objects when a test
changes the settings they were made from."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed

from perf_middleware.contrib.django.assets import get_assets
from perf_middleware.contrib.django.config import get_cache


class PerfMiddlewareConfig(AppConfig):
    name = "perf_middleware.contrib.django"
    label = "perf_middleware"
    verbose_name = "perf-middleware"

    def ready(self) -> None:
        setting_changed.connect(_settings_changed, dispatch_uid="perf_middleware.settings")


def _settings_changed(*, setting: str, **_: Any) -> None:
    if setting in ("PERF_MIDDLEWARE", "STATIC_URL", "STATIC_ROOT", "DEBUG"):
        get_assets.cache_clear()
    if setting == "PERF_MIDDLEWARE":
        get_cache.cache_clear()

"""The Django ASGI application behind ``PerformanceMiddleware``, configured from settings.

``get_asgi_application()`` replaces Django's function of the same name in ``asgi.py``.
Order, outermost first: ``PerformanceMiddleware`` (admin API, ``StaticAssets`` over
``STATIC_ROOT``, response cache, ETags, 304s, compression) -> ``PreloadHints`` when
``PERF_MIDDLEWARE["preload"]`` is on -> Django. With ``DEBUG`` on, the static files come
from the finders through Django's own ``ASGIStaticFilesHandler`` (no build needed) and
still get the middleware's validators and compression.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import django.core.asgi
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import ImproperlyConfigured

from asset_pipeline.manifest import ManifestError
from perf_middleware.admin.config import AdminConfig
from perf_middleware.contrib.django.assets import get_assets
from perf_middleware.contrib.django.config import SETTING, get_cache, options, static_prefix
from perf_middleware.middleware import PerformanceMiddleware
from perf_middleware.static import StaticAssets
from perf_middleware.templating.preload import PreloadHints
from perf_middleware.types import ASGIApp

__all__ = ["get_asgi_application", "wrap_application"]

_OWN = ("cache", "cache_options", "static", "admin", "preload", "assets")


def get_asgi_application() -> PerformanceMiddleware:
    """``django.core.asgi.get_asgi_application()`` (which sets Django up) wrapped by
    ``wrap_application``; ``.cache`` on the result is ``get_cache()``."""
    return wrap_application(django.core.asgi.get_asgi_application())


def _mapping(value: Any, key: str) -> dict[str, Any]:
    if value is True:
        return {}
    if not isinstance(value, Mapping):
        raise ImproperlyConfigured(
            f"settings.{SETTING}[{key!r}] must be True, False or a dict of options, got "
            f"{type(value).__name__}. HINT: {{{key!r}: True}}."
        )
    return dict(value)


def _static(conf: Mapping[str, Any]) -> StaticAssets | None:
    value = conf.get("static", True)
    if value is False or settings.DEBUG:
        return None
    static_options = _mapping(value, "static")
    prefix, _cdn = static_prefix()
    root = getattr(settings, "STATIC_ROOT", None)
    if not root:
        raise ImproperlyConfigured(
            f"settings.{SETTING}: serving static files needs STATIC_ROOT. HINT: set "
            f'STATIC_ROOT = BASE_DIR / "staticfiles", or {SETTING}["static"] = False.'
        )
    if not prefix:
        raise ImproperlyConfigured(
            f"settings.{SETTING}: STATIC_URL {settings.STATIC_URL!r} has no path, so static "
            'files would answer every URL. HINT: STATIC_URL = "/static/".'
        )
    try:
        return StaticAssets(Path(root), prefix=prefix, **static_options)
    except ManifestError as exc:
        raise ImproperlyConfigured(
            f"{exc.problem}. HINT: run `python manage.py collectstatic` before starting the server "
            f'(or set {SETTING}["static"] = False when a CDN or another server serves it).'
        ) from None


def _admin(conf: Mapping[str, Any]) -> AdminConfig | None:
    value = conf.get("admin")
    if value is None:
        return AdminConfig.from_env()
    if value is False or isinstance(value, AdminConfig):
        return value or None
    return AdminConfig(**_mapping(value, "admin"))


def wrap_application(app: ASGIApp) -> PerformanceMiddleware:
    """Wrap an (already set up) Django ASGI application as ``settings.PERF_MIDDLEWARE``
    says; see ``contrib.django.config`` for the keys."""
    conf = options()
    inner: ASGIApp = app
    if settings.DEBUG and conf.get("static", True) is not False:
        inner = ASGIStaticFilesHandler(app)  # the finders' files, as runserver serves them
    preload = conf.get("preload", False)
    if preload is not False:
        inner = PreloadHints(inner, get_assets(), **_mapping(preload, "preload"))
    rest = {key: value for key, value in conf.items() if key not in _OWN}
    return PerformanceMiddleware(
        inner, cache=get_cache(), static=_static(conf), admin=_admin(conf), **rest
    )

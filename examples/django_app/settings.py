"""Settings of the example Django site (``examples/django_app``).

The three things perf-middleware adds to a Django project are marked ``# perf-middleware``:
the app (template tags), the staticfiles storage (``collectstatic`` runs the asset
pipeline) and ``PERF_MIDDLEWARE`` (what ``asgi.py`` wraps Django with). Environment:
``DJANGO_DEBUG=1`` (development: no build needed), ``DJANGO_DB_PATH``, ``DJANGO_STATIC_ROOT``,
``REDIS_URL`` (the response cache in Redis, shared by several workers),
``PERF_ADMIN_TOKEN`` (the admin API at ``/_perf``).
"""

from __future__ import annotations

import os
from pathlib import Path

from perf_middleware import CacheConfig

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "perf_middleware.contrib.django",  # perf-middleware: {% load perf_assets %}
    "examples.django_app.articles",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "examples.django_app.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",  # lets tags feed preload hints
                "django.template.context_processors.csrf",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH") or BASE_DIR / "db.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # perf-middleware: collectstatic = asset-pipeline build into STATIC_ROOT
        "BACKEND": os.environ.get(
            "DJANGO_STATICFILES_BACKEND", "asset_pipeline.contrib.django.AssetPipelineStorage"
        ),
        "OPTIONS": {
            "config": {  # the keys of [tool.asset-pipeline]
                "images": {"widths": [480, 960], "rules": [{"glob": "img/logo.png", "widths": []}]},
                "fonts": {"unicode_ranges": ["U+0000-00FF", "U+2010-2027"]},
            }
        }
        if "DJANGO_STATICFILES_BACKEND" not in os.environ
        else {},
    },
}

# perf-middleware: the options of PerformanceMiddleware (see perf_middleware.contrib.django)
PERF_MIDDLEWARE = {
    "cache": os.environ.get("REDIS_URL") or "memory://",
    "cache_config": CacheConfig(allowed_hosts=tuple(ALLOWED_HOSTS)),
    "preload": True,
    "server_timing": os.environ.get("PERF_SERVER_TIMING") == "1",
}

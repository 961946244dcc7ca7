"""The ASGI application of ``benchmarks.django_static``: ours behind perf-middleware, the
peers as plain Django (WhiteNoise is their Django middleware)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.django_settings")

if os.environ.get("BENCH_DJANGO_VARIANT", "ours") == "ours":
    from perf_middleware.contrib.django import get_asgi_application
else:
    from django.core.asgi import get_asgi_application

application = get_asgi_application()

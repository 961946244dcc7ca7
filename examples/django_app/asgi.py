"""``uvicorn examples.django_app.asgi:application``: Django behind PerformanceMiddleware."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")

from perf_middleware.contrib.django import get_asgi_application

application = get_asgi_application()

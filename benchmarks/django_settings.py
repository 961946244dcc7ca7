"""Settings for ``benchmarks.django_static``: the example site with one staticfiles setup.

``BENCH_DJANGO_VARIANT``: ``ours`` (the example as it is: ``AssetPipelineStorage`` served by
perf-middleware), ``django`` (``ManifestStaticFilesStorage`` served by WhiteNoise's
middleware, as Django's docs deploy it) or ``whitenoise`` (WhiteNoise's
``CompressedManifestStaticFilesStorage`` + middleware). ``BENCH_DJANGO_SOURCE``: the static
tree to collect. The peers' pages use ``{% static %}`` (``django_templates/``), the markup a
site on those storages has; ours the example's templates.
"""

from __future__ import annotations

import os
from pathlib import Path

from examples.django_app.settings import *  # noqa: F403
from examples.django_app.settings import MIDDLEWARE, TEMPLATES

VARIANT = os.environ.get("BENCH_DJANGO_VARIANT", "ours")
PEER_STORAGES = {
    "django": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
    "whitenoise": "whitenoise.storage.CompressedManifestStaticFilesStorage",
}

STATICFILES_DIRS = [Path(os.environ["BENCH_DJANGO_SOURCE"])]
if VARIANT in PEER_STORAGES:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": PEER_STORAGES[VARIANT]},
    }
    MIDDLEWARE = ["whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE]
    TEMPLATES = [{**TEMPLATES[0], "DIRS": [Path(__file__).resolve().parent / "django_templates"]}]

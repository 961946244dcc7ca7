"""The ``Assets`` object behind the template tags, made from the Django settings.

With ``DEBUG`` off it reads ``STATIC_ROOT/manifest.json`` (written by ``collectstatic``
with ``AssetPipelineStorage``): fingerprinted URLs, SRI, image alternates, dimensions.
With ``DEBUG`` on there may be no build at all, so the names are looked up through
Django's staticfiles finders instead: the tags emit the plain ``STATIC_URL`` URLs of the
source files, which ``runserver`` (or the ASGI wrapper) serves from the finders.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured

from asset_pipeline.manifest import MANIFEST_NAME, Manifest, ManifestEntry, ManifestError
from asset_pipeline.media_types import content_type
from perf_middleware.contrib.django.config import SETTING, options, static_prefix
from perf_middleware.templating import Assets

__all__ = ["FinderFiles", "get_assets"]


class FinderFiles(Mapping[str, ManifestEntry]):
    """The source files Django's finders see, as un-fingerprinted manifest entries."""

    def __getitem__(self, name: str) -> ManifestEntry:
        found = finders.find(name)
        path = found[0] if isinstance(found, list) else found
        if not path or not os.path.isfile(path):
            raise KeyError(name)
        return ManifestEntry(
            path=name,
            size=os.path.getsize(path),
            content_type=content_type(name),
            hash="",
            integrity="",
            fingerprinted=False,
        )

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for finder in finders.get_finders():
            for path, _storage in finder.list([]):
                name = path.replace(os.sep, "/")
                if name not in seen:
                    seen.add(name)
                    yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)


@functools.cache
def get_assets() -> Assets:
    """The template tags' ``Assets``: the build in ``STATIC_ROOT``, or the finders in
    ``DEBUG``. Options from ``PERF_MIDDLEWARE["assets"]`` (``AssetsConfig`` fields)."""
    extra = options().get("assets") or {}
    if not isinstance(extra, Mapping):
        raise ImproperlyConfigured(
            f"settings.{SETTING}['assets'] must be a dict of AssetsConfig options, got "
            f"{type(extra).__name__}. HINT: {{'assets': {{'strict': True}}}}."
        )
    prefix, cdn_url = static_prefix()
    config = {"prefix": prefix or "/", "cdn_url": cdn_url, **extra}
    if settings.DEBUG:
        config.setdefault("integrity", False)  # no build, no hashes
        return Assets(Manifest(files=FinderFiles()), **config)
    root = getattr(settings, "STATIC_ROOT", None)
    if not root:
        raise ImproperlyConfigured(
            "The perf_assets template tags need STATIC_ROOT (the build collectstatic "
            'writes). HINT: STATIC_ROOT = BASE_DIR / "staticfiles".'
        )
    try:
        return Assets(Path(root) / MANIFEST_NAME, **config)
    except ManifestError as exc:
        raise ImproperlyConfigured(
            f"{exc.problem}. HINT: run `python manage.py collectstatic` with "
            "STORAGES['staticfiles'] = asset_pipeline.contrib.django.AssetPipelineStorage "
            "(DEBUG needs no build)."
        ) from None

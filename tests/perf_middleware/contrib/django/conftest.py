from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.django_site import EXAMPLE, collectstatic, setup_django_site


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example site set up, with its static files collected (and built) into a
    STATIC_ROOT of this module; yields STATIC_ROOT."""
    setup_django_site()
    from django.test import override_settings

    work = tmp_path_factory.mktemp("django-static")
    source = work / "source"
    shutil.copytree(EXAMPLE / "static", source)
    with override_settings(STATIC_ROOT=work / "static", STATICFILES_DIRS=[source]):
        collectstatic()
        yield work / "static"


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Each test starts with a new backend (``get_cache`` is one per process)."""
    setup_django_site()
    from perf_middleware.contrib.django import get_assets, get_cache

    get_cache.cache_clear()
    get_assets.cache_clear()

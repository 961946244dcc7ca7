from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.django_site import collected_static, setup_django_site


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example site set up, with its static files collected (and built) into a
    STATIC_ROOT of this module; yields STATIC_ROOT."""
    with collected_static(tmp_path_factory.mktemp("django-static")) as static_root:
        yield static_root


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Each test starts with a new backend (``get_cache`` is one per process)."""
    setup_django_site()
    from perf_middleware.contrib.django import get_assets, get_cache

    get_cache.cache_clear()
    get_assets.cache_clear()

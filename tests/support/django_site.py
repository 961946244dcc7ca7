"""The example Django site (``examples/django_app``) set up in the test process.

Django's settings are global to a process, so every Django test shares one setup: the
example's settings module, with its SQLite database and ``STATIC_ROOT`` under a temporary
directory (the settings read them from the environment when first imported). Tests that
need other settings use ``override_settings``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django_app"
_WORKDIR: Path | None = None


def setup_django_site() -> Path:
    """Set Django up on the example site once per process; returns the work directory
    (``db.sqlite3``, ``static`` = STATIC_ROOT, not yet collected)."""
    global _WORKDIR
    if _WORKDIR is not None:
        return _WORKDIR
    workdir = Path(tempfile.mkdtemp(prefix="django-site-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "examples.django_app.settings"
    os.environ["DJANGO_DB_PATH"] = str(workdir / "db.sqlite3")
    os.environ["DJANGO_STATIC_ROOT"] = str(workdir / "static")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    _WORKDIR = workdir
    return workdir


def collectstatic() -> None:
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


@contextmanager
def collected_static(work: Path) -> Iterator[Path]:
    """The example site set up, with a copy of its static sources (``work/source``)
    collected and built into a STATIC_ROOT of the caller's own (``work/static``) for as
    long as the context lasts; yields that STATIC_ROOT."""
    setup_django_site()
    from django.test import override_settings

    source = work / "source"
    shutil.copytree(EXAMPLE / "static", source)
    with override_settings(STATIC_ROOT=work / "static", STATICFILES_DIRS=[source]):
        collectstatic()
        yield work / "static"

"""``AssetPipelineStorage``: a staticfiles storage whose ``collectstatic`` is a real build.

Django's ``collectstatic`` copies every file the finders see into the storage, then calls
``post_process``. This storage collects into a staging directory (``collect_dir``, beside
``STATIC_ROOT``) and ``post_process`` runs ``asset_pipeline.build`` from there into
``STATIC_ROOT``: reference graph, minification, fingerprints, rewriting, image and font
conversion, precompression, the manifest and the service worker, exactly as
``asset-pipeline build`` does. The build swaps its result into place only when all of it
succeeded, so a failed ``collectstatic`` names the file and the reason and leaves the
previous ``STATIC_ROOT`` serving.

``url()`` (what ``{% static %}`` calls) answers the fingerprinted name from
``STATIC_ROOT/manifest.json``; with ``DEBUG`` on it answers the plain name, as Django's own
manifest storages do, so development needs no build (``runserver`` or the ASGI wrapper of
``perf_middleware.contrib.django`` serve the source files through the finders).

Configuration (``OPTIONS``, all optional):

* ``config``: a mapping in the shape of ``[tool.asset-pipeline]`` (``{"images": {"widths":
  [480, 960]}, "service-worker": {...}}``); without it the nearest ``pyproject.toml`` from
  ``BASE_DIR`` (or the working directory) is read, as ``asset-pipeline build`` does.
* ``collect_dir``: where ``collectstatic`` copies the sources (default
  ``<STATIC_ROOT>-collected``); ``src``/``out`` of the configuration are always this
  directory and ``STATIC_ROOT``.
* ``manifest_strict`` (True): ``url()`` of a name the build does not have raises, like
  Django's ``ManifestStaticFilesStorage``; False answers the plain URL.

``url_prefix`` comes from the path of ``STATIC_URL``, so absolute references inside CSS
and JS are rewritten to the URLs the site serves.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage
from django.core.management.base import CommandError

from asset_pipeline.build import BuildError, build
from asset_pipeline.config import BuildConfig, config_from_mapping, load_config, validate
from asset_pipeline.errors import ConfigError
from asset_pipeline.manifest import MANIFEST_NAME, Manifest, ManifestError, load_manifest

__all__ = ["AssetPipelineStorage"]

logger = logging.getLogger("asset_pipeline.contrib.django")

_SOURCE = "settings.STORAGES['staticfiles']['OPTIONS']['config']"


def _static_root() -> Path:
    root = getattr(settings, "STATIC_ROOT", None)
    if not root:
        raise ImproperlyConfigured(
            "AssetPipelineStorage needs STATIC_ROOT, where the build is written. "
            'HINT: STATIC_ROOT = BASE_DIR / "staticfiles" in settings.py.'
        )
    return Path(root)


def url_prefix_of(static_url: str) -> str:
    """The path part of ``STATIC_URL`` as the build's ``url_prefix`` (``/static/``)."""
    path = urlsplit(static_url).path or "/"
    path = path if path.startswith("/") else "/" + path
    return path if path.endswith("/") else path + "/"


class AssetPipelineStorage(FileSystemStorage):
    """``STORAGES["staticfiles"]`` backend: ``collectstatic`` builds, ``url()`` reads the
    manifest. Options are keyword-only (see the module docstring)."""

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        collect_dir: str | os.PathLike[str] | None = None,
        manifest_strict: bool = True,
        **kwargs: Any,
    ) -> None:
        if config is not None and not isinstance(config, Mapping):
            raise ImproperlyConfigured(
                f"AssetPipelineStorage OPTIONS['config'] must be a mapping, got "
                f"{type(config).__name__}. HINT: the keys of [tool.asset-pipeline], e.g. "
                '{"images": {"widths": [480, 960]}}.'
            )
        self.static_root = _static_root()
        if collect_dir is None:
            collect_dir = location or self.static_root.with_name(
                self.static_root.name + "-collected"
            )
        self.collect_dir = Path(collect_dir)
        if self.collect_dir.resolve() == self.static_root.resolve():
            raise ImproperlyConfigured(
                f"AssetPipelineStorage: collect_dir {self.collect_dir} is STATIC_ROOT; the "
                "build reads the collected sources and writes STATIC_ROOT, so they must "
                "differ. HINT: leave collect_dir unset (it defaults to <STATIC_ROOT>-collected)."
            )
        self.pipeline_config = config
        self.manifest_strict = manifest_strict
        self._manifest: Manifest | None = None
        self._stamp: tuple[int, int] = (0, 0)
        super().__init__(
            location=self.collect_dir,
            base_url=base_url if base_url is not None else settings.STATIC_URL,
            **kwargs,
        )

    # -- collectstatic ----------------------------------------------------------------

    def build_config(self) -> BuildConfig:
        """The build's configuration: ``OPTIONS['config']`` or the nearest pyproject.toml,
        with ``src``/``out``/``url_prefix`` set from the Django settings."""
        base = Path(getattr(settings, "BASE_DIR", None) or Path.cwd())
        try:
            if self.pipeline_config is not None:
                config = config_from_mapping(self.pipeline_config, root=base, source=_SOURCE)
            else:
                config = load_config(cwd=base)
        except ConfigError as exc:
            raise CommandError(f"asset-pipeline configuration: {exc}") from None
        changes: dict[str, Any] = {
            "src": self.collect_dir.resolve(),
            "out": self.static_root.resolve(),
            "url_prefix": url_prefix_of(str(settings.STATIC_URL)),
        }
        if config.cache_dir is not None and not config.cache_dir.is_absolute():
            # beside the collected sources, never inside STATIC_ROOT (it would be served)
            changes["cache_dir"] = self.collect_dir.resolve().parent / config.cache_dir
        return validate(config.with_overrides(**changes))

    def post_process(
        self, paths: Mapping[str, Any], dry_run: bool = False, **options: Any
    ) -> Iterator[tuple[str, str | None, bool | Exception]]:
        """Build the collected tree into ``STATIC_ROOT``; yields each collected name with
        the name it was published under. A failed build raises ``CommandError`` naming
        every problem, and ``STATIC_ROOT`` is left as it was."""
        if dry_run:
            return
        config = self.build_config()
        try:
            result = build(config)
        except BuildError as exc:
            problems = "\n".join(f"  {problem}" for problem in exc.problems)
            raise CommandError(
                f"asset-pipeline build of {config.src} failed; STATIC_ROOT ({config.out}) "
                f"was left as it was:\n{problems}"
            ) from None
        for warning in result.warnings:
            logger.warning("asset-pipeline: %s", warning)
        self._manifest = None
        for name in paths:
            entry = result.manifest.get(name.replace(os.sep, "/"))
            if entry is not None:
                yield name, entry.path, entry.fingerprinted

    # -- {% static %} -----------------------------------------------------------------

    def manifest(self) -> Manifest:
        """``STATIC_ROOT/manifest.json``, re-read when ``collectstatic`` replaced it."""
        path = self.static_root / MANIFEST_NAME
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (0, 0)
        if self._manifest is None or stamp != self._stamp:
            try:
                self._manifest = load_manifest(path)
            except ManifestError as exc:
                raise ValueError(
                    f"{exc.problem}. HINT: run `python manage.py collectstatic` (with DEBUG off, "
                    "{% static %} answers fingerprinted names from the build)."
                ) from None
            self._stamp = stamp
        return self._manifest

    def url(self, name: str | None, force: bool = False) -> str:
        """The URL of ``name``: plain in ``DEBUG`` (unless ``force``), otherwise the
        fingerprinted file the build published for it."""
        if name is None or (settings.DEBUG and not force):
            return super().url(name)
        clean = name.split("?", 1)[0].split("#", 1)[0]
        suffix = name[len(clean) :]
        try:
            entry = self.manifest().get(clean.lstrip("/"))
        except ValueError:
            if self.manifest_strict:
                raise
            entry = None
        if entry is None:
            if self.manifest_strict:
                raise ValueError(
                    f"Missing staticfiles manifest entry for {clean!r} in "
                    f"{self.static_root / MANIFEST_NAME}. HINT: check the name, or run "
                    "`python manage.py collectstatic` after adding the file."
                )
            return super().url(name)
        return super().url(entry.path) + suffix

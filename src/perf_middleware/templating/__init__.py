"""Jinja2 helpers that turn manifest names into tags: ``asset_url``, ``stylesheet``,
``script``, ``picture``, ``preload_links``.

Templates keep naming sources (``css/app.css``); the manifest supplies the fingerprinted
URL, SRI hash, image alternates and dimensions, so a rebuild never touches a template and a
``<picture>`` never shifts the layout. ``Assets.install`` works on a plain
``jinja2.Environment`` and on Starlette's ``Jinja2Templates`` (anything with ``.env``).

When a template is rendered with a ``request`` in its context (Starlette's
``TemplateResponse`` does that), every asset a helper emits is recorded on the request
scope, so ``perf_middleware.templating.preload.PreloadHints`` can send its dependencies as ``Link``
headers / ``103 Early Hints`` without the view listing them again.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from asset_pipeline.manifest import MANIFEST_NAME, Manifest, ManifestEntry, load_manifest
from perf_middleware.options import checked, with_options
from perf_middleware.templating.picture import html_attrs, render_picture
from perf_middleware.templating.preload import PRELOAD_SCOPE_KEY, PreloadLink, collect_preloads

__all__ = ["AssetNotFoundError", "Assets", "AssetsConfig"]

logger = logging.getLogger("perf_middleware.templating")

_PATH_SAFE = "/~!$&'()*+,;=:@"


class AssetNotFoundError(LookupError):
    """A template named an asset the manifest does not have."""


@checked()
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AssetsConfig:
    """Options of ``Assets`` (keyword-only; defaults documented inline)."""

    #: Local URL prefix, the same as ``StaticAssets(prefix=...)``.
    prefix: str = "/static"
    #: Base URL replacing the prefix, e.g. ``"https://cdn.example.com/static"``; None = local.
    cdn_url: str | None = None
    #: Unknown names raise ``AssetNotFoundError`` (development); otherwise they are logged
    #: and the un-fingerprinted URL is emitted so a page still renders (production).
    strict: bool = False
    #: Emit ``integrity`` (SRI) on stylesheet/script/preload tags.
    integrity: bool = True
    #: ``crossorigin`` value; None = ``"anonymous"`` when ``cdn_url`` is set (SRI on another
    #: origin is checked only on a CORS fetch, so the CDN must send Access-Control-Allow-
    #: Origin: ``asset-pipeline upload --cors-origin``), else omitted (same origin).
    crossorigin: str | None = None
    #: Which scripts are ES modules (``type="module"``, ``modulepreload``): None = the ones
    #: the manifest marks (the build saw ``import``/``export`` or an importer); True/False =
    #: every script or none.
    module_scripts: bool | None = None
    #: Re-read the manifest when it changes on disk (development: one stat per call).
    autorefresh: bool = False


class Assets:
    """Template helpers bound to one build (``Assets("dist")`` or ``Assets(static_app)``)."""

    def __init__(
        self,
        source: str | os.PathLike[str] | Manifest | Any,
        *,
        config: AssetsConfig | None = None,
        **options: Any,
    ) -> None:
        #: development mode's unbuilt tree (``StaticAssets(..., development=True)``): plain
        #: names, no SRI, no preloads
        self._tree: Any = getattr(source, "source_tree", None)
        if hasattr(source, "directory") and hasattr(source, "prefix"):  # a StaticAssets
            options.setdefault("prefix", source.prefix)
            source = source.directory if self._tree is None else Manifest(files={})
        self.config = with_options("Assets", AssetsConfig, config, options)
        self._path: Path | None = None
        self._stamp: tuple[int, int] = (0, 0)
        if isinstance(source, Manifest):
            self.manifest = source
        else:
            path = Path(source)
            self._path = path / MANIFEST_NAME if path.is_dir() else path
            self._stamp = self._manifest_stamp()
            self.manifest = load_manifest(self._path)
        self._preload_cache: dict[tuple[tuple[str, ...], bool], list[PreloadLink]] = {}
        self._preload_for: Manifest | None = None
        base = self.config.cdn_url if self.config.cdn_url else self.config.prefix
        self._base = base.rstrip("/") + "/"
        if self.config.crossorigin is not None:
            self._crossorigin: str | None = self.config.crossorigin
        else:
            self._crossorigin = "anonymous" if self.config.cdn_url else None

    # -- lookup -------------------------------------------------------------------------

    def _manifest_stamp(self) -> tuple[int, int]:
        try:
            st = os.stat(self._path) if self._path else None
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size) if st else (0, 0)

    def _current(self) -> Manifest:
        if self.config.autorefresh and self._path is not None:
            stamp = self._manifest_stamp()
            if stamp != self._stamp:
                self.manifest = load_manifest(self._path)
                self._stamp = stamp
        return self.manifest

    def entry(self, name: str) -> ManifestEntry | None:
        """The manifest entry for ``name``; unknown names raise (strict) or log."""
        manifest = self._current()
        entry = manifest.get(name) if self._tree is None else self._tree.entry(name)
        if entry is None:
            close = difflib.get_close_matches(name, list(manifest.files), n=3)
            hint = (
                f"did you mean {', '.join(map(repr, close))}?"
                if close
                else ("add the file to the asset source directory and rebuild.")
            )
            where = self._path or "the manifest"
            message = f"asset {name!r} is not in {where}. HINT: {hint}"
            if self.config.strict:
                raise AssetNotFoundError(message)
            logger.error("asset missing name=%r %s", name, message)
        return entry

    def url_for_path(self, path: str) -> str:
        """The URL of a build path, percent-encoded (spaces, non-ASCII names)."""
        return self._base + quote(path, safe=_PATH_SAFE)

    def url(self, name: str) -> str:
        """``asset_url("css/app.css")`` -> ``/static/css/app.3f2a1b9c0d.css``."""
        entry = self.entry(name)
        return self.url_for_path(entry.path if entry is not None else name.lstrip("/"))

    # -- tags ---------------------------------------------------------------------------

    def _sri(self, entry: ManifestEntry | None) -> str | None:
        return entry.integrity or None if entry is not None and self.config.integrity else None

    def stylesheet(self, name: str, *, media: str | None = None, **attrs: Any) -> Markup:
        entry = self.entry(name)
        return Markup(
            "<link"
            + html_attrs(
                [
                    ("rel", "stylesheet"),
                    ("href", self.url_for_path(entry.path) if entry else self.url(name)),
                    ("media", media),
                    ("integrity", self._sri(entry)),
                    ("crossorigin", self._crossorigin if entry else None),
                    *attrs.items(),
                ]
            )
            + ">"
        )

    def script(
        self,
        name: str,
        *,
        module: bool | None = None,
        defer: bool = True,
        async_: bool = False,
        **attrs: Any,
    ) -> Markup:
        """``<script>``; ``type="module"`` for files the manifest marks as ES modules
        (``module=`` overrides). Module scripts are deferred by the browser, so ``defer``
        is only written on classic ones (``async_`` for either)."""
        entry = self.entry(name)
        if module is None:
            module = self.config.module_scripts
        if module is None:
            module = entry is not None and entry.module
        return Markup(
            "<script"
            + html_attrs(
                [
                    ("type", "module" if module else None),
                    ("src", self.url_for_path(entry.path) if entry else self.url(name)),
                    ("defer", defer and not module and not async_),
                    ("async", async_),
                    ("integrity", self._sri(entry)),
                    ("crossorigin", self._crossorigin if entry else None),
                    *attrs.items(),
                ]
            )
            + "></script>"
        )

    def picture(
        self,
        name: str,
        *,
        alt: str,
        sizes: str | None = None,
        lazy: bool = True,
        priority: bool = False,
        **attrs: Any,
    ) -> Markup:
        """``<picture>`` with one ``<source>`` per modern format (widths from the manifest)
        and an ``<img>`` fallback carrying ``width``/``height`` so nothing shifts.

        ``priority=True`` is for the LCP image: ``fetchpriority="high"`` and never lazy.
        ``alt`` is required (``alt=""`` for decoration). Extra keywords go on the ``<img>``.
        """
        entry = self.entry(name)
        if entry is None:
            img = html_attrs([("src", self.url(name)), ("alt", alt), *attrs.items()])
            return Markup(f"<img{img}>")
        html = render_picture(
            entry,
            url_for=self.url_for_path,
            alt=alt,
            sizes=sizes,
            lazy=lazy,
            priority=priority,
            attrs=attrs,
        )
        return Markup(html)

    # -- preload hints ------------------------------------------------------------------

    def preloads(self, *names: str, include_self: bool = True) -> list[PreloadLink]:
        """The critical files of pages whose entries are ``names`` (``templating.preload``).

        Memoised per manifest (a page's list is the same on every request until a rebuild).
        """
        manifest = self._current()
        key = (names, include_self)
        if self._preload_for is not manifest:
            self._preload_cache.clear()
            self._preload_for = manifest
        links = self._preload_cache.get(key)
        if links is None:
            links = collect_preloads(
                manifest,
                names,
                url_for=self.url_for_path,
                crossorigin=self._crossorigin,
                integrity=self.config.integrity,
                include_self=include_self,
                module_scripts=self.config.module_scripts,
            )
            if len(self._preload_cache) >= 512:
                self._preload_cache.clear()
            self._preload_cache[key] = links
        return list(links)

    def preload_links(self, *names: str) -> Markup:
        """``<link rel="preload">`` tags for what ``names`` depend on (fonts a stylesheet
        uses, modules a script imports); the named files themselves have their own tags."""
        for name in names:
            self.entry(name)  # unknown names: the same error/log as the other helpers
        return Markup("".join(link.html() for link in self.preloads(*names, include_self=False)))

    def link_header(self, *names: str) -> str:
        """``Link`` header value preloading ``names`` and their critical dependencies."""
        return ", ".join(link.header() for link in self.preloads(*names))

    # -- Jinja --------------------------------------------------------------------------

    def install(self, target: Environment | Any) -> Environment:
        """Register the helpers as globals (and ``asset_url`` as a filter) on a Jinja
        ``Environment`` or on Starlette's ``Jinja2Templates``; returns the environment."""
        env = target if isinstance(target, Environment) else getattr(target, "env", None)
        if not isinstance(env, Environment):
            raise TypeError(
                f"Assets.install: {type(target).__name__} is not a Jinja environment. "
                "HINT: pass a jinja2.Environment or starlette's Jinja2Templates."
            )
        env.globals.update(
            asset_url=self._recording(self.url),
            stylesheet=self._recording(self.stylesheet),
            script=self._recording(self.script),
            picture=self._recording(self.picture),
            preload_links=self._recording(self.preload_links),
        )
        env.filters["asset_url"] = self.url
        return env

    def _recording(self, helper: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a helper so the names it renders are noted on the request scope."""

        @pass_context
        def call(context: Context, name: str, *args: Any, **kwargs: Any) -> Any:
            request = context.get("request")
            scope = getattr(request, "scope", None)
            if isinstance(scope, MutableMapping):
                used = scope.setdefault(PRELOAD_SCOPE_KEY, [])
                if isinstance(used, list) and name not in used:
                    used.append(name)
            return helper(name, *args, **kwargs)

        call.__name__ = getattr(helper, "__name__", "helper")
        call.__doc__ = helper.__doc__
        return call

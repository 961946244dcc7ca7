"""Options of the generated service worker: ``[tool.asset-pipeline.service-worker]``.

Parsed and validated here, in Python, because a mistake that reaches the browser
(a misspelt strategy, a regular expression JavaScript cannot compile) would only show
up as a silently broken worker on users' machines.

Example::

    [tool.asset-pipeline.service-worker]
    enabled = true
    offline_page = "offline.html"
    images = ["img/logo.*"]

    [[tool.asset-pipeline.service-worker.runtime]]
    name = "pages"
    navigate = true
    strategy = "network-first"
    network_timeout_seconds = 3

    [[tool.asset-pipeline.service-worker.runtime]]
    name = "api"
    path = "/api/**"
    strategy = "stale-while-revalidate"
    max_entries = 100
    max_age_seconds = 86400

A ``runtime`` array replaces the default rules. With ``base_url`` on a CDN, the CDN must
send CORS headers (the worker fetches in ``cors`` mode to check SRI), and ``sw.js``
itself must still be served from the site's own origin.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, cast

from asset_pipeline.config.pyproject import read_table
from asset_pipeline.errors import ConfigError

Strategy = Literal[
    "cache-first", "network-first", "stale-while-revalidate", "network-only", "cache-only"
]
STRATEGIES: tuple[str, ...] = (
    "cache-first",
    "network-first",
    "stale-while-revalidate",
    "network-only",
    "cache-only",
)
TABLE = "[tool.asset-pipeline.service-worker]"

#: Precached by default: stylesheets, scripts and fonts (globs over logical names and paths).
DEFAULT_PRECACHE = ("*.css", "*.js", "*.mjs", "*.woff2", "*.woff", "*.ttf", "*.otf")


class ServiceWorkerConfigError(ConfigError):
    """The service-worker table in pyproject.toml is invalid; the message says where."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeRule:
    """One runtime-caching rule; the first rule whose matcher fits a GET request wins.

    Exactly one matcher: ``navigate`` (page navigations), ``path`` (a glob over the
    same-origin path: ``*`` stays within a segment, ``**`` crosses them) or
    ``url_regex`` (a regular expression searched in the full URL, for other origins).
    ``include`` / ``exclude``: same-origin path globs a request must match / must not
    match on top of the matcher (e.g. ``exclude = ["/admin/**", "/**.pdf"]``).
    ``content_types``: media types of responses worth storing; navigation rules store
    only HTML by default (a PDF, JSON or download opened in a tab is not a page), other
    rules store any type. Downloads (``Content-Disposition: attachment``) are never
    stored by navigation rules.
    ``max_entries`` / ``max_bytes`` bound the cache by count and by body bytes; a hit
    moves an entry to the back, so the least recently *used* entries go first.
    ``max_age_seconds`` stops serving entries stored longer ago than that (opaque
    responses cannot be stamped, so only the other bounds apply to them).
    ``cache_opaque`` lets cross-origin no-cors responses (status unknown) be cached;
    off because an opaque error page would be served as if it were the real thing, and
    because Chromium charges every opaque entry several megabytes of quota whatever its
    size (padding, so its real size does not leak across origins): ``max_opaque_entries``
    (5) caps how many a rule keeps, and ``max_bytes`` counts each as 7 MiB.
    ``broadcast_update`` posts ``{type: "CACHE_UPDATED", cacheName, url}`` to every page
    when a refreshed response differs from the stored one (the registration script
    turns it into a ``sw:cache-updated`` event).
    """

    name: str
    strategy: Strategy
    navigate: bool = False
    path: str | None = None
    url_regex: str | None = None
    network_timeout_seconds: float | None = None
    max_entries: int | None = None
    max_age_seconds: int | None = None
    max_bytes: int | None = None
    cache_opaque: bool = False
    max_opaque_entries: int = 5
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    content_types: tuple[str, ...] | None = None
    broadcast_update: bool = False


#: Navigations go to the network first (fresh HTML), and fall back to the last copy after 3 s.
DEFAULT_RUNTIME = (
    RuntimeRule(
        name="pages",
        strategy="network-first",
        navigate=True,
        network_timeout_seconds=3.0,
        max_entries=50,
        max_age_seconds=7 * 24 * 3600,
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceWorkerConfig:
    """Everything the generator needs besides the manifest.

    - ``enabled`` (False): whether ``asset-pipeline build`` writes ``sw.js``.
    - ``precache`` (CSS, JS, fonts): globs or exact names (logical name, output path or
      deployed URL). An exact name missing from the manifest fails the build.
    - ``images`` (none): globs of images to precache, with their WebP/AVIF alternates
      when ``image_alternates`` (True), because ``<picture>`` never falls back.
    - ``max_file_size`` (2 MiB): glob matches above it are skipped, exact names fail.
    - ``offline_page`` (None): logical name of the page shown for failed navigations.
    - ``base_url`` (None): deployed URL prefix (a CDN); default the manifest's url_prefix.
    - ``runtime``: runtime-caching rules (default: network-first navigations).
    - ``skip_waiting`` / ``clients_claim`` (False): let a new worker take over open
      pages at once; off so a page never mixes old HTML with new assets.
    - ``integrity`` (True): precache requests carry the manifest's SRI hash.
    - ``cache_prefix`` ("asset-pipeline"): prefix of every cache this worker owns;
      on activation, other caches with this prefix are deleted.
    - ``filename`` ("sw.js"): output name inside the build directory.
    - ``navigation_preload`` (False): let the browser fetch pages while the worker
      starts (saves the worker's start-up time on navigations); the server sees
      ``Service-Worker-Navigation-Preload: true`` and must not vary the page on it.
    - ``retire`` (False): generate a worker that handles no request and deletes this
      worker's caches: deploy it at the same URL to switch the service worker off
      without stranding anyone (it takes over at once; pages then use the network).
    - ``minify`` (True): minify the worker with rjsmin when it is installed.
    - ``registration_script`` (True): also write the registration script as a
      fingerprinted file (manifest name ``sw-register.js``), for pages whose
      Content-Security-Policy forbids inline scripts.
    - ``ignore_url_parameters`` (``^utm_``, ``^fbclid$``): regular expressions over query
      parameter names dropped before a precache lookup (Workbox's
      ``ignoreURLParametersMatching``).
    - ``import_scripts`` (none): scripts the worker loads first with ``importScripts``
      (logical names of the build, or absolute URLs): custom worker code without
      forking the template. A fingerprinted name changes ``sw.js`` when it changes.
    - ``debug`` (False): the worker logs every strategy decision to its console.
    """

    enabled: bool = False
    precache: tuple[str, ...] = DEFAULT_PRECACHE
    images: tuple[str, ...] = ()
    image_alternates: bool = True
    max_file_size: int = 2 * 1024 * 1024
    offline_page: str | None = None
    base_url: str | None = None
    runtime: tuple[RuntimeRule, ...] = DEFAULT_RUNTIME
    skip_waiting: bool = False
    clients_claim: bool = False
    integrity: bool = True
    cache_prefix: str = "asset-pipeline"
    filename: str = "sw.js"
    navigation_preload: bool = False
    retire: bool = False
    minify: bool = True
    registration_script: bool = True
    ignore_url_parameters: tuple[str, ...] = ("^utm_", "^fbclid$")
    import_scripts: tuple[str, ...] = ()
    debug: bool = False


def _fail(where: str, what: str, hint: str) -> ServiceWorkerConfigError:
    return ServiceWorkerConfigError(f"{where}: {what}. HINT: {hint}")


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key.replace("-", "_") not in allowed:
            close = difflib.get_close_matches(key.replace("-", "_"), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(allowed)}"
            raise _fail(where, f"unknown key {key!r}", hint)


def _get(table: Mapping[str, Any], key: str) -> Any:
    return table.get(key, table.get(key.replace("_", "-")))


def _typed(value: Any, kind: type | tuple[type, ...], where: str, key: str, hint: str) -> Any:
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise _fail(where, f"{key!r} must be a number, not a boolean", hint)
    if not isinstance(value, kind):
        raise _fail(where, f"{key!r} has the wrong type ({type(value).__name__})", hint)
    return value


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise _fail(where, f"{key!r} must be a list of strings", f'write {key} = ["*.css"]')
    if not all(isinstance(v, str) and v for v in value):
        raise _fail(where, f"{key!r} must hold non-empty strings", "remove the empty entry")
    return tuple(value)


def _positive(value: Any, where: str, key: str, kind: type = int) -> Any:
    kinds: type | tuple[type, ...] = (int, float) if kind is float else int
    _typed(value, kinds, where, key, f"write {key} = 10")
    if value <= 0:
        raise _fail(where, f"{key!r} must be greater than 0 (got {value})", "use a positive value")
    return value


def parse_rule(table: Any, index: int) -> RuntimeRule:
    """Validate one ``[[tool.asset-pipeline.service-worker.runtime]]`` entry."""
    where = f"{TABLE[:-1]}.runtime][{index}]"
    if not isinstance(table, Mapping):
        raise _fail(
            where, "expected a table", "write [[tool.asset-pipeline.service-worker.runtime]]"
        )
    _check_keys(table, [f.name for f in fields(RuntimeRule)], where)
    strategy = _get(table, "strategy")
    if strategy not in STRATEGIES:
        close = difflib.get_close_matches(str(strategy), STRATEGIES, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(STRATEGIES)}"
        raise _fail(where, f"unknown strategy {strategy!r}", hint)
    navigate = bool(_typed(_get(table, "navigate") or False, bool, where, "navigate", "true/false"))
    path, url_regex = _get(table, "path"), _get(table, "url_regex")
    if sum((navigate, path is not None, url_regex is not None)) != 1:
        raise _fail(
            where,
            "needs exactly one of 'navigate', 'path' or 'url_regex'",
            'e.g. path = "/api/**" or navigate = true',
        )
    if path is not None:
        _typed(path, str, where, "path", 'write path = "/api/**"')
        if not path.startswith("/"):
            raise _fail(where, f"path {path!r} must start with '/'", f'write "/{path}"')
    if url_regex is not None:
        _typed(url_regex, str, where, "url_regex", "write a quoted regular expression")
        try:
            re.compile(url_regex)
        except re.error as exc:
            raise _fail(where, f"url_regex {url_regex!r} is invalid ({exc})", "fix it") from None
    timeout = _get(table, "network_timeout_seconds")
    if timeout is not None:
        _positive(timeout, where, "network_timeout_seconds", float)
        if strategy != "network-first":
            raise _fail(where, "network_timeout_seconds only applies to network-first", "drop it")
    max_entries, max_age = _get(table, "max_entries"), _get(table, "max_age_seconds")
    if max_entries is not None:
        _positive(max_entries, where, "max_entries")
    if max_age is not None:
        _positive(max_age, where, "max_age_seconds")
    max_bytes = _get(table, "max_bytes")
    if max_bytes is not None:
        _positive(max_bytes, where, "max_bytes")
    max_opaque = _get(table, "max_opaque_entries")
    if max_opaque is not None:
        _positive(max_opaque, where, "max_opaque_entries")
    globs: dict[str, tuple[str, ...]] = {}
    for key in ("include", "exclude"):
        value = _get(table, key)
        globs[key] = _strings(value, where, key) if value is not None else ()
        for glob in globs[key]:
            if not glob.startswith("/"):
                raise _fail(where, f"{key} glob {glob!r} must start with '/'", f'write "/{glob}"')
    types = _get(table, "content_types")
    content_types = _strings(types, where, "content_types") if types is not None else None
    for kind in content_types or ():
        if not re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", kind):
            raise _fail(where, f"content type {kind!r} is not a bare media type", '"text/html"')
    name = _get(table, "name") or f"rule{index}"
    _typed(name, str, where, "name", 'write name = "api"')
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise _fail(where, f"name {name!r} may only hold letters, digits, '_', '.', '-'", "rename")
    opaque = _typed(_get(table, "cache_opaque") or False, bool, where, "cache_opaque", "true/false")
    broadcast = _typed(
        _get(table, "broadcast_update") or False, bool, where, "broadcast_update", "true/false"
    )
    return RuntimeRule(
        name=name,
        strategy=cast(Strategy, strategy),
        navigate=navigate,
        path=path,
        url_regex=url_regex,
        network_timeout_seconds=float(timeout) if timeout is not None else None,
        max_entries=max_entries,
        max_age_seconds=max_age,
        max_bytes=max_bytes,
        cache_opaque=opaque,
        max_opaque_entries=max_opaque if max_opaque is not None else 5,
        include=globs["include"],
        exclude=globs["exclude"],
        content_types=content_types,
        broadcast_update=broadcast,
    )


def config_from_mapping(table: Mapping[str, Any] | None) -> ServiceWorkerConfig:
    """Build a config from the (possibly absent) TOML table; unknown keys are errors."""
    if table is None:
        return ServiceWorkerConfig()
    if not isinstance(table, Mapping):
        raise _fail(TABLE, "expected a table", "write [tool.asset-pipeline.service-worker]")
    _check_keys(table, [f.name for f in fields(ServiceWorkerConfig)], TABLE)
    options: dict[str, Any] = {}
    for f in fields(ServiceWorkerConfig):  # every boolean option, so none is forgotten
        if f.type == "bool" and (value := _get(table, f.name)) is not None:
            options[f.name] = _typed(value, bool, TABLE, f.name, f"write {f.name} = true")
    for key in ("precache", "images", "import_scripts", "ignore_url_parameters"):
        if (value := _get(table, key)) is not None:
            options[key] = _strings(value, TABLE, key)
    if (value := _get(table, "max_file_size")) is not None:
        options["max_file_size"] = _positive(value, TABLE, "max_file_size")
    for key in ("offline_page", "base_url", "cache_prefix", "filename"):
        if (value := _get(table, key)) is not None:
            options[key] = _typed(value, str, TABLE, key, f'write {key} = "..."')
    prefix = options.get("cache_prefix", "asset-pipeline")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", prefix):
        raise _fail(TABLE, f"cache_prefix {prefix!r} has unsafe characters", "use [A-Za-z0-9_.-]")
    filename = options.get("filename", "sw.js")
    if "/" in filename or "\\" in filename or not filename.endswith(".js"):
        raise _fail(TABLE, f"filename {filename!r} must be a plain *.js name", 'use "sw.js"')
    for pattern in options.get("ignore_url_parameters", ()):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _fail(
                TABLE, f"ignore_url_parameters entry {pattern!r} is invalid ({exc})", "fix it"
            ) from None
    if (value := _get(table, "runtime")) is not None:
        if not isinstance(value, list):
            raise _fail(TABLE, "'runtime' must be an array of tables", "use [[...runtime]]")
        rules = tuple(parse_rule(rule, i) for i, rule in enumerate(value))
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise _fail(TABLE, f"runtime rule names repeat ({names})", "give each a unique name")
        options["runtime"] = rules
    return ServiceWorkerConfig(**options)


def load_config(pyproject: str | os.PathLike[str]) -> ServiceWorkerConfig:
    """The service-worker options of a pyproject.toml (or a dedicated config file)."""
    table = read_table(Path(pyproject), explicit=True) or {}
    return config_from_mapping(table.get("service-worker"))

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
    ``max_entries`` trims the least recently stored entries; ``max_age_seconds`` stops
    serving entries stored longer ago than that (opaque responses cannot be stamped,
    so only ``max_entries`` bounds them). ``cache_opaque`` lets cross-origin no-cors
    responses (status unknown) be cached; off because an opaque error page would be
    served as if it were the real thing.
    """

    name: str
    strategy: Strategy
    navigate: bool = False
    path: str | None = None
    url_regex: str | None = None
    network_timeout_seconds: float | None = None
    max_entries: int | None = None
    max_age_seconds: int | None = None
    cache_opaque: bool = False


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
    name = _get(table, "name") or f"rule{index}"
    _typed(name, str, where, "name", 'write name = "api"')
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise _fail(where, f"name {name!r} may only hold letters, digits, '_', '.', '-'", "rename")
    opaque = _typed(_get(table, "cache_opaque") or False, bool, where, "cache_opaque", "true/false")
    return RuntimeRule(
        name=name,
        strategy=cast(Strategy, strategy),
        navigate=navigate,
        path=path,
        url_regex=url_regex,
        network_timeout_seconds=float(timeout) if timeout is not None else None,
        max_entries=max_entries,
        max_age_seconds=max_age,
        cache_opaque=opaque,
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
    for key in ("precache", "images"):
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

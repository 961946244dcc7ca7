"""Write ``docs/configuration.md``: every public name and every option, with its default.

Generated from the public API itself: the signatures of the constructors and functions users
call (``CALLABLES``) and the fields of the config dataclasses (``SECTIONS``), so the reference
cannot drift from the code. Every name in ``perf_middleware.__all__`` must have a section
here (the script refuses to write otherwise) and ``tests/test_docs.py`` fails when the file
is stale or a public name or option is missing.
Run: ``python scripts/config_reference.py`` or ``make docs`` (``--check`` only compares).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "configuration.md"

#: constructors and functions users call: (heading, "module:name", how it is used)
CALLABLES: list[tuple[str, str, str]] = [
    ("MemoryBackend", "perf_middleware.cache.backends.memory:MemoryBackend",
     "`PerformanceMiddleware(app, cache=MemoryBackend(...))`: one process's memory"),
    ("RedisBackend", "perf_middleware.cache.backends.redis:RedisBackend",
     "`PerformanceMiddleware(app, cache=RedisBackend(url, ...))`: shared by every worker"),
    ("CacheBackend", "perf_middleware.cache.backends.base:CacheBackend",
     "the protocol both backends implement (`app.cache.invalidate_tags([...])` and friends)"),
    ("@cached", "perf_middleware.cache.decorator:cached",
     "`@cached(ttl=60, backend=app.cache, tags=...)` on an `async def`"),
    ("StaticAssets", "perf_middleware.static:StaticAssets",
     "`PerformanceMiddleware(app, static=StaticAssets(directory, ...))`; "
     "its other keywords are the Static files options below"),
    ("Assets", "perf_middleware.templating:Assets",
     "`Assets(static_or_dist, ...).install(templates)`; "
     "its other keywords are the Template helpers options below"),
    ("PreloadHints", "perf_middleware.templating.preload:PreloadHints",
     "`app = PreloadHints(app, assets, ...)`; its other keywords are the Preload hints options"),
    ("WebVitals", "perf_middleware.templating.vitals:WebVitals",
     "`WebVitals(...).install(templates)`: `{{ web_vitals() }}` sends real-user Web Vitals "
     "to `AdminConfig(web_vitals=True)`"),
    ("Metrics", "perf_middleware.metrics.counters:Metrics",
     "`PerformanceMiddleware(app, metrics=Metrics(MetricsConfig(...)))`"),
    ("Assets.service_worker", "perf_middleware.templating:Assets.service_worker",
     "`{{ service_worker() }}` in a template: the `<script src>` loading the build's "
     "registration script (works under a strict Content-Security-Policy)"),
    ("registration_snippet", "asset_pipeline.sw.registration:registration_snippet",
     "`from asset_pipeline.sw import registration_snippet`: the inline `<script>` registering "
     "sw.js"),
    ("registration_hash", "asset_pipeline.sw.registration:registration_hash",
     "`from asset_pipeline.sw import registration_hash`: the CSP `'sha256-…'` source of "
     "the inline snippet"),
]  # fmt: skip

#: (heading, "module:Class", where it is set)
SECTIONS: list[tuple[str, str, str]] = [
    ("Compression", "perf_middleware.compression.codecs:CompressionConfig",
     "`PerformanceMiddleware(app, compression=CompressionConfig(...))`; `None` turns it off"),
    ("Compression: site dictionary",
     "perf_middleware.compression.site_dictionary:SiteDictionaryConfig",
     "`CompressionConfig(site_dictionary=SiteDictionaryConfig(path=...))`; write the file with "
     "`python -m perf_middleware.compression.training`"),
    ("Cache-Control policy rule", "perf_middleware.policy:Rule",
     "`PerformanceMiddleware(app, policy=Policy(rules=(Rule(...), ...)))`"),
    ("Cache-Control policy", "perf_middleware.policy:Policy",
     "`Policy.default(no_store=...)` gives the presets; `None` turns policy off"),
    ("Response cache", "perf_middleware.cache.config:CacheConfig",
     "`PerformanceMiddleware(app, cache=MemoryBackend(...), cache_config=CacheConfig(...))`"),
    ("Static files", "perf_middleware.static.config:StaticConfig",
     "`StaticAssets(directory, prefix=..., **options)`"),
    ("Template helpers", "perf_middleware.templating:AssetsConfig",
     "`Assets(static_or_dist, **options).install(templates)`"),
    ("Preload hints", "perf_middleware.templating.preload:PreloadConfig",
     "`PreloadHints(app, assets, **options)`"),
    ("Metrics", "perf_middleware.metrics.counters:MetricsConfig",
     "`PerformanceMiddleware(app, metrics=Metrics(MetricsConfig(...)))`; `None` turns it off"),
    ("Admin API", "perf_middleware.admin.config:AdminConfig",
     "`PerformanceMiddleware(app, admin=AdminConfig(token=...))`"),
    ("Build", "asset_pipeline.config:BuildConfig",
     "`[tool.asset-pipeline]` in pyproject.toml, or `asset-pipeline build --config FILE`"),
    ("Build: precompression", "asset_pipeline.config:PrecompressConfig",
     "`[tool.asset-pipeline.precompress]`"),
    ("Build: dictionary deltas", "asset_pipeline.config:DictionaryConfig",
     "`[tool.asset-pipeline.dictionaries]` (or `dictionaries = false`)"),
    ("Build: images", "asset_pipeline.processors.images.options:ImageOptions",
     "`[tool.asset-pipeline.images]` and `[[tool.asset-pipeline.images.rules]]` (with `glob`)"),
    ("Build: fonts", "asset_pipeline.processors.fonts:FontOptions",
     "`[tool.asset-pipeline.fonts]` and `[[tool.asset-pipeline.fonts.rules]]` (with `glob`)"),
    ("Service worker", "asset_pipeline.sw.config:ServiceWorkerConfig",
     "`[tool.asset-pipeline.service-worker]`"),
    ("Service worker: runtime rule", "asset_pipeline.sw.config:RuntimeRule",
     "`[[tool.asset-pipeline.service-worker.runtime]]`"),
    ("Upload", "asset_pipeline.upload.config:UploadConfig",
     "`[tool.asset-pipeline.upload]` and `asset-pipeline upload` flags"),
]  # fmt: skip


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    target: Any = importlib.import_module(module)
    for part in name.split("."):  # "Class.method" too
        target = getattr(target, part)
    return target


def _default(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        value: Any = field.default
    elif field.default_factory == Path.cwd:
        return "the current directory"  # its value depends on where the script runs
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "(required)"
    if callable(value) and hasattr(value, "__qualname__"):
        text = f"{getattr(value, '__module__', '')}.{value.__qualname__}".lstrip(".")
    elif isinstance(value, frozenset):
        text = "{" + ", ".join(sorted(repr(v) for v in value)) + "}"
    else:
        text = repr(value)
    text = text.replace("|", "\\|")
    return f"`{text}`" if len(text) <= 120 else f"`{text[:117]}...`"


def _type(field: dataclasses.Field[Any]) -> str:
    text = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    return f"`{text}`".replace("|", "\\|")


def _doc(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return "\n".join(line.rstrip() for line in doc.splitlines())


def _cell(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"`{text}`" if len(text) <= 120 else f"`{text[:117]}...`"


def _param_default(param: inspect.Parameter) -> str:
    value = param.default
    if value is inspect.Parameter.empty:
        return "(required)"
    if repr(value).startswith("<object"):  # a sentinel: "use a default instance"
        return "a default instance"
    if callable(value) and hasattr(value, "__qualname__"):
        return _cell(f"{getattr(value, '__module__', '')}.{value.__qualname__}".lstrip("."))
    return _cell(repr(value))


def _options(obj: Any) -> list[inspect.Parameter]:
    """The parameters a user passes: ``self`` and ``**options`` left out."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(obj) or (params and params[0].name == "self"):  # a class or a method
        params = params[1:]
    return [p for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def _protocol_methods(cls: Any) -> list[str]:
    rows = ["| method | what it does |", "|---|---|"]
    for name, member in sorted(vars(cls).items()):
        if name.startswith("_") or not callable(member):
            continue
        summary = (inspect.getdoc(member) or "").split("\n\n")[0].replace("\n", " ")
        summary = summary.replace("|", "\\|")
        rows.append(f"| `{name}{inspect.signature(member)}` | {summary} |")
    return rows


def _callable_section(heading: str, obj: Any, how: str) -> list[str]:
    lines = [f"## {heading}", "", f"Used as {how}.", ""]
    if getattr(obj, "_is_protocol", False):
        lines += [*_protocol_methods(obj), ""]
    else:
        rows = ["| option | type | default |", "|---|---|---|"]
        for p in _options(obj):
            kind = p.annotation if isinstance(p.annotation, str) else ""
            rows.append(f"| `{p.name}` | {_cell(kind) if kind else ''} | {_param_default(p)} |")
        lines += [*rows, ""]
    doc = _doc(obj)
    return [*lines, doc, ""] if doc else lines


def _middleware_section() -> list[str]:
    from perf_middleware.middleware import PerformanceMiddleware

    return _callable_section(
        "PerformanceMiddleware", PerformanceMiddleware, "`PerformanceMiddleware(app, **options)`"
    )


def _check_public_names() -> None:
    """Every name ``perf_middleware`` exports has a section: the script refuses otherwise."""
    import perf_middleware

    covered = {"PerformanceMiddleware", "__version__"}
    covered |= {ref.rpartition(":")[2] for _, ref, _ in CALLABLES + SECTIONS}
    missing = sorted(set(perf_middleware.__all__) - covered)
    if missing:
        raise SystemExit(
            f"public names without a section: {', '.join(missing)}. HINT: add them to "
            "CALLABLES or SECTIONS in scripts/config_reference.py."
        )


def render() -> str:
    _check_public_names()
    out = [
        "# Configuration reference",
        "",
        "Generated by `scripts/config_reference.py` from the code; do not edit by hand.",
        "Every option has a default: nothing here must be set to get started.",
        "",
        *_middleware_section(),
    ]
    for heading, ref, how in CALLABLES:
        out += _callable_section(heading, _load(ref), how)
    for heading, ref, where in SECTIONS:
        cls = _load(ref)
        out += [f"## {heading} (`{cls.__name__}`)", "", f"Set with {where}.", ""]
        doc = _doc(cls)
        if doc:
            out += [doc, ""]
        out += ["| option | type | default |", "|---|---|---|"]
        for field in dataclasses.fields(cls):
            if field.name.startswith("_") or not field.init:
                continue
            out.append(f"| `{field.name}` | {_type(field)} | {_default(field)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(
                f"{TARGET} is stale (a public name or option changed). HINT: run "
                "`python scripts/config_reference.py` (or `make docs`) and commit the result."
            )
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

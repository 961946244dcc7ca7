"""Write ``docs/configuration.md``: every option of every component with its default.

Generated from the config dataclasses and ``PerformanceMiddleware``'s signature, so the
reference cannot drift from the code (``tests/test_docs.py`` fails when it is stale).
Run: ``python scripts/config_reference.py`` (``--check`` only compares).
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

#: (heading, "module:Class", where it is set)
SECTIONS: list[tuple[str, str, str]] = [
    ("Compression", "perf_middleware.compression.codecs:CompressionConfig",
     "`PerformanceMiddleware(app, compression=CompressionConfig(...))`; `None` turns it off"),
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
    return getattr(importlib.import_module(module), name)


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


def _middleware_section() -> list[str]:
    from perf_middleware.middleware import PerformanceMiddleware

    lines = [
        "## PerformanceMiddleware",
        "",
        "`PerformanceMiddleware(app, **options)`; every option is keyword-only.",
        "",
        "| option | default |",
        "|---|---|",
    ]
    for name, param in inspect.signature(PerformanceMiddleware.__init__).parameters.items():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        default = param.default
        text = "a default instance" if repr(default).startswith("<object") else repr(default)
        lines.append(f"| `{name}` | `{text}` |")
    doc = _doc(PerformanceMiddleware)
    return [*lines, "", doc, ""] if doc else [*lines, ""]


def render() -> str:
    out = [
        "# Configuration reference",
        "",
        "Generated by `scripts/config_reference.py` from the code; do not edit by hand.",
        "Every option has a default: nothing here must be set to get started.",
        "",
        *_middleware_section(),
    ]
    for heading, ref, where in SECTIONS:
        cls = _load(ref)
        out += [f"## {heading}", "", f"Set with {where}.", ""]
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
            print(f"{TARGET} is stale. HINT: run python scripts/config_reference.py")
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

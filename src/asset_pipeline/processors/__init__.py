"""Per-type processors. ``PROCESSOR_KINDS`` maps a file extension to a processor kind;
``load_processor(kind)`` imports its function lazily, so a build touching no images
never imports Pillow."""

from __future__ import annotations

import importlib

from asset_pipeline.processors.base import (
    ExtraOutput,
    ProcessContext,
    ProcessingError,
    Processor,
    ProcessorOutput,
)

__all__ = [
    "PROCESSOR_KINDS",
    "ExtraOutput",
    "ProcessContext",
    "ProcessingError",
    "Processor",
    "ProcessorOutput",
    "load_processor",
    "processor_module",
]

#: file extension (lower case, with dot) -> processor kind
PROCESSOR_KINDS: dict[str, str] = {
    ".css": "css",
    ".js": "js",
    ".mjs": "js",
    ".png": "images",
    ".jpg": "images",
    ".jpeg": "images",
    ".gif": "images",
    ".ttf": "fonts",
    ".otf": "fonts",
    ".woff": "fonts",
    ".woff2": "fonts",
}

#: processor kind -> "module:function"
_PROCESSOR_FUNCTIONS: dict[str, str] = {
    "css": "asset_pipeline.processors.css:process_css",
    "js": "asset_pipeline.processors.js:process_js",
    "images": "asset_pipeline.processors.images:process_image",
    "fonts": "asset_pipeline.processors.fonts:process_font",
}


def processor_module(kind: str) -> str:
    """The module holding ``kind``'s processor (not imported: it may not be installed)."""
    return _PROCESSOR_FUNCTIONS[kind].partition(":")[0]


def load_processor(kind: str) -> Processor:
    module_name, _, func = _PROCESSOR_FUNCTIONS[kind].partition(":")
    module = importlib.import_module(module_name)
    processor: Processor = getattr(module, func)
    return processor

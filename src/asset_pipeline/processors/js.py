"""JavaScript minification with rjsmin.

rjsmin removes whitespace and comments and never renames or reorders, so it cannot
change meaning; the price is a larger output than terser (see TARGETS.md). Options
(``[tool.asset-pipeline.js]``, per-glob rules allowed): ``minify`` (default true),
``keep_bang_comments`` (default true).

Files carrying a ``sourceMappingURL`` are already built and are kept as they are, so
their source maps stay accurate.
"""

from __future__ import annotations

import rjsmin

from asset_pipeline.processors.base import ProcessContext, ProcessingError, ProcessorOutput
from asset_pipeline.references import has_trailing_sourcemap

PROCESSOR_VERSION = f"rjsmin-{rjsmin.__version__}-1"


def process_js(data: bytes, ctx: ProcessContext) -> ProcessorOutput:
    minify = _bool_option(ctx, "minify", True)
    keep_bang = _bool_option(ctx, "keep_bang_comments", True)
    if not minify:
        return ProcessorOutput(data=data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProcessingError(
            ctx.logical_name,
            f"not valid UTF-8 at byte {exc.start}. HINT: save the script as UTF-8.",
        ) from None
    if has_trailing_sourcemap(text):
        return ProcessorOutput(data=data)
    minified: str = rjsmin.jsmin(text, keep_bang_comments=keep_bang)
    return ProcessorOutput(data=minified.encode("utf-8"))


def _bool_option(ctx: ProcessContext, key: str, default: bool) -> bool:
    value = ctx.options.get(key, default)
    if not isinstance(value, bool):
        raise ProcessingError(
            ctx.logical_name,
            f"option {key} = {value!r} must be true or false. "
            "HINT: fix [tool.asset-pipeline.js] or the matching rule.",
        )
    return value

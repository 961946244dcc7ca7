"""CSS minification with rcssmin.

rcssmin is a conservative minifier (whitespace and comments only, ``calc(a + b)`` and
custom properties kept), which is what makes it safe to run over third-party CSS. Options
(``[tool.asset-pipeline.css]``, per-glob rules allowed): ``minify`` (default true),
``keep_bang_comments`` (default true: ``/*! license */`` survives).

A file that ends with a ``sourceMappingURL`` comment is left as it is: it is already
somebody's build output, and re-minifying it would make its source map lie.
"""

from __future__ import annotations

import rcssmin

from asset_pipeline.processors.base import ProcessContext, ProcessingError, ProcessorOutput
from asset_pipeline.references import has_trailing_sourcemap

PROCESSOR_VERSION = f"rcssmin-{rcssmin.__version__}-1"


def process_css(data: bytes, ctx: ProcessContext) -> ProcessorOutput:
    minify = _bool_option(ctx, "minify", True)
    keep_bang = _bool_option(ctx, "keep_bang_comments", True)
    if not minify:
        return ProcessorOutput(data=data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProcessingError(
            ctx.logical_name,
            f"not valid UTF-8 at byte {exc.start}. HINT: save the stylesheet as UTF-8.",
        ) from None
    if has_trailing_sourcemap(text):
        return ProcessorOutput(data=data)
    minified: str = rcssmin.cssmin(text, keep_bang_comments=keep_bang)
    return ProcessorOutput(data=minified.encode("utf-8"))


def _bool_option(ctx: ProcessContext, key: str, default: bool) -> bool:
    value = ctx.options.get(key, default)
    if not isinstance(value, bool):
        raise ProcessingError(
            ctx.logical_name,
            f"option {key} = {value!r} must be true or false. "
            "HINT: fix [tool.asset-pipeline.css] or the matching rule.",
        )
    return value

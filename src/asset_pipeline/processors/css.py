"""CSS minification with rcssmin.

rcssmin is a conservative minifier (whitespace and comments only, ``calc(a + b)`` and
custom properties kept), which is what makes it safe to run over third-party CSS. Options
(``[tool.asset-pipeline.css]``, per-glob rules allowed): ``minify`` (default true),
``keep_bang_comments`` (default true: ``/*! license */`` survives). Files ending with a
``sourceMappingURL`` are kept as they are (see ``_minify``).
"""

from __future__ import annotations

import rcssmin

from asset_pipeline.processors._minify import minify_text
from asset_pipeline.processors.base import ProcessContext, ProcessorOutput


def _cssmin(text: str, keep_bang_comments: bool) -> str:
    result: str = rcssmin.cssmin(text, keep_bang_comments=keep_bang_comments)
    return result


def process_css(data: bytes, ctx: ProcessContext) -> ProcessorOutput:
    return minify_text(data, ctx, kind="css", what="stylesheet", minifier=_cssmin)

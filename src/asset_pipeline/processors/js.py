"""JavaScript minification with rjsmin.

rjsmin removes whitespace and comments and never renames or reorders, so it cannot
change meaning; the price is a somewhat larger output than terser. Options
(``[tool.asset-pipeline.js]``, per-glob rules allowed): ``minify`` (default true),
``keep_bang_comments`` (default true). Files carrying a ``sourceMappingURL`` are kept as
they are, so their source maps stay accurate (see ``_minify``).
"""

from __future__ import annotations

import rjsmin

from asset_pipeline.processors._minify import minify_text
from asset_pipeline.processors.base import ProcessContext, ProcessorOutput


def _jsmin(text: str, keep_bang_comments: bool) -> str:
    result: str = rjsmin.jsmin(text, keep_bang_comments=keep_bang_comments)
    return result


def process_js(data: bytes, ctx: ProcessContext) -> ProcessorOutput:
    return minify_text(data, ctx, kind="js", what="script", minifier=_jsmin)

"""The one minification step CSS and JS share: options, UTF-8 check, source-map rule.

A file that ends with a ``sourceMappingURL`` comment is left as it is: it is already
somebody's build output, and re-minifying it would make its source map lie.
"""

from __future__ import annotations

from collections.abc import Callable

from asset_pipeline.processors.base import ProcessContext, ProcessingError, ProcessorOutput
from asset_pipeline.refs import has_trailing_sourcemap

#: ``minifier(text, keep_bang_comments)`` -> minified text
Minifier = Callable[[str, bool], str]


def minify_text(
    data: bytes, ctx: ProcessContext, *, kind: str, what: str, minifier: Minifier
) -> ProcessorOutput:
    """Minify ``data`` unless ``minify = false``; ``kind`` names the config table
    (``css``/``js``) and ``what`` the file in messages (``stylesheet``/``script``)."""
    minify = _bool_option(ctx, kind, "minify", True)
    keep_bang = _bool_option(ctx, kind, "keep_bang_comments", True)
    if not minify:
        return ProcessorOutput(data=data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProcessingError(
            ctx.logical_name,
            f"not valid UTF-8 at byte {exc.start}. HINT: save the {what} as UTF-8.",
        ) from None
    if has_trailing_sourcemap(text):
        return ProcessorOutput(data=data)
    return ProcessorOutput(data=minifier(text, keep_bang).encode("utf-8"))


def _bool_option(ctx: ProcessContext, kind: str, key: str, default: bool) -> bool:
    value = ctx.options.get(key, default)
    if not isinstance(value, bool):
        raise ProcessingError(
            ctx.logical_name,
            f"option {key} = {value!r} must be true or false. "
            f"HINT: fix [tool.asset-pipeline.{kind}] or the matching rule.",
        )
    return value

"""Which characters a site actually shows, for subsetting fonts by usage (glyphhanger-style).

The scan over-approximates on purpose: keeping a glyph nobody uses costs a few bytes,
dropping one that is used shows a fallback glyph or tofu. So HTML/Jinja contributes text,
visible attribute values and every string literal inside ``{{ }}``/``{% %}``/``<script>``;
Markdown and unknown text files contribute every character; JSON contributes every string
value; CSS (files and ``<style>`` blocks) contributes the strings of the properties that
render text (``content``, ``quotes``, list markers, ``@counter-style`` symbols), with CSS
escapes such as ``"\\f015"`` decoded, which is where icon fonts put their code points.
Digits, ASCII punctuation and common typographic punctuation are always included.
Text that exists only at run time (database rows, user names) cannot be seen here;
cover it with the font's ``unicode_ranges`` or ``text`` options.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path

from asset_pipeline.errors import AssetPipelineError
from asset_pipeline.file_tree import TreeError, regular_files

__all__ = [
    "ALWAYS_INCLUDED",
    "UsageScanError",
    "content_files",
    "css_text_codepoints",
    "format_unicode_range",
    "parse_unicode_ranges",
    "scan_paths",
    "scan_text",
]

#: space, digits, ASCII punctuation, NBSP, curly quotes, dashes, ellipsis, bullet
ALWAYS_INCLUDED: frozenset[int] = frozenset(
    [0x20, 0xA0, 0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2026]
    + [c for c in range(0x21, 0x7F) if not chr(c).isalnum()]
    + list(range(0x30, 0x3A))
)

HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".jinja", ".jinja2", ".j2", ".njk", ".svg"})
_VISIBLE_ATTRS = frozenset(
    {"alt", "title", "placeholder", "value", "label", "aria-label", "aria-description", "content"}
)
_TEXT_PROPS = (
    r"content|quotes|list-style(?:-type)?|symbols|additive-symbols|prefix|suffix|pad|negative"
)
_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.S)
_CSS_STRING = re.compile(r""""((?:[^"\\\n]|\\.|\\\n)*)"|'((?:[^'\\\n]|\\.|\\\n)*)'""", re.S)
_CSS_DECL = re.compile(
    rf"(?<![\w-])(?:{_TEXT_PROPS})\s*:((?:{_CSS_STRING.pattern}|[^;{{}}\"'])*)", re.S | re.I
)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n\r\f]?|\n|(.))", re.S)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_JINJA_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_CODE_STRING = re.compile(r""""((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|`((?:[^`\\]|\\.)*)`""", re.S)


class UsageScanError(AssetPipelineError, ValueError):
    """A content file could not be scanned; the message names the file and the fix."""


def _css_unescape(body: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            cp = int(m.group(1), 16)
            return chr(cp) if 0 < cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF else "\ufffd"
        return m.group(2) or ""  # "\<newline>" is a line continuation

    return _CSS_ESCAPE.sub(sub, body)


def css_text_codepoints(css: str) -> set[int]:
    """Code points in the strings of text-rendering CSS properties, escapes decoded."""
    css = _CSS_COMMENT.sub(" ", _protect_strings_from_comments(css))
    found: set[int] = set()
    for decl in _CSS_DECL.finditer(css):
        for m in _CSS_STRING.finditer(decl.group(1)):
            found.update(map(ord, _css_unescape(m.group(1) or m.group(2) or "")))
    return found


def _protect_strings_from_comments(css: str) -> str:
    """Replace ``/*`` inside strings so the comment stripper cannot eat real declarations."""
    return _CSS_STRING.sub(lambda m: m.group(0).replace("/*", "/\\2a "), css)


def _code_strings(code: str) -> str:
    """String literals of template expressions or scripts, joined: they may be rendered."""
    parts = []
    for m in _CODE_STRING.finditer(code):
        text = next(g for g in m.groups() if g is not None)
        try:
            text = json.loads(f'"{text}"') if "\\" in text else text
        except ValueError:
            pass
        parts.append(text)
    return " ".join(parts)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.css: list[str] = []
        self._raw: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._raw = tag if tag in ("script", "style") else None
        for name, value in attrs:
            if value and name in _VISIBLE_ATTRS:
                self.chunks.append(value)
            elif value and name == "style":
                self.css.append(value)

    def handle_endtag(self, tag: str) -> None:
        self._raw = None

    def handle_data(self, data: str) -> None:
        if self._raw == "style":
            self.css.append(data)
        elif self._raw == "script":
            self.chunks.append(_code_strings(data))
        else:
            self.chunks.append(data)


def _scan_html(text: str) -> set[int]:
    text = _JINJA_COMMENT.sub(" ", text)
    text = _JINJA_BLOCK.sub(lambda m: " " + _code_strings(m.group(0)) + " ", text)
    parser = _TextCollector()
    parser.feed(text)
    parser.close()
    found = {ord(c) for chunk in parser.chunks for c in chunk}
    for css in parser.css:
        found |= css_text_codepoints(css)
    return found


def _json_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _json_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _json_strings(v)


def scan_text(text: str, suffix: str, *, source: str = "<text>") -> set[int]:
    """Code points ``text`` shows, read according to its file ``suffix`` (``.html``, ...)."""
    suffix = suffix.lower()
    if suffix in HTML_SUFFIXES:
        found = _scan_html(text)
    elif suffix == ".css":
        found = css_text_codepoints(text)
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageScanError(
                f"{source}: not valid JSON ({exc}). HINT: fix the file or drop it from "
                "the font usage content globs."
            ) from None
        found = {ord(c) for s in _json_strings(data) for c in s}
    else:  # Markdown, plain text: every character may be shown
        found = {ord(c) for c in html.unescape(text)}
    return {c for c in found if c >= 0x20 and not 0x7F <= c < 0xA0}


def content_files(
    root: Path, pattern: str, *, allow_symlink_targets: Iterable[Path] = ()
) -> list[Path]:
    """The regular files under ``root`` that the glob ``pattern`` matches, sorted.

    They are only scanned, never published, but a glob must neither hang the build on a
    FIFO nor read through a link out of the project, so ``file_tree``'s rules apply:
    raises ``file_tree.TreeError`` for those, UsageScanError for a pattern that is not
    a usable glob."""
    try:
        paths = sorted(root.glob(pattern))
    except (NotImplementedError, ValueError) as exc:
        raise UsageScanError(
            f"{pattern!r}: not a usable content glob ({exc}). HINT: write globs relative "
            "to the project root, e.g. 'templates/**/*.html'."
        ) from None
    hint = (
        "copy the file into the project, or name its directory in allow_symlink_targets "
        "in [tool.asset-pipeline]."
    )
    return regular_files(
        paths,
        root=root,
        allow_symlink_targets=allow_symlink_targets,
        hint=hint,
        fix_special="narrow the font usage content globs",
    )


def scan_paths(
    root: Path, globs: Iterable[str], *, allow_symlink_targets: Iterable[Path] = ()
) -> frozenset[int]:
    """Scan every file under ``root`` matching ``globs``; always adds ``ALWAYS_INCLUDED``.
    Links may point inside ``root`` or into ``allow_symlink_targets``."""
    found: set[int] = set(ALWAYS_INCLUDED)
    patterns = list(globs)
    allowed = tuple(allow_symlink_targets)
    matched = False
    for pattern in patterns:
        try:
            paths = content_files(root, pattern, allow_symlink_targets=allowed)
        except TreeError as exc:
            raise UsageScanError("\n".join(exc.problems)) from None
        for path in paths:
            matched = True
            try:
                text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as exc:
                raise UsageScanError(
                    f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}). HINT: save "
                    "it as UTF-8 or exclude it from the font usage content globs."
                ) from None
            found |= scan_text(text, path.suffix, source=str(path))
    if patterns and not matched:
        raise UsageScanError(
            f"{root}: the font usage content globs {patterns} match no file, so a subset "
            "would drop every letter. HINT: fix the globs (relative to the project root)."
        )
    return frozenset(found)


def parse_unicode_ranges(spec: Iterable[str], *, where: str = "unicode_ranges") -> set[int]:
    """``["U+0000-00FF", "U+20AC", "U+4??"]`` (CSS ``unicode-range`` syntax) -> code points."""
    out: set[int] = set()
    for item in spec:
        for part in item.split(","):
            token = part.strip().upper()
            m = re.fullmatch(r"U\+([0-9A-F?]{1,6})(?:-([0-9A-F]{1,6}))?", token)
            if not m or ("?" in m.group(1) and m.group(2)):
                raise UsageScanError(
                    f"{where}: {part.strip()!r} is not a unicode range. "
                    "HINT: write ranges like 'U+0000-00FF', 'U+20AC' or 'U+4??'."
                )
            first = m.group(1)
            lo, hi = int(first.replace("?", "0"), 16), int(first.replace("?", "F"), 16)
            if m.group(2):
                hi = int(m.group(2), 16)
            if lo > hi or hi > 0x10FFFF:
                raise UsageScanError(f"{where}: {part.strip()!r} is an empty or too large range.")
            out.update(range(lo, hi + 1))
    return out


def format_unicode_range(codepoints: Iterable[int]) -> str:
    """Sorted code points -> the shortest ``U+41-5A, U+61`` list of runs."""
    runs: list[tuple[int, int]] = []
    for cp in sorted(set(codepoints)):
        if runs and cp == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], cp)
        else:
            runs.append((cp, cp))
    return ", ".join(f"U+{a:X}" if a == b else f"U+{a:X}-{b:X}" for a, b in runs)

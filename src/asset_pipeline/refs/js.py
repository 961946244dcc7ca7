"""Find the module specifiers and asset URLs an ES module references.

A scanner, not a parser: it knows enough of the lexical grammar (strings, template
literals with nested ``${}``, comments, regular-expression literals) that text which only
*looks* like an import — inside a string, a template, a comment or a regex — is never
mistaken for one. On the token stream it recognises ``import … from '…'``,
``import '…'``, ``export … from '…'``, ``import('…')`` with a static string,
``new URL('…', import.meta.url)`` and ``//# sourceMappingURL=…``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from asset_pipeline.refs import SOURCEMAP, LineIndex, RawRef

# Whitespace is skipped in the same match as the token after it (``other`` never matches
# whitespace, so only trailing whitespace fails to match).
_TOKEN = re.compile(
    r"""
    [\s\ufeff]*
    (?:
    (?P<line_comment>//[^\n\r\u2028\u2029]*)
  | (?P<block_comment>/\*[\s\S]*?(?:\*/|\Z))
  | (?P<string>"(?:[^"\\\n\r]|\\[\s\S])*"?|'(?:[^'\\\n\r]|\\[\s\S])*'?)
  | (?P<name>\#?[^\x00-\x23\x25-\x40\x5b-\x5e\x60\x7b-\x7f]
              [^\x00-\x23\x25-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]*)
  | (?P<number>\.?\d[\w.]*)
  | (?P<punct>\?\.|=>|\.\.\.|\+\+|--|[-+*/%&|^!<>=?]=?|[(){}\[\];,.:~@`])
  | (?P<other>[^\s\ufeff])
    )
    """,
    re.VERBOSE,
)
_REGEX = re.compile(r"/(?:[^/\\\[\n\r]|\\[^\n\r]|\[(?:[^\]\\\n\r]|\\[^\n\r])*\])+/[\w$]*")
_TEMPLATE_CHUNK = re.compile(r"(?:[^`\\$]|\\[\s\S]?|\$(?!\{))*(`|\$\{|\Z)")
_SOURCEMAP = re.compile(r"(?://|/\*)[#@][ \t]+sourceMappingURL=([^\s*'\"]+)")
_ESCAPE = re.compile(r"\\(?:u\{([0-9a-fA-F]+)\}|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([\s\S]))")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}

# After these keywords an expression starts, so "/" opens a regular expression.
_REGEX_AFTER_WORD = frozenset(
    [
        "return",
        "typeof",
        "instanceof",
        "in",
        "of",
        "new",
        "delete",
        "void",
        "throw",
        "case",
        "do",
        "else",
        "yield",
        "await",
    ]
)
# After these punctuators "/" is division.
_DIVISION_AFTER = frozenset([")", "]", "++", "--"])


class _Tok(NamedTuple):
    type: str  # name punct string template number regex
    value: str
    start: int
    end: int


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body

    def sub(m: re.Match[str]) -> str:
        code = m.group(1) or m.group(2) or m.group(3)
        if code:
            return chr(int(code, 16))
        ch = m.group(4)
        if ch in "\r\n\u2028\u2029":
            return ""
        return _SIMPLE.get(ch, ch)

    return _ESCAPE.sub(sub, body)


def _scan(text: str, refs: list[RawRef]) -> list[_Tok]:
    """Significant tokens of ``text``; source-map comments go straight into ``refs``."""
    toks: list[_Tok] = []
    braces: list[bool] = []  # True for a "${" opened inside a template literal
    pos = 0
    n = len(text)
    match = _TOKEN.match
    while pos < n:
        m = match(text, pos)
        if m is None:  # only whitespace is left
            break
        kind = m.lastgroup or "other"
        start = m.start(kind)
        end = m.end()
        if kind == "string":
            toks.append(_Tok("string", text[start:end], start, end))
        elif kind == "line_comment" or kind == "block_comment":
            sm = _SOURCEMAP.match(text, start, end)
            if sm:
                refs.append(
                    RawRef(SOURCEMAP, sm.group(1), sm.start(1), sm.end(1), 0, comment=(start, end))
                )
        else:
            value = text[start:end]
            if kind == "punct":
                if value == "/" or value == "/=":  # a comment would have matched above
                    if _regex_allowed(toks):
                        rm = _REGEX.match(text, start)
                        if rm:
                            toks.append(_Tok("regex", rm.group(0), start, rm.end()))
                            pos = rm.end()
                            continue
                elif value == "`" or (value == "}" and braces and braces[-1]):
                    if value == "}":
                        braces.pop()
                    tm = _TEMPLATE_CHUNK.match(text, start + 1)
                    assert tm is not None
                    if tm.group(1) == "${":
                        braces.append(True)
                    toks.append(_Tok("template", "", start, tm.end()))
                    pos = tm.end()
                    continue
                elif value == "{":
                    braces.append(False)
                elif value == "}" and braces:
                    braces.pop()
            elif kind == "other":
                kind = "punct"
            toks.append(_Tok(kind, value, start, end))
        pos = end
    return toks


def _regex_allowed(toks: list[_Tok]) -> bool:
    if not toks:
        return True
    last = toks[-1]
    if last.type == "name":
        member = len(toks) > 1 and toks[-2].value in (".", "?.")  # ``a.return / 2``
        return last.value in _REGEX_AFTER_WORD and not member
    if last.type == "punct":
        return last.value not in _DIVISION_AFTER
    return False  # after a string, number, regex or template: division


def _string_ref(kind: str, tok: _Tok) -> RawRef:
    raw = tok.value
    closed = len(raw) >= 2 and raw[-1] == raw[0]
    inner_end = tok.end - 1 if closed else tok.end
    return RawRef(
        kind,
        _unescape(raw[1 : len(raw) - 1 if closed else None]),
        tok.start + 1,
        inner_end,
        0,
        quote=raw[0],
    )


def _is(toks: list[_Tok], i: int, value: str) -> bool:
    return 0 <= i < len(toks) and toks[i].value == value and toks[i].type in ("punct", "name")


# Every construct above spells one of these words; a file without any (a UMD or IIFE bundle,
# a minified library) has no reference to find, and one regex search is far cheaper than
# tokenizing megabytes. ``exports``/``importScripts`` do not count: whole words only.
_MAYBE_REFERENCES = re.compile(r"\b(?:import|export)\b|sourceMappingURL")


def find_references(text: str) -> list[RawRef]:
    """All references in ``text`` in source order (see the module docstring)."""
    if _MAYBE_REFERENCES.search(text) is None:
        return []
    refs: list[RawRef] = []
    toks = _scan(text, refs)
    pending = False  # inside an ``import …``/``export …`` declaration awaiting ``from``
    for i, tok in enumerate(toks):
        if tok.type == "punct":
            if tok.value in (";", "(", "=") or (tok.value == "}" and not pending):
                pending = False
            continue
        if tok.type != "name":
            continue
        word = tok.value
        if word == "import" or word == "export":
            if _is(toks, i - 1, ".") or _is(toks, i - 1, "?."):
                continue  # a member named import/export (``a.import``)
            if word == "export":
                pending = True
                continue
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if nxt is None:
                continue
            if nxt.type == "string":
                refs.append(_string_ref("module", nxt))
            elif _is(toks, i + 1, "("):
                arg = toks[i + 2] if i + 2 < len(toks) else None
                if (
                    arg is not None
                    and arg.type == "string"
                    and (_is(toks, i + 3, ")") or _is(toks, i + 3, ","))
                ):
                    refs.append(_string_ref("dynamic-import", arg))
            elif not _is(toks, i + 1, "."):
                pending = True
        elif word == "from" and pending and i + 1 < len(toks) and toks[i + 1].type == "string":
            refs.append(_string_ref("module", toks[i + 1]))
            pending = False
        elif word == "new" and _is(toks, i + 1, "URL") and _is(toks, i + 2, "("):
            arg = toks[i + 3] if i + 3 < len(toks) else None
            if (
                arg is not None
                and arg.type == "string"
                and _is(toks, i + 4, ",")
                and [t.value for t in toks[i + 5 : i + 10]] == ["import", ".", "meta", ".", "url"]
            ):
                refs.append(_string_ref("import-meta-url", arg))
    lines = LineIndex(text)
    out = [
        RawRef(r.kind, r.url, r.start, r.end, lines.line(r.start), r.quote, r.comment) for r in refs
    ]
    out.sort(key=lambda r: r.start)
    return out


def is_local_specifier(url: str) -> bool:
    """Bare specifiers (``lodash``, ``node:fs``) belong to an import map or bundler."""
    return url.startswith(("./", "../", "/"))

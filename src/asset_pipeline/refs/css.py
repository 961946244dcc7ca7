"""Find the URLs a stylesheet references, with a tokenizer that follows CSS Syntax Level 3.

Regexes over raw CSS are what make other pipelines rewrite ``url()`` inside comments and
strings and then fail; tokenizing first means a comment is one token and a string is
one token, so only real ``url()`` tokens, ``url("…")``/``src("…")`` functions, ``@import``
strings and strings directly inside ``image-set()`` count as references.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from asset_pipeline.refs import SOURCEMAP, LineIndex, RawRef

# Negated ASCII classes (letters, digits, "-", "_" and all non-ASCII stay) rather than
# ``[\w\u0080-\U0010ffff]``: ``re`` builds them without expanding a Unicode range, and
# every build imports them.
_ESCAPED = r"\\[^\n\r\f0-9a-fA-F]|\\[0-9a-fA-F]{1,6}\s?"
_NAME_CHAR = rf"(?:[^\x00-\x2c\x2e\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]|{_ESCAPED})"
_NAME_START = rf"(?:[^\x00-\x40\x5b-\x5e\x60\x7b-\x7f]|{_ESCAPED})"
_IDENT = rf"(?:--{_NAME_CHAR}*|-?{_NAME_START}{_NAME_CHAR}*)"

_TOKEN = re.compile(
    rf"""
    (?P<comment>/\*[\s\S]*?(?:\*/|\Z))
  | (?P<ws>[ \t\r\n\f]+)
  | (?P<string>"(?:[^"\\\n\r\f]|\\[\s\S])*(?:"|(?=[\n\r\f])|\Z)
              |'(?:[^'\\\n\r\f]|\\[\s\S])*(?:'|(?=[\n\r\f])|\Z))
  | (?P<number>[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?(?:%|{_IDENT})?)
  | (?P<at>@{_IDENT})
  | (?P<hash>\#{_NAME_CHAR}+)
  | (?P<ident>{_IDENT})(?P<paren>\()?
  | (?P<cdo><!--|-->)
  | (?P<delim>[\s\S])
    """,
    re.VERBOSE,
)
# After ``url(`` and optional whitespace, an unquoted URL runs to ``)``.
_URL_REST = re.compile(
    r"[ \t\r\n\f]*((?:[^\"'()\\\s\x00-\x08\x0b\x0e-\x1f\x7f]|\\[^\n\r\f])*)[ \t\r\n\f]*(\)|\Z)"
)
_BAD_URL_REST = re.compile(r"(?:[^)\\]|\\[\s\S]?)*(?:\)|\Z)")
_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n\r\f]?|(\r\n|[\n\r\f])|([\s\S]))")
_SOURCEMAP = re.compile(r"/\*[#@][ \t]+sourceMappingURL=([^\s*]+)[ \t\r\n]*\*/")


@dataclass(frozen=True, slots=True)
class Token:
    """``type`` is one of: comment ws string number at hash ident function url bad-url
    cdo delim. ``value`` is the unescaped name/contents; ``start``/``end`` span the
    token, and ``inner`` spans the contents of strings and unquoted URLs."""

    type: str
    value: str
    start: int
    end: int
    inner: tuple[int, int] = (0, 0)


def unescape(text: str) -> str:
    """Resolve CSS escapes (``\\26 `` -> ``&``, ``\\)`` -> ``)``, escaped newline -> nothing)."""
    if "\\" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            code = int(m.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        if m.group(2):
            return ""
        return m.group(3)

    return _ESCAPE.sub(sub, text)


def tokenize(text: str) -> Iterator[Token]:
    pos = 0
    n = len(text)
    match = _TOKEN.match
    while pos < n:
        m = match(text, pos)
        assert m is not None  # the delim alternative matches any character
        kind = m.lastgroup
        end = m.end()
        if kind == "paren" or m.group("paren"):
            name = unescape(m.group("ident"))
            if name.lower() == "url":
                rest = _URL_REST.match(text, end)
                probe = end
                while probe < n and text[probe] in " \t\r\n\f":
                    probe += 1
                if probe < n and text[probe] in "\"'":
                    yield Token("function", name, pos, end)
                elif rest is not None:
                    yield Token("url", unescape(rest.group(1)), pos, rest.end(), rest.span(1))
                    end = rest.end()
                else:
                    bad = _BAD_URL_REST.match(text, end)
                    assert bad is not None
                    end = bad.end()
                    yield Token("bad-url", "", pos, end)
            else:
                yield Token("function", name, pos, end)
        elif kind == "string":
            raw = m.group("string")
            closed = len(raw) >= 2 and raw[-1] == raw[0]
            inner = (pos + 1, end - 1 if closed else end)
            yield Token("string", unescape(text[inner[0] : inner[1]]), pos, end, inner)
        elif kind in ("ident", "at"):
            yield Token(kind, unescape(m.group(kind).lstrip("@")), pos, end, (pos, end))
        else:
            yield Token(kind or "delim", m.group(0), pos, end)
        pos = end


_FUNCTION_URLS = {"url", "src"}
_IMAGE_SETS = {"image-set", "-webkit-image-set"}
# Every reference spells one of these words (``url`` also covers ``sourceMappingURL``;
# ``@import``, not ``import``, which every ``!important`` contains), unless a letter of it
# is escaped (``\75 rl(``, ``u\rl(``): a backslash before a hex escape of an ASCII letter
# or "-", or before a letter, sends the text to the tokenizer too. A stylesheet with none
# (a minified framework) has nothing to find, and one regex search is far cheaper than
# tokenizing hundreds of kilobytes.
_MAYBE_REFERENCES = re.compile(
    r"url|src|image-set|@import|\\0{0,4}(?:[4-7][0-9a-f]|2d)|\\[a-z-]", re.IGNORECASE
)


# What decides whether a ``/*`` opens a comment: comments, strings (same rules as
# ``_TOKEN``), escapes, and runs of anything else.
_LEXICAL = re.compile(
    r"""[^/"'\\]+
  | /\*[\s\S]*?(?:\*/|\Z)
  | "(?:[^"\\\n\r\f]|\\[\s\S])*(?:"|(?=[\n\r\f])|\Z)
  | '(?:[^'\\\n\r\f]|\\[\s\S])*(?:'|(?=[\n\r\f])|\Z)
  | \\[\s\S]?
  | /""",
    re.VERBOSE,
)


def find_references(text: str) -> list[RawRef]:
    """All references in ``text`` in source order (see module docstring for what counts)."""
    first = _MAYBE_REFERENCES.search(text)
    if first is None:
        return []
    only_map = _only_a_trailing_source_map(text, first.start())
    return only_map if only_map is not None else tokenized_references(text)


def tokenized_references(text: str) -> list[RawRef]:
    """``find_references`` by tokenizing all of ``text``, whatever it spells."""
    tokens = [t for t in tokenize(text)]
    lines = LineIndex(text)
    refs: list[RawRef] = []
    # Significant tokens (no whitespace); comments are checked for source maps only.
    sig: list[Token] = []
    for tok in tokens:
        if tok.type == "comment":
            m = _SOURCEMAP.fullmatch(text, tok.start, tok.end)
            if m:
                refs.append(
                    RawRef(
                        SOURCEMAP,
                        m.group(1),
                        m.start(1),
                        m.end(1),
                        lines.line(tok.start),
                        comment=(tok.start, tok.end),
                    )
                )
        elif tok.type != "ws":
            sig.append(tok)

    # Stack of open parenthesised blocks: the function name, or "" for a plain "(".
    parens: list[str] = []
    for i, tok in enumerate(sig):
        kind = tok.type
        if kind == "url":
            ref_kind = "import" if _after_import(sig, i) else "url"
            refs.append(_with_format(sig, i, RawRef(ref_kind, tok.value, *tok.inner, 0)))
        elif kind == "string":
            prev = sig[i - 1] if i else None
            if prev is not None and prev.type == "at" and prev.value.lower() == "import":
                refs.append(RawRef("import", tok.value, *tok.inner, 0, quote=text[tok.start]))
            elif (
                prev is not None
                and prev.type == "function"
                and prev.value.lower() in _FUNCTION_URLS
                and parens
                and parens[-1].lower() in _FUNCTION_URLS
            ):
                ref_kind = "import" if _after_import(sig, i - 1) else "url"
                ref = RawRef(ref_kind, tok.value, *tok.inner, 0, quote=text[tok.start])
                refs.append(_with_format(sig, i, ref))
            elif parens and parens[-1].lower() in _IMAGE_SETS:
                refs.append(RawRef("image-set", tok.value, *tok.inner, 0, quote=text[tok.start]))
        elif kind == "function":
            parens.append(tok.value)
        elif kind == "delim":
            if tok.value == "(":
                parens.append("")
            elif tok.value == ")" and parens:
                parens.pop()
            elif tok.value in "{};":
                parens.clear()
    refs = [_set_line(r, lines) for r in refs]
    refs.sort(key=lambda r: r.start)
    return refs


def _only_a_trailing_source_map(text: str, first: int) -> list[RawRef] | None:
    """The one reference of a stylesheet whose only reference keyword (at ``first``) is in
    the ``sourceMappingURL`` comment that ends it: a framework's unminified build names
    its map that way and nothing else. ``None`` when that is not the case (or not
    certain), and the stylesheet is tokenized.

    Whether that comment is a comment depends only on the comments and strings before it
    (an unquoted ``url(`` would have been a keyword before it), so a lexer that knows
    just those must stop exactly where the comment starts.
    """
    start = text.rfind("/*")
    if start == -1 or first < start:
        return None
    m = _SOURCEMAP.match(text, start)
    if m is None or text[m.end() :].strip(" \t\r\n\f"):
        return None
    pos = 0
    match = _LEXICAL.match
    while pos < start:
        lexeme = match(text, pos)
        assert lexeme is not None  # "/" and "\\" alone match, and the rest is a run
        pos = lexeme.end()
    if pos != start:  # the "/*" is inside a string or a comment, or follows an escape
        return None
    line = text.count("\n", 0, start) + 1
    return [RawRef(SOURCEMAP, m.group(1), m.start(1), m.end(1), line, comment=m.span())]


def _set_line(ref: RawRef, lines: LineIndex) -> RawRef:
    if ref.line:
        return ref
    return RawRef(
        ref.kind,
        ref.url,
        ref.start,
        ref.end,
        lines.line(ref.start),
        ref.quote,
        ref.comment,
        ref.format_hint,
    )


def _after_import(sig: list[Token], i: int) -> bool:
    return i > 0 and sig[i - 1].type == "at" and sig[i - 1].value.lower() == "import"


def _with_format(sig: list[Token], i: int, ref: RawRef) -> RawRef:
    """Attach the span of ``format("…")`` when it directly follows the URL at ``sig[i]``.

    ``i`` is the token that closes the URL (the url token itself, or the string inside
    ``url(`` whose ``)`` follows).
    """
    j = i + 1
    if sig[i].type == "string":  # url("…") — skip the closing parenthesis
        if j < len(sig) and sig[j].type == "delim" and sig[j].value == ")":
            j += 1
        else:
            return ref
    if j + 1 < len(sig) and sig[j].type == "function" and sig[j].value.lower() == "format":
        arg = sig[j + 1]
        if arg.type in ("string", "ident"):
            return RawRef(
                ref.kind, ref.url, ref.start, ref.end, ref.line, ref.quote, None, arg.inner
            )
    return ref

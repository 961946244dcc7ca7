"""The references of a minified file, carried over from the scan of its source.

The build needs every text file's references twice: in the source, for the graph and for
messages that name a line the author wrote; and in the processed output, whose offsets
the rewrite edits. The CSS and JS minifiers only remove comments and whitespace: they
never reorder text nor touch the inside of a string or ``url()``. So a reference spelled
in the source (its URL with its quotes, or a whole ``sourceMappingURL`` comment) is
spelled the same way in the output, in the same order. When that text occurs exactly as
many times in both files, the k-th occurrence in the output is the k-th in the source,
and the reference's output span follows without tokenizing the output again.

Whenever that cannot be shown (a copy of the text vanished with a comment, a
``format()`` hint whose distance from its URL may change, an empty URL, too much text to
search), ``carry_refs`` answers ``None`` and the caller scans the output instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from asset_pipeline.refs import SOURCEMAP, LineIndex, RawRef

#: Above this many characters searched (distinct reference texts x both file lengths),
#: scanning the output is the cheaper way.
SEARCH_LIMIT = 32 * 2**20


def carry_refs(source: str, refs: Sequence[RawRef], output: str) -> list[RawRef] | None:
    """``refs`` (the scan of ``source``) moved to their places in ``output``, exactly as
    scanning ``output`` would report them; ``None`` when the correspondence is not certain.

    ``output`` must be ``source`` minified (comments and whitespace removed).
    """
    if output == source:
        return list(refs)
    if not refs:
        return []
    probes: dict[str, tuple[list[int], list[int]]] = {}

    def anchor(start: int, end: int) -> tuple[str, int]:
        text = source[start:end]
        probes.setdefault(text, ([], []))
        return text, start

    placed: list[tuple[RawRef, tuple[str, int], tuple[str, int] | None]] = []
    for ref in refs:
        if ref.kind == SOURCEMAP and ref.comment is not None:
            main = anchor(*ref.comment)
        else:
            q = len(ref.quote)
            main = anchor(ref.start - q, ref.end + q)
        # the hint with the character on each side (its quotes, or the parentheses)
        hint = anchor(ref.format_hint[0] - 1, ref.format_hint[1] + 1) if ref.format_hint else None
        if not main[0] or (hint is not None and len(hint[0]) < 2):
            return None
        placed.append((ref, main, hint))
    if len(probes) * (len(source) + len(output)) > SEARCH_LIMIT:
        return None
    for text, (in_source, in_output) in probes.items():
        in_source.extend(_occurrences(source, text))
        in_output.extend(_occurrences(output, text))
    lines = LineIndex(output)
    carried: list[RawRef] = []
    for ref, main, hint in placed:
        at = _moved(probes, main)
        if at is None:
            if ref.kind == SOURCEMAP and "sourceMappingURL" not in output:
                continue  # the minifier removed the comment, and with it the reference
            return None
        start = at + ref.start - main[1]
        end = start + ref.end - ref.start
        comment = (at, at + len(main[0])) if ref.comment is not None else None
        format_hint = None
        if hint is not None:
            hint_at = _moved(probes, hint)
            if hint_at is None:
                return None
            format_hint = (hint_at + 1, hint_at + len(hint[0]) - 1)
        carried.append(
            RawRef(
                ref.kind, ref.url, start, end, lines.line(start), ref.quote, comment, format_hint
            )
        )
    carried.sort(key=lambda r: r.start)
    return carried


def _moved(probes: dict[str, tuple[list[int], list[int]]], anchor: tuple[str, int]) -> int | None:
    """Where the occurrence of ``anchor`` (text, offset in the source) is in the output,
    or ``None`` unless the text occurs equally often in both."""
    in_source, in_output = probes[anchor[0]]
    if len(in_output) != len(in_source):
        return None
    return in_output[in_source.index(anchor[1])]


def _occurrences(text: str, probe: str) -> list[int]:
    """Every offset where ``probe`` starts in ``text``, overlapping ones included."""
    found: list[int] = []
    pos = text.find(probe)
    while pos != -1:
        found.append(pos)
        pos = text.find(probe, pos + 1)
    return found

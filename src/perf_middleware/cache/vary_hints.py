"""The cache stage's per-process memo of each URL's Vary list, bounded.

A lookup first builds the secondary key from the Vary list it expects for the URL; the memo
saves the second backend lookup a wrong guess costs.  It gains an entry for every URL stored,
and URLs are chosen by clients, so it must not grow with them: at ``HINT_LIMIT`` entries it
is emptied and refills from the lookups that follow (a forgotten hint costs one extra
lookup).  The memo stays a plain dict, read with ``get`` on the hit path, and is written
only through :func:`remember`.
"""

from __future__ import annotations

__all__ = ["HINT_LIMIT", "VaryHints", "remember"]

HINT_LIMIT = 10_000

VaryHints = dict[str, tuple[str, ...]]
"""``primary -> Vary list`` (a missing URL means ``()``)."""


def remember(
    hints: VaryHints, primary: str, vary: tuple[str, ...], limit: int = HINT_LIMIT
) -> None:
    """Record ``vary`` for ``primary`` in ``hints``, never holding more than ``limit``; an
    empty list is what ``hints.get(primary, ())`` answers anyway, so it is not kept."""
    if not vary:
        hints.pop(primary, None)
        return
    if len(hints) >= limit and primary not in hints:
        hints.clear()
    hints[primary] = vary

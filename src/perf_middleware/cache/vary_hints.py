"""The cache stage's per-process memo of each URL's Vary list, bounded.

A lookup first builds the secondary key from the Vary list it expects for the URL; the memo
saves the second backend lookup a wrong guess costs.  It gains an entry for every URL stored,
and URLs are chosen by clients, so it must not grow with them: at ``limit`` entries it is
emptied and refills from the lookups that follow (a forgotten hint costs one extra lookup).
"""

from __future__ import annotations

__all__ = ["HINT_LIMIT", "VaryHints"]

HINT_LIMIT = 10_000


class VaryHints(dict[str, tuple[str, ...]]):
    """``primary -> Vary list``; read with ``get`` like a dict, written with ``remember``."""

    __slots__ = ("limit",)

    def __init__(self, limit: int = HINT_LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, primary: str, vary: tuple[str, ...]) -> None:
        """Record ``vary`` for ``primary``; an empty list is what ``get(primary, ())``
        answers anyway, so it is not kept."""
        if not vary:
            self.pop(primary, None)
            return
        if len(self) >= self.limit and primary not in self:
            self.clear()
        self[primary] = vary

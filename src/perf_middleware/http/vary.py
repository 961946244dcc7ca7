"""Vary (RFC 9110 §12.5.5): parsing and merging without duplicating field names."""

from __future__ import annotations

from functools import lru_cache

from perf_middleware.http._tokens import is_token, to_text


@lru_cache(maxsize=256)
def parse_vary(value: str | bytes | None) -> tuple[str, ...]:
    """Lower-cased field names in order, duplicates and invalid tokens dropped; ``*`` kept."""
    seen: dict[str, None] = {}
    for member in to_text(value).split(","):
        name = member.strip().lower()
        if name == "*" or is_token(name):
            seen.setdefault(name, None)
    return tuple(seen)


def merge_vary(existing: str | bytes | None, *fields: str) -> str:
    """Add ``fields`` to an existing Vary value once each (case-insensitive). ``*`` already
    varies on everything, so it absorbs the rest."""
    text = to_text(existing).strip()
    present = parse_vary(text)
    if "*" in present or "*" in fields:
        return "*"
    kept: list[str] = []
    seen: set[str] = set()
    for member in text.split(","):
        name = member.strip()
        if is_token(name) and name.lower() not in seen:
            kept.append(name)
            seen.add(name.lower())
    for name in fields:
        if is_token(name) and name.lower() not in seen:
            kept.append(name)
            seen.add(name.lower())
    return ", ".join(kept)

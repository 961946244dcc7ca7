"""The example's data: presentations held in memory behind a deliberately slow query.

The delay stands in for a database round trip, so the response cache and ``@cached``
have something to save; ``DECK_QUERY_DELAY`` (seconds) tunes it.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field, replace

QUERY_DELAY = float(os.environ.get("DECK_QUERY_DELAY", "0.05"))


@dataclass(frozen=True, slots=True)
class Slide:
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Deck:
    id: int
    title: str
    slides: tuple[Slide, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "slides": [{"title": s.title, "body": s.body} for s in self.slides],
        }


def _seed() -> dict[int, Deck]:
    return {
        1: Deck(
            1,
            "Making web apps fast without rewriting them",
            (
                Slide("Measure first", "Find where the time goes before changing anything."),
                Slide("Validators", "A strong ETag turns a repeat download into a 304."),
                Slide("Compression", "zstd and brotli shrink text five- to tenfold."),
                Slide("Shared cache", "One stored response answers thousands of requests."),
                Slide("Fingerprinted assets", "Hash names let browsers cache files for a year."),
            ),
        ),
        2: Deck(
            2,
            "Offline-first in one build step",
            (
                Slide("Precache", "The service worker stores the build's CSS, JS and fonts."),
                Slide("Runtime caching", "Pages go network-first; the last copy serves offline."),
                Slide("Safe updates", "A new build installs beside the old one, never mixed."),
            ),
        ),
        3: Deck(
            3,
            "Images that pick their own format",
            (
                Slide("AVIF and WebP", "Modern formats at a third of the bytes."),
                Slide("Responsive widths", "srcset lets phones fetch what they can show."),
                Slide("No layout shift", "Width and height come from the manifest."),
            ),
        ),
    }


class DeckStore:
    """An in-memory table of decks; every read pays ``QUERY_DELAY``."""

    def __init__(self, delay: float = QUERY_DELAY) -> None:
        self.delay = delay
        self.decks = _seed()
        self.queries = 0  # how many slow queries ran (the demo shows the cache saving them)

    async def _query(self) -> None:
        self.queries += 1
        if self.delay > 0:
            await asyncio.sleep(self.delay)

    async def all(self) -> list[Deck]:
        await self._query()
        return [self.decks[k] for k in sorted(self.decks)]

    async def get(self, deck_id: int) -> Deck | None:
        await self._query()
        return self.decks.get(deck_id)

    async def update(self, deck_id: int, title: str, bodies: list[str]) -> Deck | None:
        await self._query()
        deck = self.decks.get(deck_id)
        if deck is None:
            return None
        slides = tuple(
            replace(slide, body=bodies[i]) if i < len(bodies) else slide
            for i, slide in enumerate(deck.slides)
        )
        updated = replace(deck, title=title, slides=slides)
        self.decks[deck_id] = updated
        return updated

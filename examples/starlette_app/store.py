"""The example's data: presentations in an SQLite file, behind a deliberately slow query.

The store is a file, not process memory, because the response cache is shared: with
``uvicorn --workers 2`` and ``REDIS_URL``, an edit made by one worker must be what every
worker reads next, or a worker still holding the old deck stores it in the shared cache
again. The file (``DECK_DB``, default ``decks.sqlite3`` beside this module) is created and
seeded on first use. The delay stands in for a database round trip, so the response
cache and ``@cached`` have something to save; ``DECK_QUERY_DELAY`` (seconds) tunes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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


_SCHEMA = "CREATE TABLE IF NOT EXISTS decks (id INTEGER PRIMARY KEY, title TEXT, slides TEXT)"


def _row(deck: Deck) -> tuple[int, str, str]:
    slides = json.dumps([[s.title, s.body] for s in deck.slides], ensure_ascii=False)
    return deck.id, deck.title, slides


def _deck(row: tuple[int, str, str]) -> Deck:
    return Deck(row[0], row[1], tuple(Slide(t, b) for t, b in json.loads(row[2])))


class DeckStore:
    """Decks in an SQLite file that every worker process opens; every read pays
    ``QUERY_DELAY``. Queries run on a thread (``sqlite3`` blocks)."""

    def __init__(self, path: str | os.PathLike[str], *, delay: float = QUERY_DELAY) -> None:
        self.path = Path(path)
        self.delay = delay
        self.queries = 0  # slow queries this process ran (the demo shows the cache saving them)
        with self._connect() as db:  # concurrent first starts: the seed is inserted once
            db.execute(_SCHEMA)
            db.executemany(
                "INSERT OR IGNORE INTO decks VALUES (?, ?, ?)", map(_row, _seed().values())
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction (committed on success), closed afterwards."""
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    async def _query(self) -> None:
        self.queries += 1
        if self.delay > 0:
            await asyncio.sleep(self.delay)

    def _read(self, deck_id: int | None) -> list[Deck]:
        with self._connect() as db:
            if deck_id is None:
                rows = db.execute("SELECT id, title, slides FROM decks ORDER BY id").fetchall()
            else:
                rows = db.execute(
                    "SELECT id, title, slides FROM decks WHERE id = ?", (deck_id,)
                ).fetchall()
        return [_deck(r) for r in rows]

    async def all(self) -> list[Deck]:
        await self._query()
        return await asyncio.to_thread(self._read, None)

    async def get(self, deck_id: int) -> Deck | None:
        await self._query()
        found = await asyncio.to_thread(self._read, deck_id)
        return found[0] if found else None

    def _update(self, deck_id: int, title: str, bodies: list[str]) -> Deck | None:
        with self._connect() as db:  # one transaction: read, change, write
            row = db.execute(
                "SELECT id, title, slides FROM decks WHERE id = ?", (deck_id,)
            ).fetchone()
            if row is None:
                return None
            deck = _deck(row)
            slides = tuple(
                Slide(slide.title, bodies[i]) if i < len(bodies) else slide
                for i, slide in enumerate(deck.slides)
            )
            updated = Deck(deck.id, title, slides)
            db.execute(
                "UPDATE decks SET title = ?, slides = ? WHERE id = ?", (*_row(updated)[1:], deck_id)
            )
        return updated

    async def update(self, deck_id: int, title: str, bodies: list[str]) -> Deck | None:
        await self._query()
        return await asyncio.to_thread(self._update, deck_id, title, bodies)

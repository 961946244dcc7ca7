"""Accept (RFC 9110 §12.5.1): media ranges with q-values, for image-format negotiation.

Rules applied:

* Media ranges are ``type/subtype``, ``type/*`` or ``*/*`` (case-insensitive), each with an
  optional ``q`` weight (0 to 1, at most three decimals); a malformed member is dropped, a
  malformed ``q`` makes the member count as ``q=0`` (never more acceptable than asked).
* The quality of a media type is that of the *most specific* matching range
  (``image/webp`` beats ``image/*`` beats ``*/*``), not the highest one, so
  ``image/*;q=1, image/webp;q=0`` refuses WebP.
* No Accept header means every type is acceptable (``q=1``).

Image negotiation is deliberately stricter than the RFC's wildcard rule: a *modern* format
(AVIF, WebP, JPEG XL) is only chosen when the client names it explicitly. ``*/*`` or
``image/*`` says "send me something", not "I can decode AVIF" — older Safari sends
``image/*`` and cannot. The original format is always a valid fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from perf_middleware.http._tokens import to_text

__all__ = [
    "MediaRange",
    "choose_image_format",
    "media_type_quality",
    "parse_accept",
]


@dataclass(frozen=True, slots=True)
class MediaRange:
    """One member of an Accept header; ``type``/``subtype`` are lower-case, may be ``*``."""

    type: str
    subtype: str
    q: float
    params: tuple[tuple[str, str], ...] = ()

    @property
    def specificity(self) -> int:
        if self.type == "*":
            return 0
        if self.subtype == "*":
            return 1
        return 3 if self.params else 2

    def matches(self, type_: str, subtype: str) -> bool:
        if self.type == "*":
            return True
        if self.type != type_:
            return False
        return self.subtype in ("*", subtype)


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


def _is_token(text: str) -> bool:
    return bool(text) and all(ch in _TOKEN_CHARS for ch in text)


def _parse_q(text: str) -> float:
    """qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); invalid -> 0."""
    text = text.strip().strip('"')
    if not text or len(text) > 5 or not text.isascii():
        return 0.0
    head, _, tail = text.partition(".")
    if head not in ("0", "1") or (tail and not tail.isdigit()):
        return 0.0
    value = float(head + "." + (tail or "0"))
    return value if value <= 1.0 else 0.0


@lru_cache(maxsize=512)
def _parse(text: str) -> tuple[MediaRange, ...]:
    ranges: list[MediaRange] = []
    for member in text.split(","):
        member = member.strip()
        if not member:
            continue
        pieces = member.split(";")
        media = pieces[0].strip().lower()
        type_, slash, subtype = media.partition("/")
        type_, subtype = type_.strip(), subtype.strip()
        if not slash or not _is_token(type_) or not _is_token(subtype):
            continue
        if type_ == "*" and subtype != "*":
            continue
        q = 1.0
        params: list[tuple[str, str]] = []
        for raw in pieces[1:]:
            name, eq, val = raw.strip().partition("=")
            name = name.strip().lower()
            if not name:
                continue
            if name == "q":
                q = _parse_q(val) if eq else 0.0
                break  # parameters after q are accept-ext, not media-type parameters
            params.append((name, val.strip().strip('"')))
        ranges.append(MediaRange(type_, subtype, q, tuple(params)))
    return tuple(ranges)


def parse_accept(value: str | bytes | None) -> tuple[MediaRange, ...]:
    """Parse an Accept header; never raises. Results are cached per distinct header value."""
    text = to_text(value)
    if len(text) > 4096:  # bound the cache's memory; real headers are far shorter
        text = text[:4096].rpartition(",")[0]
    return _parse(text)


def media_type_quality(
    accept: str | bytes | None, media_type: str, *, explicit: bool = False
) -> float:
    """The q-value the client gives ``media_type`` (parameters of it are ignored).

    With ``explicit=True`` wildcards do not count: the type must be named.
    """
    text = to_text(accept)
    if not text.strip():
        return 0.0 if explicit else 1.0
    type_, _, subtype = media_type.split(";", 1)[0].strip().lower().partition("/")
    best: MediaRange | None = None
    for rng in parse_accept(text):
        if explicit and (rng.type == "*" or rng.subtype == "*"):
            continue
        if rng.matches(type_, subtype) and (best is None or rng.specificity > best.specificity):
            best = rng
    return 0.0 if best is None else best.q


def choose_image_format(
    accept: str | bytes | None,
    candidates: Sequence[tuple[str, int]],
    *,
    original: tuple[str, int],
) -> str:
    """Pick the media type to send for an image.

    ``candidates`` are ``(media_type, size)`` pairs of the alternates (modern formats) and
    ``original`` that of the file that was asked for, which is always a valid fallback, even
    when the client's Accept refuses it (an image the client may not like beats a 406).
    The highest q wins, then the smallest size; the original wins exact ties.
    """
    best_type, best_size = original
    best_q = media_type_quality(accept, best_type)
    for media_type, size in candidates:
        q = media_type_quality(accept, media_type, explicit=True)
        if q <= 0.0:
            continue
        if q > best_q or (q == best_q and size < best_size):
            best_type, best_q, best_size = media_type, q, size
    return best_type

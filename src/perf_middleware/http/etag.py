"""Entity tags (RFC 9110 §8.8.3): generation, parsing, comparison.

Scheme for compressed representations (``encoding_etag``): a strong tag ``"abc"`` on the
identity body becomes the weak tag ``W/"abc"`` on any compressed body. Compressed bytes depend
on codec version and level, so promising byte-equality (strong) would be a lie; weak says
"semantically the same", which is exactly true, and the usual weak comparison used for
If-None-Match then matches across encodings with no extra rule.

``etag_matches_any`` additionally treats encoding-suffixed tags (``"abc-br"``, ``"abc-gzip"``,
``"abc-zstd"``, as Apache and some CDNs emit) as the same entity as ``"abc"``, so a client
that received a validator from such a server or from precompressed static files still gets
its 304 from us.

Parsing is lenient in one way: a bare unquoted token (``ETag: abc`` from a buggy app) is
accepted as the opaque tag ``abc``, so the client echoing it back still matches.
"""

from __future__ import annotations

from binascii import b2a_base64
from dataclasses import dataclass
from functools import lru_cache

from blake3 import blake3

from perf_middleware.http._tokens import split_list, to_text

_ENCODING_SUFFIXES = ("-zstd", "-br", "-gzip", "-deflate", "-compress")


@dataclass(frozen=True, slots=True)
class EntityTag:
    opaque: str
    weak: bool = False

    def __str__(self) -> str:
        return f'W/"{self.opaque}"' if self.weak else f'"{self.opaque}"'


@dataclass(frozen=True, slots=True)
class ETagList:
    """A parsed If-Match / If-None-Match value; ``any`` is True for ``*``."""

    any: bool = False
    tags: tuple[EntityTag, ...] = ()


EMPTY_ETAG_LIST = ETagList()


def etag_bytes(body: bytes) -> bytes:
    """A strong validator (header bytes) from the body's blake3 hash: identical across
    processes and restarts (unlike Python's salted ``hash()``), 128 bits so collisions are
    not a concern.

    Base64 without padding (22 characters; ``+`` and ``/`` are valid in an entity tag), not
    hex (32): every response carries it and servers scan each header byte for forbidden
    characters. No ``-``, so a tag never looks like one with an encoding suffix."""
    return b'"' + b2a_base64(blake3(body).digest(16), newline=False)[:22] + b'"'


def make_etag(body: bytes) -> str:
    """``etag_bytes(body)`` as text."""
    return etag_bytes(body).decode("ascii")


def _valid_opaque(opaque: str) -> bool:
    # etagc = %x21 / %x23-7E / obs-text
    return all(ch == "!" or "#" <= ch <= "~" or "\x80" <= ch <= "\xff" for ch in opaque)


def _parse_one(text: str) -> EntityTag | None:
    weak = False
    if text[:2] in ("W/", "w/"):
        weak = True
        text = text[2:]
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        opaque = text[1:-1]
    elif not weak and text and '"' not in text and "," not in text and " " not in text:
        opaque = text  # lenient: unquoted token from a non-conforming server
        if not opaque.isprintable() or not opaque.isascii():
            return None
    else:
        return None
    return EntityTag(opaque, weak) if _valid_opaque(opaque) else None


@lru_cache(maxsize=1024)
def parse_etag(value: str | bytes | None) -> EntityTag | None:
    """Parse one entity-tag (an ``ETag`` header); None when it is not a valid tag."""
    text = to_text(value).strip()
    if not text:
        return None
    return _parse_one(text)


@lru_cache(maxsize=1024)
def parse_etag_list(value: str | bytes | None) -> ETagList:
    """Parse If-Match / If-None-Match: ``*`` or a comma list; invalid members are skipped."""
    text = to_text(value)
    if not text.strip():
        return EMPTY_ETAG_LIST
    tags: list[EntityTag] = []
    star = False
    for member in split_list(text):
        if member == "*":
            star = True
            continue
        tag = _parse_one(member)
        if tag is not None:
            tags.append(tag)
    return ETagList(star, tuple(tags))


def _coerce(tag: EntityTag | str | bytes | None) -> EntityTag | None:
    if isinstance(tag, EntityTag):
        return tag
    return parse_etag(tag)


def strong_match(a: EntityTag | str | bytes | None, b: EntityTag | str | bytes | None) -> bool:
    """Strong comparison: both strong and the same opaque tag (RFC 9110 §8.8.3.2)."""
    ta, tb = _coerce(a), _coerce(b)
    if ta is None or tb is None:
        return False
    return not ta.weak and not tb.weak and ta.opaque == tb.opaque


def weak_match(a: EntityTag | str | bytes | None, b: EntityTag | str | bytes | None) -> bool:
    """Weak comparison: the opaque tags are equal, weakness ignored."""
    ta, tb = _coerce(a), _coerce(b)
    return ta is not None and tb is not None and ta.opaque == tb.opaque


def weaken(etag: str) -> str:
    """``"x"`` -> ``W/"x"``; weak or unparseable input is returned unchanged."""
    tag = parse_etag(etag)
    if tag is None or tag.weak:
        return etag
    return str(EntityTag(tag.opaque, True))


def encoding_etag(etag: str, coding: str) -> str:
    """The validator of ``etag``'s representation compressed with ``coding`` (see module doc)."""
    if coding in ("", "identity"):
        return etag
    return weaken(etag)


def base_opaque(opaque: str) -> str:
    """Strip an encoding suffix (``abc-br`` -> ``abc``) so variants compare as one entity."""
    for suffix in _ENCODING_SUFFIXES:
        if opaque.endswith(suffix) and len(opaque) > len(suffix):
            return opaque[: -len(suffix)]
    return opaque


def etag_matches_any(
    if_none_match: str | bytes | ETagList | None, etag: EntityTag | str | bytes | None
) -> bool:
    """Does an If-None-Match list match ``etag``? Weak comparison, ``*`` matches any existing
    representation, and encoding variants of one entity match each other (module doc)."""
    tags = if_none_match if isinstance(if_none_match, ETagList) else parse_etag_list(if_none_match)
    if tags.any:
        return True
    current = _coerce(etag)
    if current is None or not tags.tags:
        return False
    opaque = current.opaque
    if any(t.opaque == opaque for t in tags.tags):
        return True
    base = base_opaque(opaque)
    return any(base_opaque(t.opaque) == base for t in tags.tags)


def etag_matches_strong(if_match: str | bytes | ETagList | None, etag: str | bytes | None) -> bool:
    """If-Match evaluation: ``*`` or any strong match (RFC 9110 §13.1.1)."""
    tags = if_match if isinstance(if_match, ETagList) else parse_etag_list(if_match)
    if tags.any:
        return True
    current = _coerce(etag)
    return current is not None and any(strong_match(tag, current) for tag in tags.tags)

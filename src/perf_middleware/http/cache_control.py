"""Cache-Control (RFC 9111 §5.2) for both requests and responses.

One parser serves both directions: the directive sets barely overlap and a cache needs the
request's ``max-stale``/``min-fresh`` next to the response's ``s-maxage``. Rules applied:

* Directive names are case-insensitive; arguments may be tokens or quoted-strings.
* An argument that is not valid delta-seconds is ignored (the directive is treated as absent);
  values above 2^31 clamp to 2147483648 (RFC 9111 §1.2.2).
* Conflicting duplicates of ``max-age``/``s-maxage`` make the freshness information invalid;
  RFC 9111 §4.2.1 encourages treating such a response as stale, so the value becomes ``0``.
  Other conflicting delta directives resolve to the most conservative value
  (smallest ``max-stale``/``stale-*``, largest ``min-fresh``).
* The qualified forms ``no-cache="Set-Cookie"`` and ``private="X"`` set the boolean too (so a
  cache that does not strip fields stays correct) and list the fields in ``*_fields``.
* Unknown directives are kept in ``extensions`` (first occurrence wins).

Also here: ``Age`` (RFC 9111 §5.1) and the targeted fields of RFC 9213 (``CDN-Cache-Control``),
whose directives are a Structured Field Dictionary (RFC 8941 §3.2) rather than a plain list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from perf_middleware.http._tokens import (
    DELTA_SECONDS_MAX,
    parse_delta_seconds,
    split_list,
    to_text,
    unquote,
)

# Value of ``max_stale`` for a bare ``max-stale`` (client accepts any staleness).
MAX_STALE_ANY: Final = 2147483648

_EMPTY_MAP: Mapping[str, str | None] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CacheControl:
    max_age: int | None = None
    s_maxage: int | None = None
    max_stale: int | None = None
    min_fresh: int | None = None
    stale_while_revalidate: int | None = None
    stale_if_error: int | None = None
    no_cache: bool = False
    no_cache_fields: frozenset[str] = frozenset()
    no_store: bool = False
    private: bool = False
    private_fields: frozenset[str] = frozenset()
    public: bool = False
    must_revalidate: bool = False
    proxy_revalidate: bool = False
    immutable: bool = False
    no_transform: bool = False
    only_if_cached: bool = False
    must_understand: bool = False
    extensions: Mapping[str, str | None] = field(default_factory=lambda: _EMPTY_MAP)


EMPTY_CACHE_CONTROL: Final = CacheControl()

#: One year, the customary lifetime of a fingerprinted (content-addressed) file.
IMMUTABLE_MAX_AGE: Final = 31536000


def immutable(max_age: int = IMMUTABLE_MAX_AGE) -> str:
    """Cache-Control for a file whose URL changes with its content: shared caches may keep it
    ``max-age`` seconds and browsers need not revalidate it on reload (RFC 8246)."""
    return f"public, max-age={max_age}, immutable"


IMMUTABLE: Final = immutable()

_DELTA = {
    "max-age": "max_age",
    "s-maxage": "s_maxage",
    "max-stale": "max_stale",
    "min-fresh": "min_fresh",
    "stale-while-revalidate": "stale_while_revalidate",
    "stale-if-error": "stale_if_error",
}
_FLAGS = {
    "no-store": "no_store",
    "public": "public",
    "must-revalidate": "must_revalidate",
    "proxy-revalidate": "proxy_revalidate",
    "immutable": "immutable",
    "no-transform": "no_transform",
    "only-if-cached": "only_if_cached",
    "must-understand": "must_understand",
}
_FIELD_LISTS = {
    "no-cache": ("no_cache", "no_cache_fields"),
    "private": ("private", "private_fields"),
}


def _resolve(attr: str, old: int, new: int) -> int:
    if old == new:
        return old
    if attr in ("max_age", "s_maxage"):
        return 0
    if attr == "min_fresh":
        return max(old, new)
    return min(old, new)


def _field_names(argument: str | None) -> frozenset[str]:
    if argument is None:
        return frozenset()
    text = unquote(argument) if argument.startswith('"') else argument
    if text is None:
        return frozenset()
    return frozenset(name.lower() for name in split_list(text) if name)


@lru_cache(maxsize=1024)
def parse_cache_control(value: str | bytes | None) -> CacheControl:
    """Parse one Cache-Control value (several header lines joined with commas)."""
    text = to_text(value)
    if not text.strip():
        return EMPTY_CACHE_CONTROL
    deltas: dict[str, int] = {}
    flags: dict[str, bool] = {}
    field_lists: dict[str, frozenset[str]] = {}
    extensions: dict[str, str | None] = {}
    for member in split_list(text):
        name, sep, argument = member.partition("=")
        name = name.strip().lower()
        arg: str | None = argument.strip() if sep else None
        if not name:
            continue
        if name in _DELTA:
            attr = _DELTA[name]
            if name == "max-stale" and arg is None:
                seconds: int | None = MAX_STALE_ANY
            else:
                seconds = parse_delta_seconds(arg)
            if seconds is None:
                continue
            previous = deltas.get(attr)
            deltas[attr] = seconds if previous is None else _resolve(attr, previous, seconds)
        elif name in _FLAGS:
            flags[_FLAGS[name]] = True
        elif name in _FIELD_LISTS:
            flag, fields_attr = _FIELD_LISTS[name]
            flags[flag] = True
            names = _field_names(arg)
            if names:
                field_lists[fields_attr] = names | field_lists.get(fields_attr, frozenset())
        elif name not in extensions:
            extensions[name] = _extension_value(arg)
    return CacheControl(
        **deltas,  # type: ignore[arg-type]
        **flags,  # type: ignore[arg-type]
        **field_lists,  # type: ignore[arg-type]
        extensions=MappingProxyType(extensions) if extensions else _EMPTY_MAP,
    )


def _extension_value(arg: str | None) -> str | None:
    if arg is None:
        return None
    if arg.startswith('"'):
        inner = unquote(arg)
        return inner if inner is not None else arg
    return arg


def parse_age(value: str | bytes | None) -> int | None:
    """RFC 9111 §5.1 ``Age`` (all lines joined): None when absent, else the first member's
    delta-seconds.  A value that is not delta-seconds means the age is unknown, so the
    response is treated as stale (the largest age, never 0)."""
    if value is None:
        return None
    members = split_list(to_text(value))
    if not members:
        return DELTA_SECONDS_MAX
    age = parse_delta_seconds(members[0].strip())
    return DELTA_SECONDS_MAX if age is None or members[0].startswith('"') else age


# RFC 8941 §3.2 dictionary member: key, then "=" and a bare item, or a boolean true; then
# parameters (";key" or ";key=item").  Bare items: integer, decimal, string, token, bytes,
# boolean.
_SF_KEY = r"[a-z*][a-z0-9_\-.*]*"
_SF_ITEM = (
    r'(?:-?[0-9]{1,12}\.[0-9]{1,3}|-?[0-9]{1,15}|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"'
    r"|[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*|:[A-Za-z0-9+/=]*:|\?[01])"
)
_SF_MEMBER = re.compile(
    rf"(?P<key>{_SF_KEY})(?:=(?P<item>{_SF_ITEM}))?(?P<params>(?:;[ ]*{_SF_KEY}(?:={_SF_ITEM})?)*)"
)
_SF_SPLIT = re.compile(r'[ \t]*,[ \t]*(?=(?:[^"]*"[^"]*")*[^"]*$)')


def parse_targeted(value: str | bytes | None) -> CacheControl | None:
    """A targeted cache-control field (RFC 9213 §2.1), or None when it is absent, empty or
    not a valid Structured Field Dictionary — the cache then ignores it (§2.2).  ``key=?0``
    is a false boolean, so the directive is absent; parameters are ignored."""
    text = to_text(value).strip(" \t")
    if not text:
        return None
    directives: list[str] = []
    for member in _SF_SPLIT.split(text):
        match = _SF_MEMBER.fullmatch(member)
        if match is None:
            return None
        key, item = match["key"], match["item"]
        if item == "?0":
            continue
        directives.append(key if item is None or item == "?1" else f"{key}={item}")
    return parse_cache_control(", ".join(directives))

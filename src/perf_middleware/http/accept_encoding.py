"""Accept-Encoding negotiation (RFC 9110 §12.5.3) with q-values.

Rules:

* ``q=0`` excludes a coding; ``*`` gives its weight to every coding not named; a coding that
  is neither named nor covered by ``*`` is not acceptable.
* ``identity`` is acceptable unless ``identity;q=0``, or ``*;q=0`` without identity named.
  When not named it is the least preferred choice, so ``gzip;q=0.5`` still means "compress".
  It wins only when the client weights it strictly higher than the best coding.
* Among codings of equal weight the server's preference (order of ``available``) decides.
* ``x-gzip`` is ``gzip`` (RFC 9110 §8.4.1.3). Names are case-insensitive.
* Invalid q-values make that member ignored; duplicates keep the lowest weight.
* A missing header (``None``) negotiates to ``identity``: RFC 9110 allows any coding, but
  clients that cannot decode would be broken, and every browser sends the header.
  A present but empty header means "identity only".

Parses are cached per distinct header value (a handful of values cover all real traffic).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType

from perf_middleware.http._tokens import is_token, to_text

_ALIASES = {"x-gzip": "gzip", "x-compress": "compress"}
_IDENTITY_IMPLICIT = 0.0005  # below any q the client can express (min 0.001)


def _parse_q(text: str) -> float | None:
    # qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
    if not text or len(text) > 5 or not text.isascii():
        return None
    head, _, tail = text.partition(".")
    if head not in ("0", "1"):
        return None
    if tail and not (tail.isdigit() and len(tail) <= 3):
        return None
    if head == "1" and tail.strip("0"):
        return None
    return float(f"{head}.{tail}") if tail else float(head)


@lru_cache(maxsize=512)
def parse_accept_encoding(value: str | bytes | None) -> Mapping[str, float]:
    """Coding (lower-case) -> weight. Unparseable members are dropped."""
    weights: dict[str, float] = {}
    for member in to_text(value).split(","):
        coding, _, params = member.partition(";")
        coding = coding.strip().lower()
        if not is_token(coding):
            continue
        coding = _ALIASES.get(coding, coding)
        q: float | None = 1.0
        for param in params.split(";") if params else ():
            pname, _, pvalue = param.partition("=")
            if pname.strip().lower() == "q":
                q = _parse_q(pvalue.strip())
                break
        if q is None:
            continue
        previous = weights.get(coding)
        weights[coding] = q if previous is None else min(previous, q)
    return MappingProxyType(weights)


def choose_encoding(accept_encoding: str | bytes | None, available: Sequence[str]) -> str | None:
    """Best acceptable coding from ``available`` (server preference order), else
    ``"identity"`` if acceptable, else None (the caller may answer 406 or send identity)."""
    if accept_encoding is None:
        return "identity"
    return _choose(accept_encoding, tuple(available))


@lru_cache(maxsize=1024)
def _choose(accept_encoding: str | bytes, available: tuple[str, ...]) -> str | None:
    weights = parse_accept_encoding(accept_encoding)
    star = weights.get("*")
    best: str | None = None
    best_q = 0.0
    for coding in available:
        coding_l = coding.lower()
        if coding_l == "identity":
            continue
        q = weights.get(coding_l, star if star is not None else 0.0)
        if q > best_q:
            best, best_q = coding, q
    if "identity" in weights:
        identity_q = weights["identity"]
    elif star is not None:
        identity_q = star if star == 0.0 else _IDENTITY_IMPLICIT
    else:
        identity_q = _IDENTITY_IMPLICIT
    if best is not None and best_q >= identity_q:
        return best
    return "identity" if identity_q > 0.0 else best

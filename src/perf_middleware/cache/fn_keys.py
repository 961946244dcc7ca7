"""Stable keys for function arguments: the same call gives the same key in every process.

Only plain, immutable data is accepted (None, bool, int, float, str, bytes, tuples and
frozensets of them, enums, dates, UUIDs, Decimals, frozen dataclasses).  Anything else —
lists, dicts, arbitrary objects whose repr holds a memory address — is a clear error instead
of a key that silently never matches (or, worse, collides).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from typing import Any

from blake3 import blake3

_SCALARS = (
    type(None),
    bool,
    int,
    float,
    str,
    bytes,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    decimal.Decimal,
)


def _canon(value: Any, where: str) -> str:
    kind = type(value)
    if isinstance(value, enum.Enum):
        return f"E{kind.__module__}.{kind.__qualname__}.{value.name}"
    if isinstance(value, _SCALARS):
        return f"{kind.__name__}:{value!r}"
    if isinstance(value, tuple):
        return "(" + ",".join(_canon(v, where) for v in value) + ")"
    if isinstance(value, frozenset):
        return "{" + ",".join(sorted(_canon(v, where) for v in value)) + "}"
    params = getattr(kind, "__dataclass_params__", None)
    if params is not None and params.frozen:
        fields = ",".join(
            f"{f.name}={_canon(getattr(value, f.name), where)}" for f in dataclasses.fields(value)
        )
        return f"D{kind.__module__}.{kind.__qualname__}({fields})"
    raise TypeError(
        f"@cached cannot key {where} on {kind.__name__} {value!r:.60}: only immutable plain "
        "data makes a stable cache key. HINT: pass a tuple instead of a list, or give "
        "@cached a key= function returning the plain data to key on"
    )


def argument_key(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """Digest of positional and keyword arguments (keyword order does not matter)."""
    parts = [_canon(a, f"{name} argument {i}") for i, a in enumerate(args)]
    parts += [f"{k}={_canon(kwargs[k], f'{name} argument {k!r}')}" for k in sorted(kwargs)]
    return blake3("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest(16)

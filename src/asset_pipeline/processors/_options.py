"""Turn a merged ``[tool.asset-pipeline.<kind>]`` table into a typed options dataclass.

Configuration mistakes (a misspelt key, a string where a number belongs) must fail the
build with the option's name and a hint, not surface later as a Pillow or fontTools
traceback, so every processor validates its table through this one helper.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from asset_pipeline.processors.base import ProcessingError

T = TypeVar("T")

#: keys the build may leave in a merged table; they are not processor options
_IGNORED_KEYS = frozenset({"glob", "rules"})


def _describe(tp: Any) -> str:
    if typing.get_origin(tp) is tuple:
        inner = typing.get_args(tp)[0]
        return "a list of " + {int: "integers", str: "strings"}.get(inner, str(inner))
    return {bool: "true/false", int: "an integer", str: "a string"}.get(tp, str(tp))


def _coerce(tp: Any, value: Any) -> tuple[bool, Any]:
    if typing.get_origin(tp) is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            return False, None
        items = []
        for item in value:
            ok, coerced = _coerce(typing.get_args(tp)[0], item)
            if not ok:
                return False, None
            items.append(coerced)
        return True, tuple(items)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    return isinstance(value, tp), value


def parse_options(
    cls: type[T],
    options: Mapping[str, Any],
    *,
    section: str,
    logical_name: str,
    choices: Mapping[str, tuple[str, ...]] | None = None,
    ranges: Mapping[str, tuple[int, int]] | None = None,
) -> T:
    """Build ``cls`` (a keyword-only dataclass) from ``options`` or raise ProcessingError."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    where = f"[tool.asset-pipeline.{section}]"
    for key, value in options.items():
        if key in _IGNORED_KEYS:
            continue
        if key not in names:
            raise ProcessingError(
                logical_name,
                f"unknown option {key!r} in {where}. HINT: known options are "
                + ", ".join(sorted(names)),
            )
        ok, coerced = _coerce(hints[key], value)
        if not ok:
            raise ProcessingError(
                logical_name,
                f"option {key!r} in {where} must be {_describe(hints[key])}, got {value!r}. "
                "HINT: fix the value in pyproject.toml (or the matching rules entry).",
            )
        allowed = (choices or {}).get(key)
        values = coerced if isinstance(coerced, tuple) else (coerced,)
        if allowed is not None and any(v not in allowed for v in values):
            raise ProcessingError(
                logical_name,
                f"option {key!r} in {where} is {value!r}. HINT: use one of "
                + ", ".join(repr(a) for a in allowed),
            )
        bounds = (ranges or {}).get(key)
        if bounds is not None and any(not bounds[0] <= v <= bounds[1] for v in values):
            raise ProcessingError(
                logical_name,
                f"option {key!r} in {where} is {value!r}, outside {bounds[0]}..{bounds[1]}. "
                "HINT: pick a value inside that range.",
            )
        kwargs[key] = coerced
    return cls(**kwargs)

"""Argument checks shared by every public constructor.

A constructor is called once, at start-up, by someone reading the docs: a wrong keyword or a
value of the wrong type must be answered with the option's name, what it got and a HINT,
not with Python's bare ``TypeError`` (or, worse, a comparison failing three calls later).

``checked`` wraps a class's ``__init__``: an unknown keyword names the closest option and
lists them all; a value for an option annotated with plain ``int``/``float``/``bool``/``str``
(optionally ``| None``) is type-checked. Ranges and object kinds are checked by the
constructors themselves with ``check_value`` and ``check_range``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = [
    "check_callable",
    "check_range",
    "check_value",
    "checked",
    "describe",
    "unknown_option",
    "with_options",
]

C = TypeVar("C", bound=type)
D = TypeVar("D")

#: annotation word -> (accepted types, how the message says it)
_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "int": ((int,), "an int"),
    "float": ((int, float), "a number"),
    "bool": ((bool,), "a bool"),
    "str": ((str,), "a str"),
    "None": ((type(None),), "None"),
}
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def describe(value: object) -> str:
    """``str '64MB'``: the type and a short repr, for "got ..." in messages."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def unknown_option(owner: str, name: str, valid: Sequence[str]) -> TypeError:
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    guess = f"; did you mean {close[0]!r}?" if close else "."
    return TypeError(
        f"{owner}() has no option {name!r}{guess} HINT: the options are: {', '.join(valid)}."
    )


def _parse(annotation: object) -> tuple[str, ...] | None:
    """``"int | None"`` -> ``("int", "None")``; None for anything not plainly scalar."""
    if not isinstance(annotation, str):
        return None
    words = tuple(part.strip() for part in annotation.split("|"))
    return words if all(w in _KINDS for w in words) else None


def _matches(value: object, words: Sequence[str]) -> bool:
    for word in words:
        types, _ = _KINDS[word]
        if isinstance(value, bool) and bool not in types:
            continue  # True is an int to Python, never a size or a duration to a user
        if isinstance(value, types):
            return True
    return False


def check_value(owner: str, option: str, value: object, kind: str, *, hint: str) -> None:
    """Raise ``TypeError`` unless ``value`` is of ``kind`` (``"int"``, ``"float | None"``...)."""
    words = _parse(kind)
    if words is None:  # pragma: no cover - a programming error in a constructor
        raise AssertionError(f"unsupported kind {kind!r}")
    if not _matches(value, words):
        expected = " or ".join(_KINDS[w][1] for w in words)
        raise TypeError(
            f"{owner}({option}=...) must be {expected}, got {describe(value)}. HINT: {hint}"
        )


def check_range(
    owner: str,
    option: str,
    value: float,
    *,
    hint: str,
    minimum: float | None = None,
    above: float | None = None,
) -> None:
    """Raise ``ValueError`` when ``value`` is below ``minimum`` or not above ``above``."""
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}({option}={value!r}) must be at least {minimum}. HINT: {hint}")
    if above is not None and value <= above:
        raise ValueError(f"{owner}({option}={value!r}) must be more than {above}. HINT: {hint}")


def check_callable(
    owner: str, option: str, value: object, *, hint: str, optional: bool = False
) -> None:
    """Raise ``TypeError`` unless ``value`` is callable (or None when ``optional``)."""
    if not callable(value) and not (optional and value is None):
        raise TypeError(
            f"{owner}({option}=...) must be a function, got {describe(value)}. HINT: {hint}"
        )


def _default_hint(option: str, param: inspect.Parameter) -> str:
    default = param.default
    if default is inspect.Parameter.empty or "factory" in repr(default):
        return f"see the {option} option in docs/configuration.md."
    return f"the default is {option}={default!r}."


def checked(**hints: str) -> Callable[[C], C]:
    """Class decorator: unknown keywords and plainly mistyped scalar options fail clearly.

    ``hints`` override the per-option HINT (the default one quotes the default value).
    """

    def decorate(cls: C) -> C:
        init: Callable[..., None] = cls.__init__  # type: ignore[misc]
        signature = inspect.signature(init)
        params = list(signature.parameters.values())[1:]  # without self
        open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        valid = [p.name for p in params if p.kind in _NAMED]
        known = frozenset(valid)
        scalar: list[tuple[str, tuple[str, ...], str]] = []
        for p in params:
            words = _parse(p.annotation)
            if words is not None and p.kind in _NAMED:
                scalar.append((p.name, words, hints.get(p.name) or _default_hint(p.name, p)))
        owner = cls.__name__

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            if not open_ended:
                for name in kwargs:
                    if name not in known:
                        raise unknown_option(owner, name, valid)
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError as exc:
                raise TypeError(
                    f"{owner}(): {exc}. HINT: the options are: {', '.join(valid)}."
                ) from None
            given = bound.arguments
            for name, words, hint in scalar:
                if name in given and not _matches(given[name], words):
                    check_value(owner, name, given[name], " | ".join(words), hint=hint)
            init(self, *args, **kwargs)

        setattr(cls, "__init__", __init__)  # noqa: B010 - mypy forbids assigning a method
        return cls

    return decorate


def with_options(
    owner: str,
    config_type: type[D],
    config: D | None,
    options: Mapping[str, Any],
    *,
    own: Sequence[str] = (),
) -> D:
    """``owner(..., config=Config(...), **options)``: the config with ``options`` applied,
    errors spoken in ``owner``'s name (its ``own`` keywords are listed with the config's)."""
    fields = [f.name for f in dataclasses.fields(config_type)]  # type: ignore[arg-type]
    valid = [*own, "config", *fields]
    for name in options:
        if name not in fields:
            raise unknown_option(owner, name, valid)
    if config is not None and not isinstance(config, config_type):
        raise TypeError(
            f"{owner}(config=...) must be a {config_type.__name__} or None, got "
            f"{describe(config)}. HINT: pass the options as keywords: {owner}(..., "
            f"{fields[0]}=...)."
        )
    try:
        return dataclasses.replace(config or config_type(), **options)  # type: ignore[type-var]
    except (TypeError, ValueError) as exc:
        text = str(exc).replace(f"{config_type.__name__}(", f"{owner}(")
        raise type(exc)(text) from None

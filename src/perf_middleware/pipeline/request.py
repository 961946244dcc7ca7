"""The request fields the response pipeline reads: Accept-Encoding and the preconditions."""

from __future__ import annotations

from perf_middleware.types import Scope

__all__ = ["Conditions", "request_fields"]

#: The request fields the pipeline reads.
_READ = frozenset(
    (
        b"accept-encoding",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
    )
)

Conditions = tuple[bytes | None, bytes | None, bytes | None, bytes | None]


def request_fields(scope: Scope) -> tuple[bytes | None, Conditions | None]:
    """Accept-Encoding and the four precondition fields (If-Match, If-None-Match,
    If-Modified-Since, If-Unmodified-Since; None when all are absent) of a request. Repeated
    lines of a field are combined first to last with ", " (RFC 9110 §5.3)."""
    fields: dict[bytes, bytes] = {}
    for name, value in scope.get("headers") or ():
        if name in _READ:
            prior = fields.get(name)
            fields[name] = value if prior is None else prior + b", " + value
    accept_encoding = fields.pop(b"accept-encoding", None)
    if not fields:
        return accept_encoding, None
    conditions = (
        fields.get(b"if-match"),
        fields.get(b"if-none-match"),
        fields.get(b"if-modified-since"),
        fields.get(b"if-unmodified-since"),
    )
    return accept_encoding, conditions

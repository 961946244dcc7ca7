"""Conditional request evaluation in the order of RFC 9110 §13.2.2.

The step the anchors got wrong: when If-None-Match is present, If-Modified-Since is not
looked at at all, so a mismatching tag can never be rescued by a date into a 304.
"""

from __future__ import annotations

from enum import Enum

from perf_middleware.http.dates import parse_http_date
from perf_middleware.http.etag import etag_matches_any, etag_matches_strong


class Precondition(Enum):
    PROCEED = "proceed"  # send the normal response
    NOT_MODIFIED = "not-modified"  # 304 (GET/HEAD only)
    FAILED = "failed"  # 412 Precondition Failed


def _present(value: str | bytes | None) -> bool:
    return value is not None and bool(value.strip())


def evaluate_conditional(
    method: str,
    *,
    if_match: str | bytes | None = None,
    if_none_match: str | bytes | None = None,
    if_modified_since: str | bytes | None = None,
    if_unmodified_since: str | bytes | None = None,
    etag: str | None,
    last_modified: int | None,
) -> Precondition:
    """Evaluate the preconditions of a request against the selected representation, whose
    validators are ``etag`` (header form) and ``last_modified`` (epoch seconds).

    Call it only for a representation that exists (a 2xx the server would otherwise send).
    An unparseable date makes its header ignored, as RFC 9110 §13.1.3/§13.1.4 require.
    """
    safe = method in ("GET", "HEAD")
    if if_match is None and if_unmodified_since is None and _present(if_none_match):
        # the common revalidation: only If-None-Match (a date beside it is never consulted)
        if etag_matches_any(if_none_match, etag):
            return Precondition.NOT_MODIFIED if safe else Precondition.FAILED
        return Precondition.PROCEED
    # 1. If-Match, else 2. If-Unmodified-Since
    if _present(if_match):
        if not etag_matches_strong(if_match, etag):
            return Precondition.FAILED
    elif _present(if_unmodified_since) and last_modified is not None:
        since = parse_http_date(if_unmodified_since)
        if since is not None and last_modified > since:
            return Precondition.FAILED
    # 3. If-None-Match, else 4. If-Modified-Since (GET/HEAD only)
    if _present(if_none_match):
        if etag_matches_any(if_none_match, etag):
            return Precondition.NOT_MODIFIED if safe else Precondition.FAILED
        return Precondition.PROCEED
    if safe and _present(if_modified_since) and last_modified is not None:
        since = parse_http_date(if_modified_since)
        if since is not None and last_modified <= since:
            return Precondition.NOT_MODIFIED
    return Precondition.PROCEED

from __future__ import annotations

from perf_middleware.http.conditional import Precondition, evaluate_conditional
from perf_middleware.http.dates import format_http_date

ETAG = '"v1"'
LM = 1_700_000_000
BEFORE = format_http_date(LM - 10)
AT = format_http_date(LM)
AFTER = format_http_date(LM + 10)


def ev(method: str = "GET", **kw: str | bytes | None) -> Precondition:
    return evaluate_conditional(method, etag=ETAG, last_modified=LM, **kw)  # type: ignore[arg-type]


def test_no_conditions_proceed() -> None:
    assert ev() is Precondition.PROCEED


def test_if_none_match_hit_is_304_for_get_and_head() -> None:
    assert ev(if_none_match='"v1"') is Precondition.NOT_MODIFIED
    assert ev("HEAD", if_none_match='W/"v1"') is Precondition.NOT_MODIFIED
    assert ev(if_none_match='"x", "v1"') is Precondition.NOT_MODIFIED
    assert ev(if_none_match="*") is Precondition.NOT_MODIFIED


def test_if_none_match_hit_on_unsafe_method_is_412() -> None:
    assert ev("POST", if_none_match='"v1"') is Precondition.FAILED
    assert ev("PUT", if_none_match="*") is Precondition.FAILED


def test_if_none_match_miss_never_falls_back_to_the_date() -> None:
    assert ev(if_none_match='"old"', if_modified_since=AFTER) is Precondition.PROCEED


def test_if_modified_since_only_when_no_if_none_match() -> None:
    assert ev(if_modified_since=AT) is Precondition.NOT_MODIFIED
    assert ev(if_modified_since=AFTER) is Precondition.NOT_MODIFIED
    assert ev(if_modified_since=BEFORE) is Precondition.PROCEED
    assert ev("POST", if_modified_since=AFTER) is Precondition.PROCEED
    assert ev(if_modified_since="garbage") is Precondition.PROCEED
    assert (
        evaluate_conditional("GET", if_modified_since=AFTER, etag=ETAG, last_modified=None)
        is Precondition.PROCEED
    )


def test_empty_if_none_match_is_absent() -> None:
    assert ev(if_none_match="", if_modified_since=AFTER) is Precondition.NOT_MODIFIED


def test_if_match() -> None:
    assert ev(if_match='"v1"') is Precondition.PROCEED
    assert ev(if_match='"v2"') is Precondition.FAILED
    assert ev(if_match='W/"v1"') is Precondition.FAILED  # strong comparison
    assert ev(if_match="*") is Precondition.PROCEED
    assert ev("PUT", if_match='"v2"') is Precondition.FAILED


def test_if_match_takes_precedence_over_if_unmodified_since() -> None:
    assert ev(if_match='"v1"', if_unmodified_since=BEFORE) is Precondition.PROCEED


def test_if_unmodified_since() -> None:
    assert ev(if_unmodified_since=BEFORE) is Precondition.FAILED
    assert ev(if_unmodified_since=AT) is Precondition.PROCEED
    assert ev(if_unmodified_since="nonsense") is Precondition.PROCEED


def test_failed_if_match_wins_over_if_none_match() -> None:
    assert ev(if_match='"nope"', if_none_match='"v1"') is Precondition.FAILED


def test_passing_if_match_then_if_none_match_is_evaluated() -> None:
    assert ev(if_match='"v1"', if_none_match='"v1"') is Precondition.NOT_MODIFIED


def test_compressed_variant_validator_gives_304() -> None:
    assert ev(if_none_match='W/"v1"') is Precondition.NOT_MODIFIED
    assert ev(if_none_match='"v1-gzip"') is Precondition.NOT_MODIFIED

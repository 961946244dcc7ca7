"""HTTP-date (RFC 9110 §5.6.7): IMF-fixdate plus the two obsolete forms recipients must accept.

Parsing is hand-written instead of ``email.utils`` because that parser is lenient in ways
HTTP is not (it guesses at arbitrary text) and can raise on odd input; here anything that is
not one of the three formats is simply ``None``. Month and weekday names are matched
case-insensitively and the weekday is not cross-checked: a wrong weekday says nothing about
the instant the client means.
"""

from __future__ import annotations

import calendar
import re
import time
from functools import lru_cache

from perf_middleware.http._tokens import to_text

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SHORT_DAYS = "(?:mon|tue|wed|thu|fri|sat|sun)"
_LONG_DAYS = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_TIME = r"(\d\d):(\d\d):(\d\d)"

# Sun, 06 Nov 1994 08:49:37 GMT
_IMF = re.compile(
    rf"{_SHORT_DAYS}, (\d\d) ([a-z]{{3}}) (\d{{4}}) {_TIME} gmt", re.IGNORECASE | re.ASCII
)
# Sunday, 06-Nov-94 08:49:37 GMT
_RFC850 = re.compile(
    rf"{_LONG_DAYS}, (\d\d)-([a-z]{{3}})-(\d\d) {_TIME} gmt", re.IGNORECASE | re.ASCII
)
# Sun Nov  6 08:49:37 1994
_ASCTIME = re.compile(
    rf"{_SHORT_DAYS} ([a-z]{{3}}) ([ \d]\d) {_TIME} (\d{{4}})", re.IGNORECASE | re.ASCII
)

_MAX_TS = 253402300799  # 9999-12-31T23:59:59Z, the largest IMF-fixdate


def _to_epoch(year: int, month_name: str, day: int, hh: int, mm: int, ss: int) -> int | None:
    month = _MONTHS.get(month_name.lower())
    if month is None or hh > 23 or mm > 59 or ss > 60 or year < 1:
        return None
    if day < 1 or day > calendar.monthrange(year, month)[1]:
        return None
    return calendar.timegm((year, month, day, hh, mm, min(ss, 59), 0, 0, 0))


@lru_cache(maxsize=256)
def parse_http_date(value: str | bytes | None) -> int | None:
    """Epoch seconds for an HTTP-date, or None for anything else."""
    text = to_text(value).strip()
    if not 20 <= len(text) <= 40:
        return None
    if m := _IMF.fullmatch(text):
        day, mon, year, hh, mm, ss = m.groups()
        return _to_epoch(int(year), mon, int(day), int(hh), int(mm), int(ss))
    if m := _RFC850.fullmatch(text):
        day, mon, yy, hh, mm, ss = m.groups()
        # RFC 9110: a two-digit year more than 50 years in the future is in the past century.
        this_year = time.gmtime().tm_year
        year = this_year - this_year % 100 + int(yy)
        if year > this_year + 50:
            year -= 100
        return _to_epoch(year, mon, int(day), int(hh), int(mm), int(ss))
    if m := _ASCTIME.fullmatch(text):
        mon, day, hh, mm, ss, year = m.groups()
        return _to_epoch(int(year), mon, int(day.strip()), int(hh), int(mm), int(ss))
    return None


def format_http_date(ts: float) -> str:
    """IMF-fixdate for a Unix timestamp (clamped to the representable range)."""
    try:
        seconds = int(ts)
    except (OverflowError, ValueError):  # inf / nan
        seconds = 0 if ts != ts else (_MAX_TS if ts > 0 else 0)
    return _format(min(max(seconds, 0), _MAX_TS))


@lru_cache(maxsize=64)
def _format(seconds: int) -> str:
    t = time.gmtime(seconds)
    return (
        f"{_DAY_NAMES[t.tm_wday]}, {t.tm_mday:02d} {_MONTH_NAMES[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )

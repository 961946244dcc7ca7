"""A site dictionary for dynamic HTML (RFC 9842): server-rendered pages compressed against
a dictionary the browser already holds.

Pages of one site share most of their bytes: the layout, navigation, scripts and styles
around the content. A browser that fetched the site's dictionary (advertised with
``<link rel="compression-dictionary">`` and served with ``Use-As-Dictionary``) announces it
with ``Available-Dictionary: :<sha-256>:`` and ``dcz`` in ``Accept-Encoding``; a page is
then sent as zstd with the dictionary as raw content (RFC 9842 section 4 and 5: the
40-byte header naming the dictionary, then one zstd frame), so only what differs from the
shared bytes travels.

Compressing secrets next to text an attacker controls lets the response size reveal the
secret (BREACH); a dictionary holding the site's markup makes matches against a guessed
token cheaper still. So, by default, a response that looks personal is never
dictionary-compressed (it gets the normal negotiation), in two steps:

* its headers (``personal_headers``, free): ``Set-Cookie``, ``Cache-Control: private`` or
  ``no-store``, or ``Vary`` naming ``Cookie`` or ``Authorization``. The frameworks mark
  the pages that carry a CSRF token this way: Django adds ``Vary: Cookie`` once the token
  is used, Flask once the session is read, Rails and Laravel set a cookie on such
  responses, ASP.NET Core's antiforgery sends ``Cache-Control: no-cache, no-store``;
* its body (``carries_secret``), only when ``dcz`` is about to be sent: any of
  ``secret_markers`` (the usual names of CSRF fields and meta tags) in it, however its
  attributes are quoted (templates written by hand use ``'``, minifiers drop quotes). Each marker is
  one pass over the body, so this check is made for dictionary holders only.

The dictionary is trained from public pages only (``perf_middleware.compression.training``):
it must never hold a secret itself.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from dataclasses import dataclass
from html import escape
from pathlib import Path

import zstandard

from asset_pipeline.manifest import DCZ_MAGIC
from perf_middleware.http.cache_control import parse_cache_control
from perf_middleware.http.dictionary import use_as_dictionary
from perf_middleware.http.vary import parse_vary
from perf_middleware.options import checked

__all__ = [
    "DEFAULT_SECRET_MARKERS",
    "MIN_DICTIONARY_SIZE",
    "SiteDictionary",
    "SiteDictionaryConfig",
    "carries_secret",
    "html_candidate",
]

#: Markers (case-sensitive) whose presence keeps a body from dictionary compression: a
#: hidden form field, where every framework's form helper puts its CSRF token (Django
#: ``csrfmiddlewaretoken``, Rails ``authenticity_token``, Laravel ``_token``, ASP.NET
#: ``__RequestVerificationToken``, WTForms ``csrf_token``, Litestar ``_csrf_token``) and
#: other per-user form state, in any attribute quoting; and the name of the ``csrf-token``
#: meta tag of Rails and Laravel layouts, a plain substring (one fast pass, whatever the
#: quoting). Each is one pass over the body, kept below the cost of compressing.
DEFAULT_SECRET_MARKERS: tuple[bytes, ...] = (b'type="hidden"', b"csrf-token")
#: Smallest dictionary file accepted: a few hundred bytes share nothing useful with a page.
MIN_DICTIONARY_SIZE = 1024
_MAX_DICTIONARY = 8 * 2**20


@checked()
@dataclass(frozen=True, slots=True, kw_only=True)
class SiteDictionaryConfig:
    """Dictionary compression of HTML responses (``CompressionConfig(site_dictionary=...)``).

    * ``path``: the dictionary file (``python -m perf_middleware.compression.training``
      writes one); read once at start-up, versioned by its SHA-256.
    * ``url_prefix``: the dictionary is served at ``{url_prefix}/{sha-256 hex}.dict`` (a
      new dictionary gets a new URL, so the response is immutable).
    * ``match`` / ``match_dest``: the ``Use-As-Dictionary`` URL Pattern of the pages it is
      offered for, and their fetch destinations (``document``; add ``frame`` for iframes).
    * ``level``: zstd level of dictionary-compressed pages. At 2 a page compresses in
      less CPU than the on-the-fly zstd 3 without a dictionary, leaving room for the
      secret-marker scan (figures in docs/benchmarks.md, "Site dictionary").
    * ``cookies``: also compress responses that look personal by their headers
      (``Set-Cookie``, ``private``/``no-store``, ``Vary: Cookie``); off: BREACH, see the module.
    * ``secret_markers``: a body containing any of these bytes is not dictionary-compressed
      (checked for dictionary holders only); a ``"`` in a marker matches any HTML attribute
      quoting (``"``, ``'`` or none); ``()`` turns the check off, leaving the header
      signals (for sites whose frameworks mark personal pages, see the module).
    * ``max_age``: ``Cache-Control`` lifetime of the dictionary response (seconds).
    """

    path: str | Path
    url_prefix: str = "/_perf/dictionary"
    match: str = "/*"
    match_dest: tuple[str, ...] = ("document",)
    level: int = 2
    cookies: bool = False
    secret_markers: tuple[bytes, ...] = DEFAULT_SECRET_MARKERS
    max_age: int = 365 * 24 * 3600

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, Path)):
            raise TypeError(
                f"SiteDictionaryConfig(path=...) must be a str or Path, got "
                f"{type(self.path).__name__}. HINT: path='site.dict'."
            )
        if not self.url_prefix.startswith("/") or self.url_prefix.endswith("/"):
            raise ValueError(
                f"SiteDictionaryConfig.url_prefix={self.url_prefix!r} must start with '/' and "
                "not end with one. HINT: url_prefix='/_perf/dictionary'."
            )
        if not 1 <= self.level <= 19:
            raise ValueError(
                f"SiteDictionaryConfig.level={self.level} is out of range. HINT: choose "
                "1..19; 2 compresses a page in tens of microseconds."
            )
        if self.max_age < 0:
            raise ValueError(
                f"SiteDictionaryConfig.max_age={self.max_age} is negative. HINT: seconds, "
                "e.g. 365 * 24 * 3600 (the URL changes with the dictionary)."
            )
        if any(not isinstance(m, bytes) or not m for m in self.secret_markers):
            raise ValueError(
                "SiteDictionaryConfig.secret_markers must be non-empty bytes. "
                "HINT: secret_markers=(b'csrf', b'_token')."
            )
        use_as_dictionary(self.match, self.match_dest)  # ValueError with a HINT when invalid


_PERSONAL_VARY = frozenset(("cookie", "authorization", "*"))


def personal_headers(
    set_cookie: bytes | None, cache_control: bytes | None, vary: bytes | None
) -> bool:
    """Whether response headers say the response is for one user: ``Set-Cookie``,
    ``Cache-Control: private`` or ``no-store`` (RFC 9111 section 5.2.2), or a ``Vary`` on
    ``Cookie``, ``Authorization`` or ``*``."""
    if set_cookie is not None:
        return True
    if cache_control is not None:
        directives = parse_cache_control(cache_control)
        if directives.private or directives.no_store:
            return True
    return vary is not None and not _PERSONAL_VARY.isdisjoint(parse_vary(vary))


def html_candidate(
    media_type: str,
    config: SiteDictionaryConfig,
    *,
    set_cookie: bytes | None = None,
    cache_control: bytes | None = None,
    vary: bytes | None = None,
) -> bool:
    """Whether the site dictionary may apply to a response (it then varies on
    ``Available-Dictionary``): an HTML page (``media_type`` lower-case without parameters)
    whose headers do not look personal, unless ``cookies`` allows those."""
    if media_type != "text/html":
        return False
    return config.cookies or not personal_headers(set_cookie, cache_control, vary)


def carries_secret(body: bytes, config: SiteDictionaryConfig) -> bool:
    """Whether ``body`` holds one of the configured ``secret_markers``; a ``"`` in a marker
    stands for any HTML attribute quoting (``"``, ``'`` or none: HTML 5.2 section 8.1.2.3),
    so ``type="hidden"`` also finds a hand-written ``type='hidden'`` and a minifier's
    ``type=hidden``."""
    for marker in _matchers(config.secret_markers):
        if marker.search(body) is not None if isinstance(marker, re.Pattern) else marker in body:
            return True
    return False


@functools.lru_cache(maxsize=8)
def _matchers(markers: tuple[bytes, ...]) -> tuple[bytes | re.Pattern[bytes], ...]:
    """Each marker as a substring, or, when it holds a quote, as a pattern; its literal start
    (``type=``) lets the regular-expression engine skip ahead, so the search stays one pass
    (a scan per quote style would be three)."""
    return tuple(
        re.compile(b"[\"']?".join(re.escape(part) for part in marker.split(b'"')))
        if b'"' in marker
        else marker
        for marker in markers
    )


class SiteDictionary:
    """The loaded dictionary: its bytes, SHA-256, URL and per-thread compressors."""

    __slots__ = ("_local", "_prepared", "config", "data", "header", "sha256", "url", "use_as")

    def __init__(self, config: SiteDictionaryConfig, data: bytes) -> None:
        if not MIN_DICTIONARY_SIZE <= len(data) <= _MAX_DICTIONARY:
            raise ValueError(
                f"site dictionary {str(config.path)!r} holds {len(data)} bytes. HINT: a "
                "dictionary of tens of KB to a few hundred KB, as "
                "`python -m perf_middleware.compression.training` writes."
            )
        self.config = config
        self.data = data
        self.sha256 = hashlib.sha256(data).digest()
        self.url = f"{config.url_prefix}/{self.sha256.hex()}.dict"
        self.use_as = use_as_dictionary(config.match, config.match_dest).encode("latin-1")
        self.header = DCZ_MAGIC + self.sha256
        # raw content (RFC 9842 section 4): the browser loads the bytes as a plain prefix
        self._prepared = zstandard.ZstdCompressionDict(
            data, dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        self._prepared.precompute_compress(level=config.level)
        self._local = threading.local()

    @classmethod
    def load(cls, config: SiteDictionaryConfig) -> SiteDictionary:
        """Read ``config.path``; a missing or unreadable file is a clear start-up error."""
        try:
            data = Path(config.path).read_bytes()
        except OSError as exc:
            raise ValueError(
                f"site dictionary {str(config.path)!r} cannot be read ({exc.strerror}). "
                "HINT: write one with `python -m perf_middleware.compression.training "
                "--url http://127.0.0.1:8000/ ... --out site.dict`."
            ) from None
        return cls(config, data)

    def encode(self, body: bytes) -> bytes:
        """``body`` as a ``dcz`` body (the header, then a zstd frame with its size)."""
        cctx: zstandard.ZstdCompressor | None = getattr(self._local, "cctx", None)
        if cctx is None:
            cctx = self._local.cctx = zstandard.ZstdCompressor(
                dict_data=self._prepared, write_content_size=True, write_dict_id=False
            )
        return self.header + cctx.compress(body)

    def decode(self, body: bytes) -> bytes:
        """The inverse of :meth:`encode` (tests, tools); ValueError on a foreign body."""
        if body[:40] != self.header:
            raise ValueError(
                "not a dcz body for this dictionary: its 40-byte header names another one. "
                "HINT: the client must send the matching Available-Dictionary."
            )
        out: bytes = zstandard.ZstdDecompressor(dict_data=self._prepared).decompress(body[40:])
        return out

    def link_tag(self) -> str:
        """``<link rel="compression-dictionary" href="…">`` for a page's ``<head>``: the
        browser fetches the dictionary at idle time."""
        return f'<link rel="compression-dictionary" href="{escape(self.url)}">'

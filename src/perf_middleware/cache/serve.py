"""Answering a request from a stored entry: precomputed header lists, 304/412, Cache-Status.

The per-coding header list is built once per entry and process (kept in ``entry.derived``), so
a hit only appends ``Age`` and ``Cache-Status`` and sends the stored bytes.

With a site dictionary (``CompressionConfig(site_dictionary=...)``) an HTML entry the
dictionary may compress is answered as ``dcz`` to a request holding the dictionary, from the
same stored identity body: the ``dcz`` variant is encoded on the first such hit and kept with
the entry's other per-process derivations, and every variant of such an entry varies on
``Available-Dictionary`` as well.
"""

from __future__ import annotations

from perf_middleware.cache.entry import CacheEntry
from perf_middleware.compression.site_dictionary import (
    SiteDictionary,
    carries_secret,
    html_candidate,
)
from perf_middleware.http.accept_encoding import choose_encoding
from perf_middleware.http.conditional import Precondition, evaluate_conditional
from perf_middleware.http.dictionary import dictionary_request
from perf_middleware.http.headers import media_type
from perf_middleware.pipeline.headers import mark_encoded, not_modified_headers
from perf_middleware.pipeline.observe import note_cache, send_complete
from perf_middleware.types import MutableRawHeaders, Send


class Variant:
    """One servable representation of an entry: body, full headers and its validator."""

    __slots__ = ("body", "etag", "headers", "not_modified")

    def __init__(
        self, entry: CacheEntry, coding: str, dictionary: SiteDictionary | None = None
    ) -> None:
        """``dictionary``: the site dictionary applies to this entry (``dictionary_applies``);
        the ``dcz`` variant is encoded with it."""
        if coding == "dcz":
            assert dictionary is not None
            self.body = dictionary.encode(entry.body())
        else:
            self.body = entry.body(coding)
        headers = list(entry.headers)
        if entry.codings:
            coded = None if coding == "identity" else coding
            mark_encoded(headers, coded, dictionary=dictionary is not None)
        headers.append((b"content-length", str(len(self.body)).encode("latin-1")))
        self.headers = headers
        etag = next((v for k, v in headers if k == b"etag"), None)
        self.etag = etag.decode("latin-1") if etag is not None else None
        self.not_modified = not_modified_headers(headers)


def variant(entry: CacheEntry, coding: str, dictionary: SiteDictionary | None = None) -> Variant:
    """The memoised :class:`Variant` of ``entry`` in ``coding`` (see ``Variant``)."""
    found = entry.derived.get(coding)
    if found is None:
        found = entry.derived[coding] = Variant(entry, coding, dictionary)
    assert isinstance(found, Variant)
    return found


def dictionary_applies(entry: CacheEntry, dictionary: SiteDictionary) -> bool:
    """Whether ``dictionary`` may apply to this stored response (``html_candidate`` on its
    headers), worked out once per entry and process. Only entries stored with other codings
    take part: the rest were too small or not compressible."""
    known = entry.derived.get("dictionary")
    if known is None:
        fields = {k: v for k, v in reversed(entry.headers)}  # the first line of each
        known = bool(entry.codings) and html_candidate(
            media_type(fields.get(b"content-type")), dictionary.config,
            set_cookie=fields.get(b"set-cookie"), cache_control=fields.get(b"cache-control"),
            vary=fields.get(b"vary"),
        )  # fmt: skip
        entry.derived["dictionary"] = known
    return bool(known)


CONDITIONAL_FIELDS = frozenset(
    {b"if-none-match", b"if-modified-since", b"if-match", b"if-unmodified-since"}
)


def has_conditional(headers: dict[bytes, bytes]) -> bool:
    """Whether the request carries a precondition a stored response is evaluated against."""
    return not CONDITIONAL_FIELDS.isdisjoint(headers)


def cache_status(name: str, *params: str) -> bytes:
    """RFC 9211 ``Cache-Status`` member: ``perf-middleware; hit; ttl=12``."""
    return "; ".join((name, *params)).encode("latin-1")


_BYPASS = frozenset({"fwd=bypass", "fwd=method", "fwd=request"})


def outcome(params: tuple[str, ...]) -> str | None:
    """What the cache did, for ``Server-Timing``, from the parameters of the ``Cache-Status``
    it writes: hit, stale (served stale), revalidated (a 304 refreshed the stored entry),
    bypass (not considered) or miss."""
    if "hit" in params:
        return "stale" if "fwd=stale" in params else "hit"
    fwd = next((p for p in params if p.startswith("fwd=")), None)
    if fwd is None:
        return None
    if fwd in _BYPASS:
        return "bypass"
    if fwd == "fwd=stale" and "fwd-status=304" in params and "stored" in params:
        return "revalidated"
    return "miss"


def precondition(
    method: str, headers: dict[bytes, bytes], entry: CacheEntry, chosen: Variant
) -> Precondition:
    """Conditional request evaluated against the stored validators (RFC 9110 §13.2.2)."""
    if not has_conditional(headers) or not 200 <= entry.status < 300:
        return Precondition.PROCEED
    return evaluate_conditional(
        method,
        if_match=headers.get(b"if-match"),
        if_none_match=headers.get(b"if-none-match"),
        if_modified_since=headers.get(b"if-modified-since"),
        if_unmodified_since=headers.get(b"if-unmodified-since"),
        etag=chosen.etag,
        last_modified=entry.last_modified,
    )


async def send_variant(
    send: Send,
    method: str,
    headers: dict[bytes, bytes],
    entry: CacheEntry,
    chosen: Variant,
    extra: MutableRawHeaders,
) -> None:
    """Send the stored response (or its 304 / 412) with ``extra`` fields (Age, Cache-Status)."""
    result = precondition(method, headers, entry, chosen)
    if result is Precondition.PROCEED:
        out = chosen.headers + extra
        await send({"type": "http.response.start", "status": entry.status, "headers": out})
        body = b"" if method == "HEAD" else chosen.body
        await send({"type": "http.response.body", "body": body})
        return
    if result is Precondition.NOT_MODIFIED:
        out = chosen.not_modified + extra
        await send({"type": "http.response.start", "status": 304, "headers": out})
    else:
        out = [(b"content-length", b"0"), *extra]
        await send({"type": "http.response.start", "status": 412, "headers": out})
    await send({"type": "http.response.body", "body": b""})


class Answers:
    """Answers from stored entries for one cache: the variant for the client's
    Accept-Encoding, ``Age`` and ``Cache-Status`` (RFC 9211), whose constant prefix per set of
    parameters is built once."""

    __slots__ = ("dictionary", "name", "status_prefix")

    def __init__(self, name: str, dictionary: SiteDictionary | None = None) -> None:
        self.name = name
        self.dictionary = dictionary
        self.status_prefix: dict[tuple[str, ...], bytes] = {}

    def variant_for(self, entry: CacheEntry, accept: bytes | None) -> Variant:
        """The stored variant best for this Accept-Encoding value, memoised on the entry
        (bytes keys; a few short distinct values at most)."""
        coding = choose_encoding(accept, entry.codings) or "identity"
        dictionary = self.dictionary
        if dictionary is not None and not dictionary_applies(entry, dictionary):
            dictionary = None
        chosen = variant(entry, coding, dictionary)
        if len(entry.derived) < 16 and (accept is None or len(accept) <= 64):
            entry.derived[accept] = chosen  # bounded: clients choose these values
        return chosen

    def _dcz(
        self, headers: dict[bytes, bytes], entry: CacheEntry, dictionary: SiteDictionary
    ) -> Variant | None:
        """The ``dcz`` variant for a request holding the site dictionary, when the entry
        allows it and the encoding is smaller than the identity body; else None."""
        if not dictionary_applies(entry, dictionary):
            return None
        if not dictionary_request(list(headers.items()), dictionary.sha256):
            return None
        secret = entry.derived.get("secret")
        if secret is None:
            secret = entry.derived["secret"] = carries_secret(entry.body(), dictionary.config)
        if secret:
            return None
        chosen = variant(entry, "dcz", dictionary)
        return chosen if len(chosen.body) < len(entry.body()) else None

    def answer(
        self, headers: dict[bytes, bytes], entry: CacheEntry, now: float, params: tuple[str, ...]
    ) -> tuple[Variant, MutableRawHeaders]:
        """The stored variant for the request's Accept-Encoding, and its Age + Cache-Status."""
        accept = headers.get(b"accept-encoding")
        chosen = None
        dictionary = self.dictionary
        if dictionary is not None and b"available-dictionary" in headers:
            chosen = self._dcz(headers, entry, dictionary)
        if chosen is None:
            chosen = entry.derived.get(accept)
        if chosen is None:
            chosen = self.variant_for(entry, accept)
        age = entry.age(now)
        prefix = self.status_prefix.get(params)
        if prefix is None:
            prefix = self.status_prefix[params] = cache_status(self.name, *params, "ttl=")
        ttl = entry.freshness_lifetime - age
        return chosen, [(b"age", b"%d" % age), (b"cache-status", prefix + b"%d" % ttl)]

    async def serve(
        self,
        send: Send,
        method: str,
        headers: dict[bytes, bytes],
        entry: CacheEntry,
        now: float,
        *params: str,
    ) -> None:
        """Answer from ``entry``: the best stored coding, Age and Cache-Status."""
        note_cache(send, outcome(params))
        chosen, extra = self.answer(headers, entry, now, params)
        if has_conditional(headers):
            await send_variant(send, method, headers, entry, chosen, extra)
            return
        await send_complete(
            send, entry.status, chosen.headers + extra, b"" if method == "HEAD" else chosen.body
        )

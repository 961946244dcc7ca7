"""Cache keys (RFC 9111 §2, §4.1): primary key from the request target, secondary from Vary.

The host is part of the key and can be checked against an allow-list, so a request with a
forged Host header can at worst fill an entry for that forged host: it can never be served to
clients of the real one.  A key is an unambiguous encoding of the request: a Host that is not
``host[:port]`` never makes one, and the path and query are kept as sent (percent-encoded), so
no path can spell another URL's query, host or the separators between keys.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from fnmatch import fnmatchcase
from functools import lru_cache
from urllib.parse import parse_qsl, quote, quote_from_bytes, urlencode, urlsplit

from perf_middleware.cache.config import CacheConfig

_DEFAULT_PORTS = {"http": "80", "https": "443"}
# RFC 3986 §3.2.2: a reg-name of dot-separated labels, an IPv4 address or an IP literal; then
# an optional port (checked after ``normalize_host``, so lower case)
_HOST = re.compile(r"(?:[a-z0-9_~-]+(?:\.[a-z0-9_~-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")
# what a key keeps of a path as sent: unreserved, sub-delims, ":", "@", "/" and the "%" of
# percent-encodings (RFC 3986 §3.3); the query may also hold "?" (§3.4)
_PATH_SAFE = "!$%&'()*+,-./:;=@_~"
_PATH_BYTES = (string.ascii_letters + string.digits + _PATH_SAFE).encode("ascii")
_QUERY_SAFE = _PATH_SAFE + "?"
_QUERY_BYTES = _PATH_BYTES + b"?"
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


@lru_cache(maxsize=1024)
def normalize_host(host: str, scheme: str) -> str:
    """Lower-case the host and drop the scheme's default port (``Example.COM:443`` over
    https -> ``example.com``). Repeated until nothing changes, so that one step exposing
    more to strip (``"a.\r."``, ``"a.:443"``) still yields one key for one host."""
    while True:
        step = _normalize_host_once(host, scheme)
        if step == host:
            return host
        host = step


def _normalize_host_once(host: str, scheme: str) -> str:
    host = host.strip().lower()
    if host.endswith(".") and ":" not in host:
        host = host[:-1]
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and "]" not in port and _DEFAULT_PORTS.get(scheme) == port:
        return name
    return host


def valid_host(host: str) -> bool:
    """Whether a normalised Host value is ``host[:port]`` (RFC 9110 §7.2); anything else
    (``a.test/page``, ``a@b``, two lines combined) must never become part of a key."""
    return _HOST.fullmatch(host) is not None


@lru_cache(maxsize=1024)
def host_allowed(host: str, allowed: tuple[str, ...] | None) -> bool:
    """Whether a normalised host may use the cache; ``*.example.com`` matches subdomains
    (not the bare domain), and an entry without a port matches any port."""
    if allowed is None:
        return True
    if not host:
        return False
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    for rule in allowed:
        rule = rule.lower()
        candidate = host if ":" in rule and rule.count(":") == 1 else bare
        if rule.startswith("*."):
            if candidate.endswith(rule[1:]) and len(candidate) > len(rule) - 1:
                return True
        elif candidate == rule:
            return True
    return False


def normalize_query(query: str, config: CacheConfig) -> str:
    """Apply ``ignore_query_params`` and ``normalize_query``; otherwise keep it as sent."""
    if not query or not (config.normalize_query or config.ignore_query_params):
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if config.ignore_query_params:
        pairs = [
            (k, v)
            for k, v in pairs
            if not any(fnmatchcase(k, pat) for pat in config.ignore_query_params)
        ]
    if config.normalize_query:
        pairs.sort()
    return urlencode(pairs, quote_via=quote)


def _escape(match: re.Match[str]) -> str:
    char = chr(int(match[1], 16))
    return char if char in _UNRESERVED else "%" + match[1].upper()


def _normal_escapes(text: str) -> str:
    """RFC 3986 §6.2.2: ``%61`` is ``a`` and ``%2f`` is ``%2F`` — one key, one invalidation
    for URIs that are the same (the app sees one decoded path for them)."""
    return _ESCAPE.sub(_escape, text) if "%" in text else text


def key_path(raw: bytes | None, path: str) -> str:
    """The request path as a key holds it: as sent, percent-encodings kept (``%3F`` is never
    the query's ``?``, ``%1F`` never a control character) in their normal form, bytes a URI
    cannot hold literally percent-encoded.  Without ``raw_path`` (optional in ASGI) the
    decoded path, encoded."""
    if raw is None:
        return quote(path, safe=_PATH_SAFE.replace("%", ""))
    if not raw.rstrip(_PATH_BYTES):  # the usual case: nothing to encode
        return _normal_escapes(raw.decode("ascii"))
    return _normal_escapes(quote_from_bytes(raw, safe=_PATH_SAFE))


def key_query(raw: bytes) -> str:
    """The query string as a key holds it (see :func:`key_path`)."""
    if not raw.rstrip(_QUERY_BYTES):
        return _normal_escapes(raw.decode("ascii"))
    return _normal_escapes(quote_from_bytes(raw, safe=_QUERY_SAFE))


def key_target(target: str) -> str:
    """``/path?query`` as a person types it (``/café?q=a b``), in the form keys hold it
    (``/caf%C3%A9?q=a%20b``): UTF-8, percent-encoded; what is encoded already stays as it is,
    and ``*`` too, so invalidation globs can be given either way."""
    path, sep, query = target.partition("?")
    encoded = key_path(path.encode("utf-8"), "")
    return encoded + sep + key_query(query.encode("utf-8")) if sep else encoded


def primary_key(scheme: str, host: str, path: str, query: str) -> str:
    """``scheme://host/path?query`` — GET and HEAD share it (HEAD is answered from GET);
    ``path`` and ``query`` as :func:`key_path` and :func:`key_query` give them."""
    return f"{scheme}://{host}{path}?{query}" if query else f"{scheme}://{host}{path}"


def _field_value(value: bytes) -> str:
    # optional whitespace around list commas is not significant ("de, en" == "de,en");
    # the separator and escape characters are escaped so values cannot forge a boundary
    text = ",".join(part.strip(" \t") for part in value.decode("latin-1").split(","))
    return "=" + text.replace("\\", "\\\\").replace("\x1e", "\\x1e")


def secondary_key(vary: tuple[str, ...], headers: Mapping[bytes, bytes]) -> str:
    """Request values of the ``vary`` fields, in order; an absent field differs from empty."""
    if not vary:
        return ""
    parts = []
    for name in vary:
        value = headers.get(name.encode("latin-1"))
        parts.append("\x00" if value is None else _field_value(value))
    return "\x1e".join(parts)


def cache_url_key(url: str, config: CacheConfig) -> str:
    """The primary key the cache stage builds for a request to ``url``, so operators can paste
    the URL as they see it (``https://Example.com:443/a%20b``, ``/café``: a path on every
    host); other strings (``@cached`` keys) pass unchanged."""
    if "://" not in url:
        return key_target(url) if url.startswith("/") else url
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced IPv6 bracket: cannot be a stored URL
        return url
    if not parts.scheme or not parts.netloc:
        return url
    scheme = parts.scheme.lower()
    host = normalize_host(parts.netloc.rsplit("@", 1)[-1], scheme)
    path = key_path(parts.path.encode("utf-8") or b"/", "")
    return primary_key(
        scheme, host, path, normalize_query(key_query(parts.query.encode("utf-8")), config)
    )

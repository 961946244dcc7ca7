"""Cache-Control policy: rules by path pattern, content type and status.

A ``Policy`` is an ordered list of ``Rule`` objects; the first rule that matches a response
decides its Cache-Control (and optionally CDN-Cache-Control, Surrogate-Control and cache-tag
headers). The app's own Cache-Control wins unless the rule says ``override=True``.

Presets (``Policy.default()``) are what people want on day one:

1. explicit ``no_store`` path patterns -> ``no-store``
2. fingerprinted assets (``app.3f2a9c1e.js``, ``logo-3f2a9c1e4b.png``) ->
   ``public, max-age=31536000, immutable``
3. HTML -> ``no-cache`` (always revalidate; the ETag makes that a cheap 304)

A response carrying ``Set-Cookie`` never receives a shared-cache policy (``public`` or
``s-maxage``) or CDN headers from a rule: caching one user's cookie for everyone is the bug
the anchors shipped. Rules can still set private directives on such responses. Likewise a
response the app itself marked ``private`` or ``no-store`` gets no shared-cache headers from a
rule without ``override=True``: a ``CDN-Cache-Control`` takes precedence over Cache-Control in
every cache that obeys it (RFC 9213, the response cache here included), so adding one would
share what the app kept private.

Matching is precomputed: patterns are compiled at start-up and the decision is memoised per
(path, media type, status) in a bounded per-instance table, so a request costs a dict lookup.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from perf_middleware.http.cache_control import IMMUTABLE_MAX_AGE, immutable, parse_cache_control
from perf_middleware.http.headers import MutableRawHeaders, get_header, get_joined, has_header
from perf_middleware.options import checked

logger = logging.getLogger("perf_middleware.policy")

FINGERPRINT_PATTERN = r".*[.-][0-9a-f]{8,64}\.[A-Za-z0-9]+(\.map)?$"
_DEFAULT_STATUSES = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
_MEMO_LIMIT = 4096


@checked()
@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One policy rule; every given criterion must match.

    * ``path``: shell-style glob (``/static/*``, ``*.html``) or, with ``regex=True``, a
      regular expression matched against the whole path. ``None`` matches any path.
    * ``content_type``: glob over the media type (``text/html``, ``image/*``), or None.
    * ``statuses``: statuses the rule applies to (default: the heuristically cacheable ones of
      RFC 9110 §15.1; errors like 500 are never given long lifetimes by accident).
    * ``cache_control``: the Cache-Control value to set; ``None`` leaves it alone.
    * ``cdn_cache_control`` / ``surrogate_control``: optional targeted headers (RFC 9213).
    * ``tags``: cache tags for purge-by-tag, merged into ``tag_header`` of the policy.
    * ``override``: replace the app's Cache-Control instead of deferring to it.
    """

    path: str | None = None
    regex: bool = False
    content_type: str | None = None
    statuses: frozenset[int] = _DEFAULT_STATUSES
    cache_control: str | None = None
    cdn_cache_control: str | None = None
    surrogate_control: str | None = None
    tags: tuple[str, ...] = ()
    override: bool = False

    def __post_init__(self) -> None:
        if self.path is not None and self.regex:
            try:
                re.compile(self.path)
            except re.error as exc:
                raise ValueError(
                    f"Rule(path={self.path!r}, regex=True) is not a valid regular expression: "
                    f"{exc}. HINT: escape dots and brackets, or use a glob with regex=False."
                ) from None
        for name in ("cache_control", "cdn_cache_control", "surrogate_control"):
            value = getattr(self, name)
            if value is not None and ("\r" in value or "\n" in value):
                raise ValueError(f"Rule.{name} contains a line break. HINT: remove it.")


@dataclass(frozen=True, slots=True)
class _Compiled:
    path: re.Pattern[str] | None
    content_type: re.Pattern[str] | None
    rule: Rule
    shared: bool  # grants shared caching: withheld from Set-Cookie responses


@dataclass(frozen=True, slots=True)
class Decision:
    """What a rule adds to a response; precomputed header bytes."""

    cache_control: bytes | None
    extra: tuple[tuple[bytes, bytes], ...]
    override: bool
    shared: bool


_NO_DECISION = Decision(None, (), False, False)


@checked()
@dataclass(slots=True, kw_only=True)
class Policy:
    """Ordered rules plus the tag header name (``Cache-Tag``; ``Surrogate-Key`` for Fastly)."""

    rules: tuple[Rule, ...] = ()
    tag_header: str = "Cache-Tag"
    _compiled: list[_Compiled] = field(default_factory=list, init=False, repr=False)
    _memo: dict[tuple[str, str, int], Decision] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.rules = tuple(self.rules)
        for rule in self.rules:
            path_re = None
            if rule.path is not None:
                source = rule.path if rule.regex else fnmatch.translate(rule.path)
                path_re = re.compile(source)
            ct_re = (
                re.compile(fnmatch.translate(rule.content_type.lower()))
                if rule.content_type
                else None
            )
            cc = parse_cache_control(rule.cache_control)
            shared = (
                cc.public
                or cc.s_maxage is not None
                or bool(rule.cdn_cache_control)
                or bool(rule.surrogate_control)
            )
            self._compiled.append(_Compiled(path_re, ct_re, rule, shared))

    @classmethod
    def default(
        cls,
        *,
        no_store: Iterable[str] = (),
        immutable_max_age: int = IMMUTABLE_MAX_AGE,
        html: str | None = "no-cache",
        extra_rules: Iterable[Rule] = (),
        tag_header: str = "Cache-Tag",
    ) -> Policy:
        """The presets described in the module docstring; ``extra_rules`` come first."""
        rules: list[Rule] = list(extra_rules)
        rules.extend(Rule(path=p, cache_control="no-store", override=True) for p in no_store)
        rules.append(
            Rule(
                path=FINGERPRINT_PATTERN,
                regex=True,
                statuses=frozenset({200, 203}),
                cache_control=immutable(immutable_max_age),
            )
        )
        if html is not None:
            rules.append(Rule(content_type="text/html", cache_control=html))
        return cls(rules=tuple(rules), tag_header=tag_header)

    def decide(self, path: str, media_type: str, status: int) -> Decision:
        key = (path, media_type, status)
        decision = self._memo.get(key)
        if decision is None:
            decision = self._match(path, media_type, status)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = decision
        return decision

    def _match(self, path: str, media_type: str, status: int) -> Decision:
        for c in self._compiled:
            rule = c.rule
            if status not in rule.statuses:
                continue
            if c.path is not None and c.path.fullmatch(path) is None:
                continue
            if c.content_type is not None and c.content_type.fullmatch(media_type) is None:
                continue
            extra: list[tuple[bytes, bytes]] = []
            if rule.cdn_cache_control:
                extra.append((b"cdn-cache-control", rule.cdn_cache_control.encode("latin-1")))
            if rule.surrogate_control:
                extra.append((b"surrogate-control", rule.surrogate_control.encode("latin-1")))
            if rule.tags:
                extra.append(
                    (self.tag_header.lower().encode("latin-1"), ",".join(rule.tags).encode())
                )
            cc = rule.cache_control.encode("latin-1") if rule.cache_control else None
            return Decision(cc, tuple(extra), rule.override, c.shared)
        return _NO_DECISION

    def apply(self, headers: MutableRawHeaders, path: str, media_type: str, status: int) -> bool:
        """Add the matching rule's headers to ``headers`` in place; True if any were."""
        decision = self.decide(path, media_type, status)
        if decision is _NO_DECISION:
            return False
        if decision.shared and has_header(headers, b"set-cookie"):
            logger.debug("policy skipped reason=set-cookie path=%s", path)
            return False
        if decision.shared and not decision.override and _kept_private(headers):
            logger.debug("policy skipped reason=private path=%s", path)
            return False
        if decision.cache_control is not None:
            if decision.override:
                headers[:] = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                headers.append((b"cache-control", decision.cache_control))
            elif get_header(headers, b"cache-control") is None:
                headers.append((b"cache-control", decision.cache_control))
        for name, value in decision.extra:
            existing = get_header(headers, name)
            if existing is None:
                headers.append((name, value))
            elif name == self.tag_header.lower().encode("latin-1"):
                merged = dict.fromkeys([*existing.split(b","), *value.split(b",")])
                joined = b",".join(t.strip() for t in merged if t.strip())
                headers[:] = [(k, v) for k, v in headers if k.lower() != name]
                headers.append((name, joined))
        return True


def _kept_private(headers: MutableRawHeaders) -> bool:
    """The app's own Cache-Control says ``private`` or ``no-store``."""
    own = get_joined(headers, b"cache-control")
    if own is None:
        return False
    cc = parse_cache_control(own)
    return cc.private or cc.no_store

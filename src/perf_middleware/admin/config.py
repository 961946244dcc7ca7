"""Configuration of the admin API: who may call it (token, client networks) and limits.

Validated once at start-up so a weak token or a typo in the allow-list fails the deploy with
a clear message instead of silently leaving the API open or closed.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any, Final

from perf_middleware.options import checked

__all__ = ["ENV_TOKEN", "AdminConfig"]

#: Environment variable :meth:`AdminConfig.from_env` reads the token from.
ENV_TOKEN: Final = "PERF_ADMIN_TOKEN"
_MIN_TOKEN_LENGTH: Final = 16
_HINT_TOKEN: Final = (
    'HINT: generate one with python -c "import secrets; print(secrets.token_urlsafe(32))"'
)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@checked()
@dataclass(frozen=True, slots=True, kw_only=True)
class AdminConfig:
    """Options of the admin API.

    ``token`` (default ``None`` = admin disabled): the bearer token, at least 16 characters,
    compared in constant time. ``allow_ips`` (default: any client): addresses or CIDR networks
    allowed to call the API; the client address is the ASGI ``client`` (run uvicorn with
    ``--proxy-headers --forwarded-allow-ips`` behind a proxy). ``prefix`` (default ``/_perf``)
    is where the middleware mounts the app. ``health_timeout`` (default 2.0 s) bounds the
    backend ping and ``health_max_latency_ms`` (default 250) marks a slow backend degraded.
    ``max_body`` (default 64 KiB) bounds ``POST /invalidate`` bodies.

    ``web_vitals`` (default False) switches on the real-user Web Vitals beacon endpoint
    (``POST <prefix>/vitals``, open to anonymous visitors, no token) and its histograms; it
    also works without a token, with only the public beacon and assets mounted.
    ``web_vitals_routes`` (default none) pre-declares route templates beacons may name, on
    top of those the ``web_vitals()`` template helper rendered in this process (needed when
    several workers share the metrics). ``web_vitals_rate`` (default 0.5 per second) and
    ``web_vitals_burst`` (default 20) bound beacons per client address (token bucket).
    ``history_interval`` (default 10 s) and ``history_size`` (default 360: an hour) shape the
    in-process ring buffer of metric snapshots the dashboard plots.
    """

    token: str | None = None
    allow_ips: tuple[str, ...] = ()
    prefix: str = "/_perf"
    health_timeout: float = 2.0
    health_max_latency_ms: float = 250.0
    max_body: int = 64 * 1024
    web_vitals: bool = False
    web_vitals_routes: tuple[str, ...] = ()
    web_vitals_rate: float = 0.5
    web_vitals_burst: int = 20
    history_interval: float = 10.0
    history_size: int = 360
    networks: tuple[IPNetwork, ...] = field(init=False, repr=False, default=())

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token.strip()) < _MIN_TOKEN_LENGTH:
            raise ValueError(
                f"AdminConfig.token is shorter than {_MIN_TOKEN_LENGTH} characters. {_HINT_TOKEN}"
            )
        if not self.prefix.startswith("/") or self.prefix.endswith("/") or len(self.prefix) < 2:
            raise ValueError(
                f"AdminConfig.prefix={self.prefix!r} must start with '/' and not end with one. "
                "HINT: use prefix='/_perf'."
            )
        if self.health_timeout <= 0 or self.health_max_latency_ms <= 0 or self.max_body <= 0:
            raise ValueError(
                "AdminConfig.health_timeout, health_max_latency_ms and max_body must be "
                "positive. HINT: leave them at their defaults (2.0 s, 250 ms, 64 KiB)."
            )
        if (
            self.web_vitals_rate <= 0
            or self.web_vitals_burst < 1
            or self.history_interval <= 0
            or self.history_size < 2
        ):
            raise ValueError(
                "AdminConfig.web_vitals_rate, web_vitals_burst, history_interval must be "
                "positive and history_size at least 2. HINT: leave them at their defaults "
                "(0.5/s, 20, 10 s, 360)."
            )
        if isinstance(self.allow_ips, str) or isinstance(self.web_vitals_routes, str):
            raise TypeError(
                "AdminConfig.allow_ips and web_vitals_routes must be tuples. "
                "HINT: allow_ips=('10.0.0.0/8',), web_vitals_routes=('/decks/{id}',)"
            )
        networks: list[IPNetwork] = []
        for item in self.allow_ips:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as exc:
                raise ValueError(
                    f"AdminConfig.allow_ips entry {item!r} is not an IP address or network "
                    f"({exc}). HINT: use '127.0.0.1', '10.0.0.0/8' or '::1'."
                ) from None
        object.__setattr__(self, "networks", tuple(networks))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **options: Any) -> AdminConfig:
        """Config with the token from ``PERF_ADMIN_TOKEN`` (unset or empty = disabled)."""
        env = os.environ if environ is None else environ
        token = env.get(ENV_TOKEN, "").strip() or None
        return cls(token=token, **options)

    @property
    def enabled(self) -> bool:
        return self.token is not None

    @property
    def mounted(self) -> bool:
        """Whether the middleware mounts the app: a token, or the public beacon alone."""
        return self.token is not None or self.web_vitals

    def client_allowed(self, host: str | None) -> bool:
        if not self.networks:
            return True
        if host is None:
            return False
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in net for net in self.networks)

    def token_matches(self, authorization: bytes | None) -> bool:
        if self.token is None or authorization is None:
            return False
        scheme, _, credentials = authorization.strip().partition(b" ")
        if scheme.lower() != b"bearer":
            return False
        return hmac.compare_digest(credentials.strip(), self.token.encode())

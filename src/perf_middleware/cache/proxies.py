"""Which peers are trusted reverse proxies (``CacheConfig(forwarded_allow_ips=...)``).

The same setting as uvicorn's ``--forwarded-allow-ips``: addresses or networks of the proxies
in front of the app, ``"*"`` for any peer (only when nothing else can reach the app). From a
trusted peer the reported origin (``Forwarded``/``X-Forwarded-Host``/``-Proto``) replaces
Host and scheme in the cache key, and the Host allow-list applies to it; from anyone else
those fields stay unkeyed request fields (a response to them is not stored unless it varies
on them), because a client could set them to poison the cache.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from perf_middleware.options import describe

_MEMO_LIMIT = 1024


class TrustedProxies:
    __slots__ = ("_any", "_memo", "_networks", "_unix")

    def __init__(self, entries: Iterable[str]) -> None:
        self._any = False
        self._unix = False
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self._memo: dict[str, bool] = {}
        for entry in entries:
            if not isinstance(entry, str):
                raise TypeError(
                    f"CacheConfig(forwarded_allow_ips=...) holds {describe(entry)}. "
                    'HINT: addresses or networks as strings: ("10.0.0.0/8", "127.0.0.1").'
                )
            text = entry.strip()
            if text == "*":
                self._any = True
            elif text.startswith("unix:"):
                self._unix = True  # a proxy on a Unix socket: the peer has no address
            else:
                try:
                    self._networks.append(ipaddress.ip_network(text, strict=False))
                except ValueError:
                    raise ValueError(
                        f"CacheConfig(forwarded_allow_ips=...) entry {entry!r} is not an IP "
                        'address or network. HINT: ("127.0.0.1", "10.0.0.0/8"), "*" for any '
                        'peer, "unix:" for a proxy on a Unix socket.'
                    ) from None

    def trusts(self, client: object) -> bool:
        """Whether the peer ``scope["client"]`` (``(host, port)`` or None) is trusted."""
        if self._any:
            return True
        if not isinstance(client, (tuple, list)) or not client:
            return self._unix  # no address: a Unix socket
        host = str(client[0])
        known = self._memo.get(host)
        if known is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                known = False
            else:
                known = any(address in net for net in self._networks)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[host] = known
        return known

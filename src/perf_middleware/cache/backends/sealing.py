"""Optional encryption at rest for shared stores (AES-GCM from ``cryptography``).

Each sealed value is bound to its storage key as associated data, so an attacker with write
access to Redis cannot move one page's ciphertext under another page's key.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from perf_middleware.cache.entry import EntryFormatError

_SEALED = b"E"


def parse_encryption_key(key: bytes | str) -> bytes:
    """Accept raw bytes, base64 or hex text; AES-GCM needs 16, 24 or 32 bytes."""
    if isinstance(key, str):
        raw = b""
        for decode in (base64.urlsafe_b64decode, base64.b64decode, bytes.fromhex):
            try:
                raw = decode(key)
            except (binascii.Error, ValueError):
                continue
            if len(raw) in (16, 24, 32):
                break
        key = raw
    if len(key) not in (16, 24, 32):
        raise ValueError(
            "RedisBackend(encryption_key=...) must be 16, 24 or 32 bytes (raw, base64 or hex). "
            'HINT: generate one with python -c "import os,base64;'
            'print(base64.b64encode(os.urandom(32)).decode())"'
        )
    return key


class Sealer:
    """``seal``/``unseal`` bytes under a storage key; a no-op without a key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes | str | None) -> None:
        self._aead: Any = None
        if key is not None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._aead = AESGCM(parse_encryption_key(key))

    def seal(self, where: str, data: bytes) -> bytes:
        if self._aead is None:
            return data
        nonce = os.urandom(12)
        return _SEALED + nonce + bytes(self._aead.encrypt(nonce, data, where.encode()))

    def unseal(self, where: str, data: bytes) -> bytes:
        if self._aead is None:
            return data
        from cryptography.exceptions import InvalidTag

        if data[:1] != _SEALED:
            raise EntryFormatError("unencrypted entry in an encrypted cache")
        try:
            return bytes(self._aead.decrypt(data[1:13], data[13:], where.encode()))
        except InvalidTag as exc:
            raise EntryFormatError("entry failed authentication (wrong key?)") from exc

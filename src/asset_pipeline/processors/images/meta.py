"""Lossless metadata stripping for JPEG and PNG containers.

Re-encoding a JPEG only to drop its EXIF block would lose quality, so privacy stripping
works on the container: segments and chunks that carry camera, location or editing
metadata are dropped and the compressed image data is copied byte for byte. What a
decoder needs to show the same colours (JFIF, ICC profile, Adobe colour transform,
PNG gamma/chromaticity/sRGB/transparency) is kept.
"""

from __future__ import annotations

import struct

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG chunks that only carry metadata: text, EXIF, modification time
_PNG_DROP = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"})

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_APP0, _APP2, _APP14, _COM = 0xE0, 0xE2, 0xEE, 0xFE
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0..RST7


class ContainerError(ValueError):
    """The container structure is broken (the caller reports it with the file name)."""


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    if marker == _COM:
        return False
    if 0xE0 <= marker <= 0xEF:  # APPn
        if marker == _APP0:  # JFIF / JFXX
            return True
        if marker == _APP2:  # ICC profile kept; MPF (secondary images) dropped
            return payload.startswith(b"ICC_PROFILE\x00")
        # Adobe APP14 tells the decoder how to interpret CMYK/YCCK data
        return marker == _APP14 and payload.startswith(b"Adobe")
    return True


def strip_jpeg(data: bytes) -> bytes:
    """Drop EXIF/XMP/IPTC/comments/MPF and anything after EOI; copy the scans verbatim."""
    if data[:2] != b"\xff\xd8":
        raise ContainerError("no JPEG start-of-image marker")
    out = bytearray(b"\xff\xd8")
    pos, n = 2, len(data)
    in_scan = False
    while pos < n:
        if in_scan:
            start = pos
            while True:
                ff = data.find(b"\xff", pos)
                if ff < 0 or ff + 1 >= n:
                    raise ContainerError("entropy-coded data runs past the end of the file")
                nxt = data[ff + 1]
                if nxt == 0x00 or nxt in _STANDALONE or nxt == 0xFF:
                    pos = ff + 1 if nxt == 0xFF else ff + 2
                    continue
                break
            out += data[start:ff]
            pos = ff
            in_scan = False
        if data[pos] != 0xFF:
            raise ContainerError(f"expected a marker at byte {pos}")
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            raise ContainerError("file ends inside a marker")
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            out += b"\xff\xd9"
            return bytes(out)
        if marker in _STANDALONE or marker == _SOI:
            out += bytes((0xFF, marker))
            continue
        if pos + 2 > n:
            raise ContainerError("file ends inside a segment header")
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > n:
            raise ContainerError(f"segment 0xFF{marker:02X} has a bad length")
        payload = data[pos + 2 : pos + length]
        if _keep_jpeg_segment(marker, payload):
            out += bytes((0xFF, marker)) + data[pos : pos + length]
        pos += length
        if marker == _SOS:
            in_scan = True
    raise ContainerError("no end-of-image marker")


def strip_png(data: bytes) -> bytes:
    """Drop text, EXIF and time chunks; keep every chunk that affects rendering."""
    if not data.startswith(_PNG_SIGNATURE):
        raise ContainerError("no PNG signature")
    out = bytearray(_PNG_SIGNATURE)
    pos, n = len(_PNG_SIGNATURE), len(data)
    while pos + 12 <= n:
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n:
            raise ContainerError(f"chunk {kind!r} runs past the end of the file")
        if kind not in _PNG_DROP:
            out += data[pos:end]
        pos = end
        if kind == b"IEND":
            return bytes(out)
    raise ContainerError("no IEND chunk")

"""Colour normalisation before encoding WebP/AVIF.

Web encoders take 8-bit RGB, RGBA or L. Every other mode is mapped so colours and alpha
survive: 16-bit grey is scaled (Pillow's plain conversion clips it to white), palettes
keep their transparency, CMYK goes through its ICC profile to sRGB, and an alpha channel
that is fully opaque is dropped because it only costs bytes.
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageCms

log = logging.getLogger(__name__)


def _is_srgb(icc: bytes) -> bool:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return "srgb" in ImageCms.getProfileDescription(profile).lower().replace(" ", "")
    except (ImageCms.PyCMSError, OSError):
        return False


def to_web_mode(im: Image.Image, *, to_srgb: bool) -> tuple[Image.Image, bytes | None]:
    """Pixels an encoder takes (RGB/RGBA/L) plus the ICC profile to embed, if any."""
    icc: bytes | None = im.info.get("icc_profile") or None
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey: scale, don't clip
        im = im.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    elif im.mode not in ("RGB", "RGBA", "L", "CMYK") or "transparency" in im.info:
        # palettes, bilevel, grey+alpha, and L/RGB with a tRNS colour key
        has_alpha = "transparency" in im.info or im.mode in ("PA", "LA", "La", "RGBa")
        im = im.convert("RGBA" if has_alpha else "RGB")
    if icc and _is_srgb(icc):
        icc = None  # browsers assume sRGB: the profile would only add bytes to every file
    alpha = im.getchannel("A") if im.mode == "RGBA" else None
    if alpha is not None and alpha.getextrema() == (255, 255):
        alpha = None
        im = im.convert("RGB")
    if im.mode == "CMYK" or (icc and to_srgb):
        if icc:
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                base = im.convert("RGB") if im.mode == "RGBA" else im
                out_mode = "L" if base.mode == "L" else "RGB"
                converted = ImageCms.profileToProfile(
                    base, src, ImageCms.createProfile("sRGB"), outputMode=out_mode
                )
                assert converted is not None
                im = converted
            except (ImageCms.PyCMSError, OSError) as exc:
                log.warning("ICC profile ignored reason=%s", exc)
                im = im.convert("RGB") if im.mode == "CMYK" else im
        else:
            im = im.convert("RGB")
        icc = None
        if alpha is not None:
            im = im.convert("RGB")
            im.putalpha(alpha)
    return im, icc

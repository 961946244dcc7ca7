"""Encoder settings for every output an image can have.

Kept apart from the decisions in ``images`` so the exact encoder calls (and what
metadata each one could leak) are in one place: every image handed to an encoder here
has an empty ``info`` (see ``bare``), and the ICC profile is passed explicitly.
"""

from __future__ import annotations

import io

from PIL import Image, JpegImagePlugin

from asset_pipeline.processors.images.options import ImageOptions


def encode(im: Image.Image, fmt: str, lossless: bool, icc: bytes | None, o: ImageOptions) -> bytes:
    buf = io.BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "webp":
        q = 100 if lossless else o.webp_quality  # lossless: quality = effort
        im.save(buf, "WEBP", quality=q, method=o.webp_method, lossless=lossless, **extra)
    elif fmt == "avif":
        q, sub = (100, "4:4:4") if lossless else (o.avif_quality, "4:2:0")
        im.save(buf, "AVIF", quality=q, speed=o.avif_speed, subsampling=sub, **extra)
    elif fmt == "jpeg":
        rgb = im if im.mode in ("RGB", "L") else im.convert("RGB")
        rgb.save(buf, "JPEG", quality=o.jpeg_quality, optimize=True, progressive=True, **extra)
    else:
        im.save(buf, "PNG", optimize=True, **extra)
    return buf.getvalue()


def reencode_main(
    src: Image.Image, upright: Image.Image, icc: bytes | None, exif: bytes | None = None
) -> bytes:
    """Re-encode the fallback in its own format after orientation/colour changed pixels;
    ``exif`` (orientation already reset) only when metadata is kept."""
    buf = io.BytesIO()
    extra: dict[str, bytes] = {"icc_profile": icc} if icc else {}
    if exif:
        extra["exif"] = exif
    if src.format == "JPEG":
        rgb = upright if upright.mode in ("RGB", "L", "CMYK") else upright.convert("RGB")
        sampling = JpegImagePlugin.get_sampling(src)
        rgb.save(
            buf,
            "JPEG",
            qtables=getattr(src, "quantization", None),  # same quality as the source
            subsampling=sampling if sampling >= 0 else 2,
            optimize=True,
            **extra,
        )
    else:
        upright.save(buf, "PNG", optimize=True, **extra)
    return buf.getvalue()


def bare(im: Image.Image) -> Image.Image:
    """A copy without ``info``: AVIF and PNG encoders copy EXIF/XMP/ICC from it otherwise."""
    bare = im.copy()
    bare.info = {}
    return bare

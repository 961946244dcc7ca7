"""``[tool.asset-pipeline.images]``: the options every image output is encoded with."""

from __future__ import annotations

from dataclasses import dataclass

from asset_pipeline.processors._options import parse_options
from asset_pipeline.processors.base import ProcessContext


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageOptions:
    """``[tool.asset-pipeline.images]``; the defaults are chosen by measurement
    (``benchmarks/images.py``, figures in ``docs/benchmarks.md``)."""

    formats: tuple[str, ...] = ("avif", "webp")  #: alternates, most preferred first
    widths: tuple[int, ...] = ()  #: responsive widths in px; never upscaled
    mode: str = "auto"  #: "auto" | "lossy" | "lossless"
    lossless_flat_percent: int = 50  #: auto mode: flat = 8 colours cover this % of pixels
    webp_quality: int = 75
    webp_method: int = 4  #: 0-6: higher is much slower for few bytes saved
    avif_quality: int = 60
    avif_speed: int = 6
    jpeg_quality: int = 85  #: resized JPEG fallbacks only
    strip_metadata: bool = True  #: drop EXIF/XMP/IPTC/text (privacy); ICC is kept
    icc: str = "keep"  #: "keep" the embedded profile, or convert pixels to "srgb"
    max_pixels: int = 50_000_000  #: decompression-bomb limit (width x height)
    animated: str = "webp"  #: animated GIF: "webp" (animated WebP) or "keep"
    on_error: str = "fail"  #: unreadable image: "fail" the build or "copy" it as is


_CHOICES = {
    "formats": ("avif", "webp"),
    "mode": ("auto", "lossy", "lossless"),
    "icc": ("keep", "srgb"),
    "animated": ("webp", "keep"),
    "on_error": ("fail", "copy"),
}
_RANGES = {
    "widths": (1, 100_000),
    "lossless_flat_percent": (0, 101),
    "webp_quality": (0, 100),
    "webp_method": (0, 6),
    "avif_quality": (0, 100),
    "avif_speed": (0, 10),
    "jpeg_quality": (1, 95),
    "max_pixels": (1, 2**40),
}


def parse_image_options(ctx: ProcessContext) -> ImageOptions:
    return parse_options(
        ImageOptions,
        ctx.options,
        section="images",
        logical_name=ctx.logical_name,
        choices=_CHOICES,
        ranges=_RANGES,
    )

"""Image processor: keep the original as the fallback, add WebP/AVIF and resized variants.

Rules (each overridable per glob through ``[[tool.asset-pipeline.images.rules]]``):

* The main output stays in the source format. It is re-encoded only when pixels must
  change (EXIF orientation, ``icc = "srgb"``); otherwise metadata is stripped from the
  container losslessly (see ``images.meta``), so the fallback never loses quality.
* Lossless or lossy, per image (``mode = "auto"``): JPEG sources are photos, so lossy;
  GIF and palette PNGs are lossless; any other PNG is lossless when it is *flat*: its 8
  most frequent colours (all fully transparent pixels counting as one) cover at least
  ``lossless_flat_percent`` % of the pixels. Screenshots, charts, icons and logos score
  high on this measure, photographs (even greyscale ones) low (figures in
  ``docs/benchmarks.md``).
* An alternate is kept only when it is smaller than the fallback at the same width and
  smaller than every less-preferred format kept there (``formats`` lists the most
  preferred first), so a browser that asks for AVIF never gets more bytes than WebP
  would have cost. (On JPEG sources AVIF at the default quality often lands above WebP,
  at a higher SSIM; the build then ships the WebP. ``formats = ["avif"]`` per glob forces
  AVIF.)
* An embedded sRGB ICC profile is dropped from alternates (browsers assume sRGB); any
  other profile is embedded, or applied to the pixels with ``icc = "srgb"``. CMYK is
  converted to sRGB through its profile.
* Flat images get no AVIF when WebP is on: near-lossless AVIF (quality 100, 4:4:4) is
  larger than lossless WebP on UI images and far slower to encode.
* Every alternate format left out at some width is recorded in the output's metadata
  (``dropped``: format, width, reason) so the build summary can say why a format is
  missing instead of leaving users to guess.
* Animated GIFs become animated lossless WebP (``animated = "webp"``) or are left alone
  (``"keep"``); they get no AVIF and no resized variants.
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageOps

from asset_pipeline.processors.base import (
    DROPPED_FAILED,
    DROPPED_LARGER,
    DROPPED_LOSSLESS,
    ExtraOutput,
    ProcessContext,
    ProcessingError,
    ProcessorOutput,
)
from asset_pipeline.processors.images.color import to_web_mode
from asset_pipeline.processors.images.encode import bare, encode, reencode_main
from asset_pipeline.processors.images.load import open_image
from asset_pipeline.processors.images.meta import ContainerError, strip_jpeg, strip_png
from asset_pipeline.processors.images.options import ImageOptions, parse_image_options

log = logging.getLogger(__name__)

_TYPES = {"webp": "image/webp", "avif": "image/avif", "png": "image/png", "jpeg": "image/jpeg"}
_SUFFIXES = {"webp": ".webp", "avif": ".avif", "png": ".png", "jpeg": ".jpg"}


def process_image(data: bytes, ctx: ProcessContext) -> ProcessorOutput:
    """Process one PNG/JPEG/GIF; configuration errors always fail, image errors obey on_error."""
    opts = parse_image_options(ctx)
    try:
        return _process(data, ctx.logical_name, opts)
    except ProcessingError as exc:
        if opts.on_error != "copy":
            raise
        log.warning("image copied unprocessed file=%s reason=%s", ctx.logical_name, exc.reason)
        return ProcessorOutput(data=data)


def _is_lossless(src: Image.Image, pixels: Image.Image, opts: ImageOptions) -> bool:
    if opts.mode != "auto":
        return opts.mode == "lossless"
    if src.format == "JPEG":
        return False
    if src.format == "GIF" or src.mode in ("P", "PA", "1"):
        return True
    colors = pixels.getcolors(65536)
    if colors is None:  # more colours than any flat graphic has
        return False
    counts: list[int] = []
    clear = 0
    for count, color in colors:
        if isinstance(color, tuple) and len(color) == 4 and color[3] == 0:
            clear += count  # every fully transparent pixel looks the same
        else:
            counts.append(count)
    counts.append(clear)
    top = sum(sorted(counts, reverse=True)[:8])
    return 100 * top >= opts.lossless_flat_percent * pixels.width * pixels.height


def _dropped(
    formats: tuple[str, ...], encoded: list[tuple[str, bytes]], kept: list[tuple[str, bytes]]
) -> list[tuple[str, str]]:
    """(format, reason) for each configured format not kept at one size."""
    sizes = dict(encoded)
    kept_sizes = dict(kept)
    out: list[tuple[str, str]] = []
    for fmt in formats:
        if fmt in kept_sizes:
            continue
        if fmt not in sizes:
            out.append((fmt, DROPPED_FAILED))
            continue
        # the smallest kept less-preferred format it lost to, else the fallback itself
        beaten_by = [f for f in formats[formats.index(fmt) + 1 :] if f in kept_sizes]
        winner = min(beaten_by, key=kept_sizes.__getitem__) if beaten_by else "original"
        out.append((fmt, DROPPED_LARGER + winner))
    return out


def _pick(candidates: list[tuple[str, bytes]], fallback_size: int) -> list[tuple[str, bytes]]:
    """Keep an alternate only if it is smaller than the fallback and than every
    less-preferred alternate kept (``candidates`` are most preferred first)."""
    kept: list[tuple[str, bytes]] = []
    limit = fallback_size
    for fmt, blob in reversed(candidates):
        if len(blob) < limit:
            kept.append((fmt, blob))
            limit = len(blob)
    return kept[::-1]


def _process(data: bytes, name: str, opts: ImageOptions) -> ProcessorOutput:
    src = open_image(data, name, max_pixels=opts.max_pixels)
    if getattr(src, "is_animated", False):
        return _process_animated(data, src, name, opts)
    orientation = src.getexif().get(0x0112, 1)
    upright = ImageOps.exif_transpose(src) if orientation not in (0, 1) else src
    pixels, icc = to_web_mode(upright, to_srgb=opts.icc == "srgb")
    pixels = bare(pixels)
    src_icc = src.info.get("icc_profile") or None
    main = data
    try:
        if orientation not in (0, 1) or (src_icc and opts.icc == "srgb" and src.format != "GIF"):
            keep = upright if src.format == "JPEG" and opts.icc == "keep" else pixels
            exif = None if opts.strip_metadata else upright.info.get("exif")
            main = reencode_main(src, bare(keep), icc if opts.icc == "keep" else None, exif)
        elif opts.strip_metadata and src.format == "JPEG":
            main = strip_jpeg(data)
        elif opts.strip_metadata and src.format == "PNG":
            main = strip_png(data)
    except ContainerError as exc:
        raise ProcessingError(name, f"broken {src.format} container ({exc})") from None
    lossless = _is_lossless(src, pixels, opts)
    extras: list[ExtraOutput] = []
    dropped: list[list[object]] = []  # [format, width, reason]: JSON, for the build cache
    formats = opts.formats
    skipped: tuple[str, ...] = ()
    if lossless and "webp" in formats:  # near-lossless AVIF never beat lossless WebP, slowly
        skipped = tuple(f for f in formats if f == "avif")
        formats = tuple(f for f in formats if f != "avif")

    def add(tag: str, im: Image.Image, fallback_size: int) -> None:
        encoded = []
        for fmt in formats:
            try:
                encoded.append((fmt, encode(im, fmt, lossless, icc, opts)))
            except (OSError, ValueError) as exc:  # e.g. WebP's 16383 px limit
                log.warning("image alternate skipped file=%s format=%s reason=%s", name, fmt, exc)
        kept = _pick(encoded, fallback_size)
        for fmt, blob in kept:
            suffix = f"{tag}{_SUFFIXES[fmt]}"
            extras.append(ExtraOutput(suffix, blob, _TYPES[fmt], fmt, im.width, im.height))
        dropped.extend([fmt, im.width, DROPPED_LOSSLESS] for fmt in skipped)
        dropped.extend([fmt, im.width, why] for fmt, why in _dropped(formats, encoded, kept))

    add("", pixels, len(main))
    fallback_fmt = "jpeg" if src.format == "JPEG" else "png"
    for width in sorted(set(opts.widths)):
        if width >= pixels.width:
            continue
        height = max(1, round(pixels.height * width / pixels.width))
        small = pixels.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        fallback = encode(small, fallback_fmt, True, icc, opts)
        tag = f".w{width}"
        extras.append(
            ExtraOutput(
                tag + _SUFFIXES[fallback_fmt],
                fallback,
                _TYPES[fallback_fmt],
                fallback_fmt,
                width,
                height,
            )
        )
        add(tag, small, len(fallback))
    return ProcessorOutput(
        data=main,
        extras=tuple(extras),
        metadata={"width": pixels.width, "height": pixels.height, "dropped": dropped},
    )


def _process_animated(
    data: bytes, src: Image.Image, name: str, opts: ImageOptions
) -> ProcessorOutput:
    extras: tuple[ExtraOutput, ...] = ()
    if opts.animated == "webp" and "webp" in opts.formats:
        lossless = opts.mode != "lossy"
        buf = io.BytesIO()
        src.save(
            buf,
            "WEBP",
            save_all=True,
            lossless=lossless,
            quality=100 if lossless else opts.webp_quality,
            method=opts.webp_method,
        )
        blob = buf.getvalue()
        if len(blob) < len(data):
            extras = (ExtraOutput(".webp", blob, _TYPES["webp"], "webp", src.width, src.height),)
    return ProcessorOutput(
        data=data, extras=extras, metadata={"width": src.width, "height": src.height}
    )

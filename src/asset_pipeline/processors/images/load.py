"""Opening an untrusted image: format check, pixel limit, full decode.

Pillow decodes lazily and warns (rather than fails) on large images, so this module
turns each way an image file can be wrong - not an image, an extension that lies, a
decompression bomb, truncated data - into one ProcessingError naming the file and the
fix, before any encoder sees the pixels. Pillow's global ``MAX_IMAGE_PIXELS`` is left
alone; the configured ``max_pixels`` is checked here instead.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import PurePosixPath

from PIL import Image, UnidentifiedImageError

from asset_pipeline.processors.base import ProcessingError

_EXPECTED = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF"}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)


def open_image(data: bytes, name: str, *, max_pixels: int) -> Image.Image:
    """Decode every frame now, so truncation and bombs fail here with the file name."""
    ext = PurePosixPath(name).suffix.lower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise ProcessingError(
                name,
                f"decompression bomb refused by Pillow ({exc}). HINT: downscale the source; "
                "Pillow's own hard limit applies whatever max_pixels says.",
            ) from None
        except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
            raise ProcessingError(
                name,
                f"not a readable image, or truncated ({exc}). "
                "HINT: re-export the file from its source.",
            ) from None
    expected = _EXPECTED.get(ext)
    if expected is not None and im.format != expected:
        raise ProcessingError(
            name,
            f"the extension {ext} says {expected} but the content is {im.format}. "
            f"HINT: rename the file to match its content or re-export it as {expected}.",
        )
    frames = getattr(im, "n_frames", 1)
    pixels = im.width * im.height * frames  # every frame of an animation is decoded
    if pixels > max_pixels:
        what = f"{im.width}x{im.height}" + (f" x {frames} frames" if frames > 1 else "")
        raise ProcessingError(
            name,
            f"{what} = {pixels} pixels exceeds max_pixels={max_pixels} "
            "(decompression-bomb protection). HINT: downscale the source or raise max_pixels "
            "in a [[tool.asset-pipeline.images.rules]] entry for this file.",
        )
    try:
        for frame in range(frames):
            im.seek(frame)
            im.load()
        im.seek(0)
    except _DECODE_ERRORS as exc:
        raise ProcessingError(
            name, f"truncated or corrupt image data ({exc}). HINT: re-export the file."
        ) from None
    return im

"""The image processor on images drawn in the test: colour/alpha round trips, metadata,
orientation, alternates, responsive widths and every kind of bad input."""

from __future__ import annotations

import io
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw, ImageSequence, ImageStat

from asset_pipeline.processors import ProcessContext, ProcessingError, load_processor
from asset_pipeline.processors.images import process_image
from asset_pipeline.processors.images.meta import strip_jpeg


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def run(data: bytes, name: str = "img/a.png", **options: object):
    return process_image(data, ProcessContext(name, options))


def decode(blob: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(blob))
    im.load()
    return im


def photo(size: tuple[int, int] = (96, 64), mode: str = "RGB", seed: int = 1) -> Image.Image:
    """Smooth gradients plus noise: many colours, like a photograph."""
    rnd = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size)
    im.putdata(
        [
            (
                (x * 255 // w + rnd.randint(-5, 5)) % 256,
                (y * 255 // h + rnd.randint(-5, 5)) % 256,
                ((x + y) * 127 // (w + h) + rnd.randint(-5, 5)) % 256,
            )
            for y in range(h)
            for x in range(w)
        ]
    )
    return im.convert(mode)


def logo(size: tuple[int, int] = (80, 80)) -> Image.Image:
    """Flat colours on transparency: a logo."""
    im = Image.new("RGBA", size, (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rectangle((8, 8, 40, 40), fill=(220, 30, 30, 255))
    d.rectangle((30, 30, 70, 70), fill=(30, 30, 220, 128))
    return im


def max_diff(a: Image.Image, b: Image.Image) -> int:
    extrema = ImageChops.difference(a, b).getextrema()
    if isinstance(extrema[0], int):
        return int(extrema[1])
    return max(hi for _, hi in extrema)


def visible(im: Image.Image) -> Image.Image:
    """RGBA with the colour of fully transparent pixels zeroed (encoders may change it)."""
    rgba = im.convert("RGBA")
    clear = Image.new("RGBA", rgba.size, (0, 0, 0, 0))
    return Image.composite(rgba, clear, rgba.getchannel("A").point(lambda a: 255 if a else 0))


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    return max(ImageStat.Stat(ImageChops.difference(a, b)).mean)


def test_registered_for_png_jpeg_gif() -> None:
    assert load_processor("images") is process_image


def test_rgba_logo_round_trips_losslessly_in_webp_and_records_size() -> None:
    src = logo()
    out = run(encode(src, "PNG"), "img/logo.png")
    assert (out.metadata["width"], out.metadata["height"]) == (80, 80)
    webp = next(e for e in out.extras if e.suffix == ".webp")
    assert (webp.format, webp.content_type, webp.width, webp.height) == (
        "webp",
        "image/webp",
        80,
        80,
    )
    got = decode(webp.data)
    assert got.mode == "RGBA"
    assert max_diff(got, src) == 0  # flat colours -> lossless, alpha preserved exactly
    assert [e.format for e in out.extras] == ["webp"]  # no slow near-lossless AVIF


def test_palette_png_with_transparency_keeps_transparent_pixels() -> None:
    src = logo().convert("RGB").quantize(8)
    src.info["transparency"] = 0
    data = encode(src, "PNG", transparency=0)
    out = run(data, "img/pal.png")
    webp = decode(next(e for e in out.extras if e.format == "webp").data)
    assert max_diff(visible(webp), visible(decode(data))) == 0
    assert webp.getchannel("A").getextrema()[0] == 0


def test_photo_png_is_lossy_and_alternates_are_smaller() -> None:
    src = photo((160, 120))
    data = encode(src, "PNG")
    out = run(data, "img/photo.png")
    assert {e.format for e in out.extras} == {"webp", "avif"}
    for extra in out.extras:
        assert len(extra.data) < len(data)
        got = decode(extra.data).convert("RGB")
        assert 0 < mean_diff(got, src) < 12  # lossy but faithful


def test_cmyk_jpeg_alternates_are_rgb_with_the_same_colours() -> None:
    src = photo((96, 64), "CMYK")
    data = encode(src, "JPEG", quality=95)
    out = run(data, "img/print.jpg")
    assert out.extras
    reference = decode(data).convert("RGB")
    for extra in out.extras:
        got = decode(extra.data)
        assert got.mode == "RGB"
        assert mean_diff(got, reference) < 10


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    src = Image.new("I;16", (64, 16))
    src.putdata([x * 1024 for _ in range(16) for x in range(64)])
    out = run(encode(src, "PNG"), "img/deep.png", mode="lossless")
    webp = decode(next(e for e in out.extras if e.format == "webp").data).convert("L")
    row = [webp.getpixel((x, 8)) for x in range(64)]
    assert row == sorted(row)
    assert row[-1] >= 250
    assert row[0] <= 1
    assert len(set(row)) == 64  # a clipped conversion would be 255 almost everywhere


def test_grayscale_jpeg_stays_grey() -> None:
    src = photo((64, 48), "L")
    out = run(encode(src, "JPEG", quality=90), "img/grey.jpeg")
    for extra in out.extras:
        got = decode(extra.data).convert("RGB")
        r, g, b = got.split()
        assert max_diff(r, g) <= 3
        assert max_diff(g, b) <= 3
        assert mean_diff(got.convert("L"), src) < 8


def exif_jpeg(orientation: int, size: tuple[int, int] = (40, 20)) -> tuple[bytes, Image.Image]:
    src = photo(size)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "CameraMaker"
    return encode(src, "JPEG", quality=90, exif=exif.tobytes()), src


def test_exif_orientation_is_applied_to_every_output() -> None:
    data, _ = exif_jpeg(6)  # rotate 90 CW to display
    out = run(data, "img/phone.jpg", widths=[10])
    assert (out.metadata["width"], out.metadata["height"]) == (20, 40)
    main = decode(out.data)
    assert main.size == (20, 40)
    assert main.getexif().get(0x0112) in (None, 1)
    for extra in out.extras:
        assert decode(extra.data).size == (extra.width, extra.height)
        assert extra.width < extra.height


def test_metadata_stripped_losslessly_from_jpeg() -> None:
    src = photo()
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {2: (1.0, 2.0, 3.0)}  # GPS
    data = encode(src, "JPEG", quality=90, exif=exif.tobytes(), comment=b"secret")
    out = run(data, "img/a.jpg")
    assert b"CameraMaker" not in out.data
    assert b"secret" not in out.data
    assert len(out.data) < len(data)
    assert all(b"CameraMaker" not in e.data for e in out.extras)
    assert decode(out.data).tobytes() == decode(data).tobytes()  # scans copied verbatim


def test_metadata_kept_when_configured() -> None:
    data, _ = exif_jpeg(1)
    assert run(data, "img/a.jpg", strip_metadata=False).data == data


def test_png_text_chunks_are_dropped_but_icc_kept() -> None:
    from PIL import ImageCms, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Somebody Private")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(logo(), "PNG", pnginfo=info, icc_profile=icc)
    out = run(data, "img/a.png")
    assert b"Somebody Private" not in out.data
    kept = decode(out.data)
    assert kept.info.get("icc_profile") == icc
    assert kept.tobytes() == decode(data).tobytes()
    # sRGB is what browsers assume: the alternates don't pay for the profile
    assert all("icc_profile" not in decode(e.data).info for e in out.extras)


def test_icc_srgb_option_converts_and_drops_the_profile() -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(photo(), "PNG", icc_profile=icc)
    out = run(data, "img/a.png", icc="srgb")
    assert "icc_profile" not in decode(out.data).info
    assert max_diff(decode(out.data).convert("RGB"), photo()) <= 2


def test_animated_gif_becomes_animated_webp() -> None:
    frames = [Image.new("P", (24, 24), i) for i in range(4)]
    for i, f in enumerate(frames):
        f.putpalette([c for j in range(256) for c in (j * 40 % 256, 255 - j * 40 % 256, 90)])
        ImageDraw.Draw(f).rectangle((i * 4, i * 4, i * 4 + 6, i * 4 + 6), fill=200)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    data = buf.getvalue() + b""
    out = run(data, "img/anim.gif", widths=[8])
    assert out.data == data
    assert [e.suffix for e in out.extras] == [".webp"]  # no AVIF, no widths for animations
    webp = decode(out.extras[0].data)
    assert webp.n_frames == 4
    frames_in = ImageSequence.Iterator(decode(data))
    for a, b in zip(ImageSequence.Iterator(webp), frames_in, strict=True):
        assert max_diff(a.convert("RGB"), b.convert("RGB")) == 0
    assert run(data, "img/anim.gif", animated="keep").extras == ()


def test_responsive_widths_never_upscale_and_fallbacks_exist() -> None:
    data = encode(photo((120, 60)), "JPEG", quality=90)
    out = run(data, "img/hero.jpg", widths=[30, 60, 120, 480])
    by_width: dict[int, dict[str, int]] = {}
    for e in out.extras:
        assert decode(e.data).size == (e.width, e.height)
        by_width.setdefault(e.width, {})[e.format] = len(e.data)
    assert sorted(by_width) == [30, 60, 120]
    assert {e.suffix for e in out.extras if e.width == 30} >= {".w30.jpg"}
    assert (30, 15) in {(e.width, e.height) for e in out.extras}
    for w, sizes in by_width.items():
        fallback = len(data) if w == 120 else sizes["jpeg"]
        assert all(size < fallback for fmt, size in sizes.items() if fmt in ("webp", "avif"))


def test_png_width_variants_fall_back_to_png() -> None:
    out = run(encode(logo((64, 64)), "PNG"), "img/l.png", widths=[32])
    suffixes = {e.suffix for e in out.extras}
    assert ".w32.png" in suffixes
    assert decode(next(e for e in out.extras if e.suffix == ".w32.png").data).mode == "RGBA"


def test_mode_lossless_override_on_a_jpeg() -> None:
    data = encode(photo((48, 32)), "JPEG", quality=100)
    out = run(data, "img/a.jpg", mode="lossless", formats=["webp"])
    for e in out.extras:
        assert max_diff(decode(e.data).convert("RGB"), decode(data)) == 0


def test_alternate_dropped_when_not_smaller() -> None:
    tiny = encode(Image.new("RGB", (1, 1), (1, 2, 3)), "GIF")
    out = run(tiny, "img/dot.gif")
    assert all(len(e.data) < len(tiny) for e in out.extras)


@pytest.mark.parametrize(
    ("data", "name", "needle"),
    [
        (b"definitely not an image", "img/x.png", "not a readable image"),
        (encode(Image.new("RGB", (8, 8)), "JPEG"), "img/x.png", "extension .png says PNG"),
        (encode(photo(), "PNG")[:-200], "img/x.png", "truncated or corrupt"),
        (encode(photo(), "JPEG")[:300], "img/x.jpg", "truncated"),
        (encode(Image.new("RGB", (20, 20)), "PNG"), "img/x.png", "exceeds max_pixels=100"),
    ],
)
def test_bad_images_fail_with_name_and_reason(data: bytes, name: str, needle: str) -> None:
    with pytest.raises(ProcessingError) as err:
        run(data, name, max_pixels=100 if "max_pixels" in needle else 10**6)
    assert err.value.logical_name == name
    assert needle in str(err.value)
    assert "HINT" in str(err.value)


def test_pillow_bomb_guard_reported_without_traceback() -> None:
    # a 1-bit PNG whose header claims 40000x40000 (far over Pillow's hard limit)
    src = Image.new("1", (40000, 40000))
    data = encode(src, "PNG")
    with pytest.raises(ProcessingError, match=r"img/bomb\.png: decompression bomb .*HINT"):
        run(data, "img/bomb.png", max_pixels=2**40)


def test_animation_frames_count_against_the_pixel_limit() -> None:
    frames = [Image.new("RGB", (10, 10), (i * 50, 255 - i * 50, 0)) for i in range(5)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50)
    with pytest.raises(ProcessingError, match=r"10x10 x 5 frames = 500 pixels exceeds"):
        run(buf.getvalue(), "img/anim.gif", max_pixels=499)
    assert run(buf.getvalue(), "img/anim.gif", max_pixels=500).metadata["width"] == 10


def test_on_error_copy_keeps_the_file_unprocessed() -> None:
    out = run(b"\x89PNG garbage", "img/x.png", on_error="copy")
    assert out.data == b"\x89PNG garbage"
    assert out.extras == ()


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"qualty": 3}, "unknown option 'qualty'"),
        ({"widths": "480"}, "'widths' in [tool.asset-pipeline.images] must be a list"),
        ({"webp_quality": 101}, "outside 0..100"),
        ({"mode": "fast"}, "use one of 'auto', 'lossy', 'lossless'"),
        ({"formats": ["jxl"]}, "'formats'"),
        ({"strip_metadata": "yes"}, "true/false"),
    ],
)
def test_bad_options_fail_even_with_on_error_copy(options: dict[str, object], needle: str) -> None:
    with pytest.raises(ProcessingError) as err:
        run(encode(logo(), "PNG"), "img/a.png", on_error="copy", **options)
    assert needle in str(err.value)
    assert "HINT" in str(err.value)


def test_glob_key_from_rules_is_ignored() -> None:
    out = run(encode(logo(), "PNG"), "img/a.png", glob="img/**", mode="lossless")
    assert out.metadata["width"] == 80


def test_auto_rule_screenshot_is_lossless_grey_photo_is_lossy() -> None:
    shot = Image.new("RGB", (120, 80), (255, 255, 255))
    draw = ImageDraw.Draw(shot)
    for i in range(40):  # antialiased-looking ramps: hundreds of colours, mostly background
        draw.line((10, 10 + i, 110, 10 + i), fill=(i * 6, 255 - i * 3, 128 + i))
    assert len(shot.getcolors(65536) or []) > 30
    out = run(encode(shot, "PNG"), "img/shot.png", formats=["webp"])
    assert max_diff(decode(out.extras[0].data).convert("RGB"), shot) == 0

    grey = photo((96, 64), "L")  # at most 256 levels, yet a photo
    out = run(encode(grey, "PNG"), "img/grey.png", formats=["webp"])
    assert max_diff(decode(out.extras[0].data).convert("L"), grey) > 0
    forced = run(encode(grey, "PNG"), "img/grey.png", formats=["webp"], lossless_flat_percent=0)
    assert max_diff(decode(forced.extras[0].data).convert("L"), grey) == 0


@settings(max_examples=60, deadline=None)
@given(
    segments=st.lists(
        st.tuples(
            st.sampled_from([0xE1, 0xE3, 0xED, 0xEF, 0xFE, 0xE2]),
            st.binary(min_size=0, max_size=300),
        ),
        max_size=5,
    ),
    progressive=st.booleans(),
    trailer=st.binary(max_size=50),
)
def test_jpeg_strip_drops_metadata_segments_and_keeps_pixels(
    segments: list[tuple[int, bytes]], progressive: bool, trailer: bytes
) -> None:
    base = encode(photo((40, 24), seed=len(segments)), "JPEG", progressive=progressive)
    marker = b"SECRET-PAYLOAD"
    injected = b"".join(
        bytes((0xFF, m)) + struct.pack(">H", len(marker + body) + 2) + marker + body
        for m, body in segments
    )
    data = base[:2] + injected + base[2:] + trailer
    stripped = strip_jpeg(data)
    assert marker not in stripped
    assert stripped == base  # Pillow writes only JFIF + tables + scans: all kept, verbatim


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_colour_key_transparency_survives(mode: str) -> None:
    src = Image.new(mode, (32, 32), 0 if mode == "L" else (0, 0, 0))
    ImageDraw.Draw(src).rectangle((8, 8, 24, 24), fill=200 if mode == "L" else (200, 10, 10))
    data = encode(src, "PNG", transparency=0 if mode == "L" else (0, 0, 0))
    out = run(data, "img/key.png", formats=["webp"])
    webp = decode(out.extras[0].data)
    assert webp.mode == "RGBA"
    assert webp.getpixel((0, 0))[3] == 0
    assert webp.getpixel((16, 16))[3] == 255


def test_orientation_with_metadata_kept_resets_the_tag_but_keeps_exif() -> None:
    data, _ = exif_jpeg(6)
    out = run(data, "img/phone.jpg", strip_metadata=False)
    main = decode(out.data)
    assert main.size == (20, 40)
    exif = main.getexif()
    assert exif.get(0x010F) == "CameraMaker"
    assert exif.get(0x0112) in (None, 1)


def test_an_encoder_limit_skips_that_format_instead_of_failing() -> None:
    wide = Image.new("RGB", (17000, 2), (10, 20, 30))  # WebP cannot exceed 16383 px
    out = run(encode(wide, "PNG"), "img/wide.png", formats=["webp"], mode="lossy")
    assert out.extras == ()
    assert out.metadata == {"width": 17000, "height": 2, "dropped": [["webp", 17000, "failed"]]}


def test_formats_left_out_are_recorded_with_the_reason() -> None:
    # the build summary says why AVIF is missing: a photo whose AVIF loses to WebP at every
    # size, a flat logo that never tries near-lossless AVIF, and AVIF alone vs the original
    shot = run(encode(photo((96, 64)), "JPEG", quality=90), "img/a.jpg", widths=[32])
    assert shot.metadata["dropped"] == [["avif", 96, "larger:webp"], ["avif", 32, "larger:webp"]]
    flat = run(encode(logo(), "PNG"), widths=[40])
    assert flat.metadata["dropped"] == [["avif", 80, "lossless"], ["avif", 40, "lossless"]]
    tiny = run(encode(photo((2, 2)), "PNG"), formats=["avif"])
    assert tiny.extras == ()
    assert tiny.metadata["dropped"] == [["avif", 2, "larger:original"]]

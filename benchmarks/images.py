# ruff: noqa: RUF001  (the sample page is typographic text on purpose)
"""Image and font processor figures: bytes saved, encode time, SSIM/PSNR vs cwebp defaults.

Run by hand (never from the test suite):

    .venv/bin/python -m benchmarks.images            # default settings, full table
    .venv/bin/python -m benchmarks.images --sweep    # the quality sweep the defaults come from
    .venv/bin/python -m benchmarks.images --fonts    # DejaVu Sans: TTF vs WOFF2 vs Latin subset

Images are real photos and UI images that ship with installed packages (scikit-image's
sample data, Debian documentation screenshots/charts, Adwaita icons). Quality is SSIM and
PSNR (scikit-image) of the decoded alternate against the decoded source, on RGB
composited over white. ``cwebp`` (Debian ``webp``) runs at its defaults (-q 75 -m 4).
The webp/avif columns run each format alone (so flat images show the near-lossless AVIF
a default build skips); "build" is what a default build ships to an AVIF-capable
browser, with the time to produce every format.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from asset_pipeline.processors import ProcessContext
from asset_pipeline.processors.images import process_image

SAMPLES = Path(skimage.data.__file__).parent
PHOTOS = [
    SAMPLES / n
    for n in (
        "astronaut.png",
        "chelsea.png",
        "coffee.png",
        "rocket.jpg",
        "hubble_deep_field.jpg",
        "motorcycle_left.png",
        "retina.jpg",
        "camera.png",
    )
]
UI = [
    SAMPLES / "logo.png",
    SAMPLES / "text.png",
    Path("/usr/share/doc/nodejs/contributing/doc_img/scatter-plot.png"),
    Path("/usr/share/doc/nodejs/contributing/doc_img/youtube-stream-title-description.png"),
    Path("/usr/share/icons/Adwaita/512x512/devices/camera-web.png"),
]
CWEBP = shutil.which("cwebp") or "/usr/bin/cwebp"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def rgb_array(im: Image.Image) -> np.ndarray:
    im.load()
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    elif im.mode in ("I;16", "I"):
        im = im.convert("I").point(lambda v: v * (1 / 257))
    return np.asarray(im.convert("RGB"))


def quality(reference: np.ndarray, blob: bytes) -> tuple[float, float]:
    got = rgb_array(Image.open(io.BytesIO(blob)))
    ssim = structural_similarity(reference, got, channel_axis=2, data_range=255)
    psnr = peak_signal_noise_ratio(reference, got, data_range=255)
    return float(ssim), float(min(psnr, 99.0))


def cwebp(path: Path) -> tuple[bytes, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.webp"
        start = time.perf_counter()
        subprocess.run([CWEBP, "-quiet", str(path), "-o", str(out)], check=True)
        return out.read_bytes(), time.perf_counter() - start


def ours(path: Path, fmt: str, **options: object) -> tuple[bytes | None, float, str]:
    data = path.read_bytes()
    ctx = ProcessContext(f"bench/{path.name}", {"formats": [fmt], **options})
    start = time.perf_counter()
    out = process_image(data, ctx)
    elapsed = time.perf_counter() - start
    blob = next((e.data for e in out.extras if e.format == fmt and e.suffix == f".{fmt}"), None)
    return blob, elapsed, "kept" if blob else "dropped (not smaller)"


def default_build(path: Path) -> tuple[int, float]:
    """Bytes an AVIF-capable browser gets from a default build (AVIF, else WebP, else the
    original), and the full processing time (every format)."""
    data = path.read_bytes()
    start = time.perf_counter()
    out = process_image(data, ProcessContext(f"bench/{path.name}", {}))
    elapsed = time.perf_counter() - start
    full = [e for e in out.extras if e.width == out.metadata["width"]]
    return (len(full[0].data) if full else len(data)), elapsed


def table(paths: list[Path], label: str) -> None:
    print(f"\n## {label}")
    print(
        f"{'image':38} {'orig KB':>8} | {'cwebp %':>7} {'ssim':>6} {'psnr':>5} | "
        + " | ".join(f"{f + ' %':>7} {'ssim':>6} {'psnr':>5} {'s':>5}" for f in ("webp", "avif"))
        + " | build %     s"
    )
    totals: dict[str, list[float]] = {k: [] for k in ("orig", "cwebp", "webp", "avif", "build")}
    scores: dict[str, list[float]] = {k: [] for k in ("cwebp", "webp", "avif")}
    for path in paths:
        if not path.exists():
            print(f"{path.name:38} (missing, skipped)")
            continue
        data = path.read_bytes()
        reference = rgb_array(Image.open(path))
        cw, _ = cwebp(path)
        cw_q = quality(reference, cw)
        row = [f"{path.name[:38]:38} {len(data) / 1024:8.1f} |"]
        row.append(f"{100 * len(cw) / len(data):6.1f}% {cw_q[0]:6.3f} {cw_q[1]:5.1f} |")
        totals["orig"].append(len(data))
        totals["cwebp"].append(len(cw))
        scores["cwebp"].append(cw_q[0])
        for fmt in ("webp", "avif"):
            blob, seconds, _ = ours(path, fmt)
            size = len(blob) if blob else len(data)  # dropped: the client gets the original
            s, p = quality(reference, blob) if blob else (1.0, 99.0)
            totals[fmt].append(size)
            scores[fmt].append(s)
            row.append(f"{100 * size / len(data):6.1f}% {s:6.3f} {p:5.1f} {seconds:5.2f} |")
        shipped, seconds = default_build(path)
        totals["build"].append(shipped)
        row.append(f"{100 * shipped / len(data):6.1f}% {seconds:5.2f}")
        print(" ".join(row))
    orig = sum(totals["orig"])
    print(
        "TOTAL".ljust(38),
        f"{orig / 1024:8.1f} |",
        " | ".join(
            f"{100 * sum(totals[k]) / orig:6.1f}% mean ssim {statistics.mean(scores[k]):.3f}"
            for k in ("cwebp", "webp", "avif")
        ),
        f"| build {100 * sum(totals['build']) / orig:5.1f}%",
    )


def sweep(paths: list[Path]) -> None:
    """Pillow WebP/AVIF settings on the photos, to pick defaults against cwebp."""
    photos = [p for p in paths if p.exists()]
    refs = {p: rgb_array(Image.open(p)) for p in photos}
    srcs = {p: Image.open(p).convert("RGB") for p in photos}
    orig = sum(p.stat().st_size for p in photos)

    def measure(label: str, enc: Callable[[Image.Image], bytes]) -> None:
        size, ss, secs = 0, [], 0.0
        for p in photos:
            start = time.perf_counter()
            blob = enc(srcs[p])
            secs += time.perf_counter() - start
            size += len(blob)
            ss.append(quality(refs[p], blob)[0])
        mean = statistics.mean(ss)
        print(f"{label:28} {100 * size / orig:6.1f}%  ssim {mean:.4f}  {secs:6.2f}s")

    def pil(fmt: str, **kw: object) -> Callable[[Image.Image], bytes]:
        def enc(im: Image.Image) -> bytes:
            buf = io.BytesIO()
            im.save(buf, fmt, **kw)
            return buf.getvalue()

        return enc

    size = sum(len(cwebp(p)[0]) for p in photos)
    cw_ssim = statistics.mean(quality(refs[p], cwebp(p)[0])[0] for p in photos)
    print(f"{'cwebp defaults':28} {100 * size / orig:6.1f}%  ssim {cw_ssim:.4f}")
    for q in (70, 75, 80):
        for m in (4, 6):
            measure(f"pillow webp q{q} m{m}", pil("WEBP", quality=q, method=m))
    for q in (50, 55, 60, 65, 70):
        measure(f"pillow avif q{q} speed 6", pil("AVIF", quality=q, speed=6))
    measure("pillow avif q60 speed 4", pil("AVIF", quality=60, speed=4))


def fonts() -> None:
    from asset_pipeline.processors.fonts import process_font

    data = DEJAVU.read_bytes()
    page = (
        "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX. "
        "Café, naïve, résumé, Zürich, São Paulo, Ærø, façade — “quoted” ‘text’… © ® ™ € £ ½"
    )
    start = time.perf_counter()
    full = process_font(data, ProcessContext("fonts/DejaVuSans.ttf", {}))
    t_full = time.perf_counter() - start
    used = frozenset(ord(c) for c in page)
    start = time.perf_counter()
    sub = process_font(
        data,
        ProcessContext(
            "fonts/DejaVuSans.ttf",
            {"subset_by_usage": True, "unicode_range_descriptor": True},
            used_codepoints=used,
        ),
    )
    t_sub = time.perf_counter() - start
    latin1 = process_font(
        data, ProcessContext("fonts/DejaVuSans.ttf", {"unicode_ranges": ["U+0000-00FF"]})
    )
    print("\n## DejaVu Sans")
    rows = [
        ("TTF", len(data), "", 0.0),
        ("WOFF2, every glyph", len(full.data), "of TTF", t_full),
        ("WOFF2, Latin-1 range", len(latin1.data), "of full WOFF2", 0.0),
        ("WOFF2, Latin page (usage)", len(sub.data), "of full WOFF2", t_sub),
    ]
    for label, size, rel, secs in rows:
        base = len(data) if rel == "of TTF" else len(full.data)
        pct = f"{100 * size / base:5.1f}% {rel}" if rel else ""
        took = f"{secs:5.1f}s" if secs else ""
        print(f"{label:26} {size:>9,} B  {pct:22} {took}")
    print(f"  unicode-range: {sub.metadata['unicode_range']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="quality sweep on the photos")
    parser.add_argument("--fonts", action="store_true", help="font figures only")
    args = parser.parse_args(argv)
    if args.fonts:
        fonts()
    elif args.sweep:
        sweep(PHOTOS)
    else:
        table(PHOTOS, "Photos (lossy by the auto rule)")
        table(UI, "UI images (auto rule decides per image)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Django's static files three ways, on the example site's tree (``examples/django_app``).

For ``ManifestStaticFilesStorage`` (served by WhiteNoise's middleware), WhiteNoise's
``CompressedManifestStaticFilesStorage`` and ``AssetPipelineStorage`` (served by
perf-middleware) this measures, in one run:

1. ``collectstatic`` on the example tree as it is — it holds a ``url()`` inside a CSS
   comment and a ``sourceMappingURL`` whose ``.map`` is missing: the result (ok, or the
   error it stops on);
2. ``collectstatic`` time (best of ``--rounds``, ``--clear``; ours with an empty build
   cache, and once more unchanged) on a copy without those two lines, so every storage
   finishes, and the files and bytes it wrote;
3. the bytes a first visit of ``/`` transfers in headless Chromium (fresh profile, headers
   included), and how many requests, from each build served by its own server.

``python -m benchmarks.django_static [--rounds 3]``. Needs the bench group (whitenoise).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

from benchmarks.harness import ROOT, Server, human_bytes, print_table

EXAMPLE = ROOT / "examples" / "django_app"
VARIANTS = {
    "django": "Django ManifestStaticFilesStorage + WhiteNoise",
    "whitenoise": "WhiteNoise CompressedManifestStaticFilesStorage",
    "ours": "perf-middleware AssetPipelineStorage",
}
TRAPS = (
    re.compile(r'background: url\("\.\./img/old-banner\.png"\);'),
    re.compile(r"/\*# sourceMappingURL=app\.css\.map \*/"),
)


def site_env(variant: str, work: Path, source: Path) -> dict[str, str]:
    """The environment ``benchmarks.django_settings`` reads: which storage ``variant``,
    the static sources, and the database and STATIC_ROOT of that variant under ``work``."""
    return {
        "DJANGO_SETTINGS_MODULE": "benchmarks.django_settings",
        "BENCH_DJANGO_VARIANT": variant,
        "BENCH_DJANGO_SOURCE": str(source),
        "DJANGO_DB_PATH": str(work / "db.sqlite3"),
        "DJANGO_STATIC_ROOT": str(work / variant / "static"),
    }


def manage(variant: str, work: Path, source: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **site_env(variant, work, source),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLE / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )


def collect(variant: str, work: Path, source: Path) -> tuple[float, str]:
    """One ``collectstatic --clear`` from nothing: (seconds, error or "")."""
    shutil.rmtree(work / variant, ignore_errors=True)
    started = time.perf_counter()
    done = manage(variant, work, source, "collectstatic", "--noinput", "--clear")
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if re.match(r"[\w.]+(Error|Exception): ", line)]
        reason = (errors or lines or [f"exit {done.returncode}"])[-1]
        return seconds, reason.split(" with <", 1)[0]
    return seconds, ""


def tree_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def first_visit(url: str) -> tuple[int, int, int]:
    """(bytes, requests, failed requests) of a first visit of ``url`` in Chromium."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            finished: list[Any] = []
            page.on("requestfinished", lambda request: finished.append(request))
            failed: list[Any] = []
            page.on("response", lambda r: failed.append(r) if r.status >= 400 else None)
            page.goto(url, wait_until="networkidle")
            page.evaluate("document.fonts.ready")
            total = 0
            for request in finished:
                sizes = request.sizes()
                total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
            return total, len(finished), len(failed)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-django-"))
    try:
        traps = work / "traps"
        shutil.copytree(EXAMPLE / "static", traps)
        clean = work / "clean"
        shutil.copytree(EXAMPLE / "static", clean)
        css = clean / "css" / "app.css"
        text = css.read_text()
        for trap in TRAPS:
            text, found = trap.subn("", text)
            assert found == 1, f"{trap.pattern} not in the example's app.css"
        css.write_text(text)
        assert manage("ours", work, clean, "migrate", "--noinput").returncode == 0

        results = {v: collect(v, work, traps)[1] or "ok" for v in VARIANTS}
        timings: dict[str, float] = {}
        written: dict[str, tuple[int, int]] = {}
        for variant in VARIANTS:
            best = float("inf")
            for _ in range(args.rounds):
                shutil.rmtree(work / "ours" / ".asset-cache", ignore_errors=True)
                seconds, error = collect(variant, work, clean)
                if error:
                    raise SystemExit(f"{variant}: collectstatic failed on the clean tree: {error}")
                best = min(best, seconds)
            timings[variant] = best
            written[variant] = tree_size(work / variant / "static")
        started = time.perf_counter()
        assert manage("ours", work, clean, "collectstatic", "--noinput").returncode == 0
        unchanged = time.perf_counter() - started

        visits: dict[str, tuple[int, int, int]] = {}
        for variant in VARIANTS:
            env = site_env(variant, work, clean)
            server = Server(variant, "benchmarks.django_asgi:application", env=env)
            server.start()
            try:
                visits[variant] = first_visit(server.url + "/")
            finally:
                server.stop()

        base_time = timings["django"]
        base_bytes = visits["django"][0]
        rows = []
        for variant, label in VARIANTS.items():
            files, size = written[variant]
            total, requests, failures = visits[variant]
            rows.append(
                [
                    label,
                    results[variant][:110],
                    f"{timings[variant]:.2f} s",
                    f"{timings[variant] / base_time:.2f}x",
                    f"{files} files, {human_bytes(size)}",
                    human_bytes(total),
                    f"{total / base_bytes:.2f}x",
                    f"{requests} ({failures} failed)",
                ]
            )
        print_table(
            "Django collectstatic and first visit of / (example site)",
            ["storage", "on the tree with the traps", "collectstatic", "vs Django",
             "STATIC_ROOT", "first visit", "vs Django", "requests"],
            rows,
        )  # fmt: skip
        print(f"\nours, collectstatic again with nothing changed: {unchanged:.2f} s")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

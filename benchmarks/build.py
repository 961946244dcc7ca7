"""Build benchmark: ``asset-pipeline build`` over a real front-end tree vs WhiteNoise.

Run by hand (it fetches npm packages and takes minutes on a busy 2-core machine)::

    .venv/bin/python benchmarks/build.py [--skip-serial] [--servestatic]
    .venv/bin/python benchmarks/build.py --pool-rounds 2   # pool speed-up only

The tree is assembled at run time in ``benchmarks/.work/`` (git-ignored) from real npm
packages: bootstrap (CSS, JS, source maps), Font Awesome Free (CSS, webfonts, JS),
KaTeX (CSS, fonts, JS) and lodash-es (hundreds of ES modules importing each other).

Measured, each as a fresh subprocess with wall time and CPU time (user+sys of the
process and its workers — on a shared machine CPU time is the steadier figure):

* cold build (empty cache, all cores), no-op rebuild, one-file-changed rebuilds
  (a leaf stylesheet; a lodash module whose change cascades through its importers),
* a cold build with ``--jobs 1`` for the pool speed-up (skip with ``--skip-serial``),
* ``python -m whitenoise.compress`` (brotli 11 + gzip, no minify/hash) over a copy of
  the same tree, and optionally ``python -m servestatic.compress`` (adds zstd).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
RESULTS = ROOT / "benchmarks" / "results"
PACKAGES = [
    "bootstrap@5.3.3",
    "@fortawesome/fontawesome-free@6.5.2",
    "katex@0.16.11",
    "lodash-es@4.17.21",
]
# (package dir inside node_modules, sub-path to copy, destination in the tree)
LAYOUT = [
    ("bootstrap", "dist", "bootstrap"),
    ("@fortawesome/fontawesome-free", "css", "fontawesome/css"),
    ("@fortawesome/fontawesome-free", "webfonts", "fontawesome/webfonts"),
    ("@fortawesome/fontawesome-free", "js", "fontawesome/js"),
    ("katex", "dist", "katex"),
    ("lodash-es", ".", "lodash-es"),
]
CSS_LEAF = "katex/katex.css"
JS_CASCADE = "lodash-es/_freeGlobal.js"


@dataclass
class Run:
    name: str
    wall: float
    cpu: float
    note: str = ""
    load: float = 0.0


def fetch() -> Path:
    modules = WORK / "node_modules"
    if not all((modules / p.rsplit("@", 1)[0]).is_dir() for p in PACKAGES):
        WORK.mkdir(parents=True, exist_ok=True)
        cmd = ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix"]
        subprocess.run([*cmd, str(WORK), *PACKAGES], check=True, timeout=300)
    return modules


def assemble(modules: Path, tree: Path) -> tuple[int, int]:
    shutil.rmtree(tree, ignore_errors=True)
    for package, sub, dest in LAYOUT:
        source = modules / package / sub
        if sub == ".":  # a package of modules: only its JavaScript
            (tree / dest).mkdir(parents=True)
            for js in source.glob("*.js"):
                shutil.copy2(js, tree / dest / js.name)
        else:
            shutil.copytree(source, tree / dest)
    files = [p for p in tree.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def snapshot_code() -> dict[str, str]:
    """Run the builds from a frozen copy of ``src/``: the cache key covers the pipeline's
    code, so an edit landing mid-benchmark would otherwise turn a no-op into a rebuild."""
    frozen = WORK / "src-snapshot"
    shutil.rmtree(frozen, ignore_errors=True)
    shutil.copytree(ROOT / "src", frozen, ignore=shutil.ignore_patterns("__pycache__"))
    return {**os.environ, "PYTHONPATH": str(frozen)}


ENV: dict[str, str] = dict(os.environ)


def timed(name: str, cmd: list[str], note: str = "") -> Run:
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run = Run(name, wall, cpu, note, load)
    print(f"  {name:<34} {wall:8.2f} s wall {cpu:8.2f} s CPU  load {load:4.1f}  {note}", flush=True)
    return run


def build_cmd(tree: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "asset_pipeline", "build", str(tree), "--out", str(out),
        "--cache-dir", str(cache), "--missing-reference", "warn", "--quiet", *extra,
    ]  # fmt: skip


def sibling_bytes(directory: Path, suffix: str) -> int:
    return sum(p.stat().st_size for p in directory.rglob(f"*{suffix}"))


def pool_rounds(tree: Path, rounds: int) -> int:
    """Alternate serial and pooled cold builds so drift in machine load hits both."""
    import statistics

    walls: dict[str, list[float]] = {"1": [], str(os.cpu_count() or 1): []}
    for i in range(rounds):
        order = list(walls) if i % 2 == 0 else list(reversed(walls))
        for jobs in order:
            cache, out = WORK / f"cache-j{jobs}", WORK / f"dist-j{jobs}"
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            run = timed(f"cold build --jobs {jobs} (round {i + 1})",
                        build_cmd(tree, out, cache, "-j", jobs))  # fmt: skip
            walls[jobs].append(run.wall)
    serial, pooled = (statistics.median(v) for v in walls.values())
    print(f"pool speed-up (median wall of {rounds}): {serial / pooled:.2f}x")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-serial", action="store_true", help="skip the --jobs 1 build")
    parser.add_argument(
        "--pool-rounds",
        type=int,
        metavar="N",
        help="only measure the pool: N alternating cold builds with --jobs 1 and all CPUs",
    )
    parser.add_argument("--servestatic", action="store_true", help="also time servestatic")
    args = parser.parse_args(argv)

    modules = fetch()
    ENV.update(snapshot_code())
    tree = WORK / "tree"
    count, size = assemble(modules, tree)
    if args.pool_rounds:
        return pool_rounds(tree, args.pool_rounds)
    out, cache = WORK / "dist", WORK / "cache"
    print(f"tree: {count} files, {size / 2**20:.1f} MB; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    runs: list[Run] = []
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    runs.append(timed("cold build", build_cmd(tree, out, cache)))
    verify = [sys.executable, "-m", "asset_pipeline", "inspect", str(out), "--verify"]
    subprocess.run(verify, check=True, capture_output=True, timeout=300)
    ours_br = sibling_bytes(out, ".br")
    runs.append(timed("no-op rebuild", build_cmd(tree, out, cache)))
    with (tree / CSS_LEAF).open("a") as fh:
        fh.write("\n.bench-edit{color:red}\n")
    runs.append(timed("one CSS file changed", build_cmd(tree, out, cache), CSS_LEAF))
    with (tree / JS_CASCADE).open("a") as fh:
        fh.write("\nexport const benchEdit = 1;\n")
    runs.append(timed("one JS module changed (cascade)", build_cmd(tree, out, cache), JS_CASCADE))
    if not args.skip_serial:
        serial_cache, serial_out = WORK / "cache-serial", WORK / "dist-serial"
        shutil.rmtree(serial_cache, ignore_errors=True)
        shutil.rmtree(serial_out, ignore_errors=True)
        runs.append(
            timed("cold build --jobs 1", build_cmd(tree, serial_out, serial_cache, "-j", "1"))
        )
        shutil.rmtree(serial_out, ignore_errors=True)

    peers = [("whitenoise.compress (br11+gz9)", "whitenoise.compress")]
    if args.servestatic:
        peers.append(("servestatic.compress (br+gz+zstd)", "servestatic.compress"))
    peer_br = 0
    for label, module in peers:
        copy = WORK / "peer-tree"
        shutil.rmtree(copy, ignore_errors=True)
        assemble(modules, copy)
        runs.append(timed(label, [sys.executable, "-m", module, "-q", str(copy)]))
        if module.startswith("whitenoise"):
            peer_br = sibling_bytes(copy, ".br")
        shutil.rmtree(copy, ignore_errors=True)

    by_name = {r.name: r for r in runs}
    cold = by_name["cold build"]
    print("\nsummary")
    if "cold build --jobs 1" in by_name:
        serial = by_name["cold build --jobs 1"]
        print(f"  pool speed-up (cold, wall): {serial.wall / cold.wall:.2f}x "
              f"(CPU {serial.cpu:.1f} s serial vs {cold.cpu:.1f} s pooled)")  # fmt: skip
    wn = by_name["whitenoise.compress (br11+gz9)"]
    print(f"  cold build vs whitenoise: {cold.wall / wn.wall:.2f}x wall, "
          f"{cold.cpu / wn.cpu:.2f}x CPU")  # fmt: skip
    print(f"  brotli bytes: ours {ours_br / 2**20:.2f} MB (minified) vs whitenoise "
          f"{peer_br / 2**20:.2f} MB")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "files": count,
        "bytes": size,
        "cpus": os.cpu_count(),
        "runs": [asdict(r) for r in runs],
        "brotli_bytes": {"ours": ours_br, "whitenoise": peer_br},
    }
    (RESULTS / "build.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

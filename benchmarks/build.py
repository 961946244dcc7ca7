"""Build benchmark: ``asset-pipeline build`` over real front-end trees vs WhiteNoise.

Run by hand (it fetches npm packages and takes minutes on a busy 2-core machine)::

    .venv/bin/python benchmarks/build.py [--skip-serial] [--servestatic] [--tree NAME]
    .venv/bin/python benchmarks/build.py --scratch /dev/shm   # work directories on tmpfs
    .venv/bin/python benchmarks/build.py --pool-rounds 2   # pool speed-up only

Two trees are assembled at run time in ``benchmarks/.work/`` (git-ignored) from real npm
packages, and every figure below is taken for each:

* ``large`` (few large files): bootstrap (CSS, JS, source maps), Font Awesome Free (CSS,
  webfonts, JS), KaTeX (CSS, fonts in three formats, JS) and lodash-es;
* ``modules`` (many small files): the ES modules of lodash-es and Ramda, Bootstrap's ES
  module sources (which import each other and Popper) and the Bulma CSS framework.

Measured, each as a fresh subprocess with wall time and CPU time (user+sys of the
process and its workers — on a shared machine CPU time is the steadier figure):

* cold build (empty cache, all cores), then right after it ``python -m
  whitenoise.compress`` (brotli 11 + gzip, no minify/hash) over a copy of the same tree,
  and optionally ``python -m servestatic.compress`` (adds zstd),
* no-op rebuild, one-file-changed rebuilds (a stylesheet; a lodash module whose change
  cascades through its importers),
* a cold build with ``--jobs 1`` for the pool speed-up (skip with ``--skip-serial``),
* with ``--baseline REV``, a cold build of the code at git revision ``REV`` (after the
  peers) and its bytes, to compare a change in the same run,
* bytes: the ``.br`` siblings of CSS and JavaScript (what browsers download), all
  precompressed siblings, and the whole output directory,
* files created by each cold run: for ours the files in the output directory plus the
  build cache (both start empty), for WhiteNoise and ServeStatic the siblings they add
  beside the tree. Each is an inode, and on some file systems (ext4 without a journal,
  whose allocator scans past recently freed inodes) creating one costs more than writing
  its bytes, so the system-CPU column follows this count and the deletions of the minutes
  before; compare tools by it, not only by wall time.

``--scratch DIR`` puts every tool's work directory under ``DIR`` (ours: output and cache;
a peer: the tree copy it compresses in place), for instance ``/dev/shm``: on a tmpfs
creating a file is a memory allocation, so the comparison there shows the tools without
the file system's allocator. The source tree our build reads stays under ``--work``.

``--settle SECONDS`` (default 70) flushes the file system and waits that long before each
timed cold run (ours, each peer, the baseline). Every cold run follows deletions (the tree
re-assembled, the previous outputs removed), and ext4 without a journal skips an inode
freed in the last 60 s when it allocates one, so without the wait whichever tool runs first
after a mass deletion pays for it. The window grows to six minutes for an inode whose table
block is dirty, which the run's own file creations can make it, so a run that follows
another within minutes can still pay: compare runs by their system time, or take the
file system out with ``--scratch``. ``--settle 0`` skips the wait.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
RESULTS = ROOT / "benchmarks" / "results"
PACKAGES = [
    "bootstrap@5.3.3",
    "@popperjs/core@2.11.8",
    "@fortawesome/fontawesome-free@6.5.2",
    "katex@0.16.11",
    "lodash-es@4.17.21",
    "ramda@0.30.1",
    "bulma@1.0.2",
]


@dataclass(frozen=True)
class Part:
    """Copy ``sub`` of an installed package to ``dest`` in the tree: the whole directory,
    or only the files matching ``pattern`` (a glob; ``**/`` recurses)."""

    package: str
    sub: str
    dest: str
    pattern: str | None = None


@dataclass(frozen=True)
class Tree:
    name: str
    parts: tuple[Part, ...]
    css_edit: str  # the stylesheet the "one CSS file changed" rebuild appends to
    js_edit: str  # the module whose change cascades through its importers


TREES = {
    "large": Tree(
        "large",
        (
            Part("bootstrap", "dist", "bootstrap"),
            Part("@fortawesome/fontawesome-free", "css", "fontawesome/css"),
            Part("@fortawesome/fontawesome-free", "webfonts", "fontawesome/webfonts"),
            Part("@fortawesome/fontawesome-free", "js", "fontawesome/js"),
            Part("katex", "dist", "katex"),
            Part("lodash-es", ".", "lodash-es", "*.js"),
        ),
        css_edit="katex/katex.css",
        js_edit="lodash-es/_freeGlobal.js",
    ),
    "modules": Tree(
        "modules",
        (
            Part("lodash-es", ".", "lodash-es", "*.js"),
            Part("ramda", "es", "ramda", "**/*.js"),
            Part("bootstrap", "js/src", "bootstrap/js", "**/*.js"),
            Part("@popperjs/core", "lib", "popper", "**/*.js"),
            Part("bulma", "css", "bulma", "bulma.*"),
        ),
        css_edit="bulma/bulma.css",
        js_edit="lodash-es/_freeGlobal.js",
    ),
}


@dataclass
class Run:
    name: str
    wall: float
    cpu: float  # user + sys
    note: str = ""
    load: float = 0.0
    sys: float = 0.0  # the kernel's share of cpu: file creation, page faults, pipes
    files: int = 0  # files the run created (output + cache, or the siblings added)


@dataclass
class Bytes:
    """Bytes of one output directory: ``.br`` of CSS/JS, every sibling, everything."""

    br_css_js: int = 0
    siblings: dict[str, int] = field(default_factory=dict)
    total: int = 0


CSS_JS = (".css", ".js", ".mjs")
SIBLINGS = (".br", ".gz", ".zst")


def fetch() -> Path:
    modules = WORK / "node_modules"
    if not all((modules / p.rsplit("@", 1)[0]).is_dir() for p in PACKAGES):
        WORK.mkdir(parents=True, exist_ok=True)
        cmd = ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix"]
        subprocess.run([*cmd, str(WORK), *PACKAGES], check=True, timeout=300)
    return modules


def assemble(modules: Path, spec: Tree, tree: Path) -> tuple[int, int]:
    shutil.rmtree(tree, ignore_errors=True)
    for part in spec.parts:
        source = modules / part.package / part.sub
        if part.pattern is None:
            shutil.copytree(source, tree / part.dest)
            continue
        for path in source.glob(part.pattern):
            if path.is_file():
                target = tree / part.dest / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    files = [p for p in tree.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def measure_bytes(directory: Path) -> Bytes:
    out = Bytes(siblings=dict.fromkeys(SIBLINGS, 0))
    for path in directory.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        out.total += size
        if path.suffix in SIBLINGS:
            out.siblings[path.suffix] += size
            if path.suffix == ".br" and path.name[: -len(".br")].endswith(CSS_JS):
                out.br_css_js += size
    return out


def snapshot_code() -> dict[str, str]:
    """Run the builds from a frozen copy of ``src/``: the cache key covers the pipeline's
    code, so an edit landing mid-benchmark would otherwise turn a no-op into a rebuild."""
    frozen = WORK / "src-snapshot"
    shutil.rmtree(frozen, ignore_errors=True)
    shutil.copytree(ROOT / "src", frozen, ignore=shutil.ignore_patterns("__pycache__"))
    return {**os.environ, "PYTHONPATH": str(frozen)}


ENV: dict[str, str] = dict(os.environ)


def export_code(rev: str) -> Path:
    """``src/`` as of git revision ``rev``, to time a cold build of it in the same run."""
    target = WORK / f"src-{rev}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", rev, "src"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


SETTLE = 70.0


def settle() -> None:
    """Flush the file system and wait out the allocator's window for recently freed inodes
    (see ``--settle``), so a cold run does not pay for the deletions before it."""
    if SETTLE > 0:
        os.sync()
        time.sleep(SETTLE)


def timed(name: str, cmd: list[str], note: str = "", env: dict[str, str] | None = None) -> Run:
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800, env=env or ENV
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    sys_cpu = after.ru_stime - before.ru_stime
    cpu = (after.ru_utime - before.ru_utime) + sys_cpu
    run = Run(name, wall, cpu, note, load, sys_cpu)
    print(f"  {name:<34} {wall:8.2f} s wall {cpu:8.2f} s CPU (sys {sys_cpu:5.2f})  "
          f"load {load:4.1f}  {note}", flush=True)  # fmt: skip
    return run


def cache_inodes(cache: Path) -> str:
    """Files and directories a build created in its cache: each is an inode and a
    journal write, which is what a tree of many small files pays for."""
    paths = list(cache.rglob("*"))
    files = sum(1 for p in paths if p.is_file())
    return f"{files} files, {len(paths) - files} directories"


def count_files(directory: Path) -> int:
    return sum(1 for p in directory.rglob("*") if p.is_file())


def created_by_build(run: Run, out: Path, cache: Path) -> None:
    """Files a cold build left: its output directory plus its cache (both started empty)."""
    dist, cached = count_files(out), count_files(cache)
    run.files = dist + cached
    print(f"    files created: {run.files} (output {dist}, cache {cached}: {cache_inodes(cache)})")


def build_cmd(tree: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "asset_pipeline", "build", str(tree), "--out", str(out),
        "--cache-dir", str(cache), "--missing-reference", "warn", "--quiet", *extra,
    ]  # fmt: skip


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


def bench_tree(modules: Path, spec: Tree, args: argparse.Namespace) -> dict[str, object]:
    tree = WORK / spec.name / "tree"
    count, size = assemble(modules, spec, tree)
    print(f"\ntree {spec.name}: {count} files, {size / 2**20:.1f} MB; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    scratch = (args.scratch or WORK) / spec.name  # every tool's work directory
    out, cache = scratch / "dist", scratch / "cache"
    runs: list[Run] = []
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    settle()
    runs.append(timed("cold build", build_cmd(tree, out, cache)))
    created_by_build(runs[-1], out, cache)
    verify = [sys.executable, "-m", "asset_pipeline", "inspect", str(out), "--verify"]
    subprocess.run(verify, check=True, capture_output=True, timeout=300, env=ENV)
    sizes = {"ours": measure_bytes(out)}
    # The peers right after the cold build, so the load they meet is the closest to it.
    peers = [("whitenoise", "whitenoise.compress", "whitenoise.compress (br11+gz9)")]
    if args.servestatic:
        peers.append(("servestatic", "servestatic.compress", "servestatic.compress (br+gz+zstd)"))
    for key, module, label in peers:
        copy = scratch / "peer-tree"
        before, _ = assemble(modules, spec, copy)
        settle()
        runs.append(timed(label, [sys.executable, "-m", module, "-q", str(copy)]))
        runs[-1].files = count_files(copy) - before
        print(f"    files created: {runs[-1].files} (siblings beside the tree's {before})")
        sizes[key] = measure_bytes(copy)
        shutil.rmtree(copy, ignore_errors=True)
    if args.baseline:
        base_out, base_cache = scratch / "dist-base", scratch / "cache-base"
        shutil.rmtree(base_out, ignore_errors=True)
        shutil.rmtree(base_cache, ignore_errors=True)
        env = {**ENV, "PYTHONPATH": str(args.baseline_src)}
        label = f"cold build at {args.baseline}"
        settle()
        runs.append(timed(label, build_cmd(tree, base_out, base_cache), env=env))
        created_by_build(runs[-1], base_out, base_cache)
        sizes["baseline"] = measure_bytes(base_out)
        shutil.rmtree(base_out, ignore_errors=True)
        shutil.rmtree(base_cache, ignore_errors=True)
    runs.append(timed("no-op rebuild", build_cmd(tree, out, cache)))
    with (tree / spec.css_edit).open("a") as fh:
        fh.write("\n.bench-edit{color:red}\n")
    runs.append(timed("one CSS file changed", build_cmd(tree, out, cache), spec.css_edit))
    with (tree / spec.js_edit).open("a") as fh:
        fh.write("\nexport const benchEdit = 1;\n")
    runs.append(timed("one JS module changed (cascade)", build_cmd(tree, out, cache), spec.js_edit))
    if not args.skip_serial:
        serial_cache, serial_out = scratch / "cache-serial", scratch / "dist-j1"
        shutil.rmtree(serial_cache, ignore_errors=True)
        shutil.rmtree(serial_out, ignore_errors=True)
        runs.append(
            timed("cold build --jobs 1", build_cmd(tree, serial_out, serial_cache, "-j", "1"))
        )
        shutil.rmtree(serial_out, ignore_errors=True)

    by_name = {r.name: r for r in runs}
    cold = by_name["cold build"]
    print(f"summary ({spec.name})")
    if "cold build --jobs 1" in by_name:
        serial = by_name["cold build --jobs 1"]
        print(f"  pool speed-up (cold, wall): {serial.wall / cold.wall:.2f}x "
              f"(CPU {serial.cpu:.1f} s serial vs {cold.cpu:.1f} s pooled)")  # fmt: skip
    for key, _, label in peers:
        peer = by_name[label]
        print(f"  cold build vs {key}: {cold.wall / peer.wall:.2f}x wall, "
              f"{cold.cpu / peer.cpu:.2f}x CPU, sys {cold.sys:.2f}/{peer.sys:.2f} s")  # fmt: skip
    created = [("ours", cold.files)] + [(key, by_name[label].files) for key, _, label in peers]
    if args.baseline:
        created.append((args.baseline, by_name[f"cold build at {args.baseline}"].files))
    print("  files created (cold): " + ", ".join(f"{k} {n:,}" for k, n in created))
    mb = 2**20
    for key, b in sizes.items():
        sib = ", ".join(f"{k} {v / mb:.2f}" for k, v in b.siblings.items() if v)
        print(f"  bytes {key:<11} .br of CSS+JS {b.br_css_js / mb:.2f} MB; siblings {sib} MB; "
              f"output {b.total / mb:.1f} MB")  # fmt: skip
    wn = sizes["whitenoise"].br_css_js
    print(f"  .br of CSS+JS: ours {sizes['ours'].br_css_js / wn - 1:+.1%} against whitenoise")
    if args.baseline:
        base = by_name[f"cold build at {args.baseline}"]
        print(f"  cold build vs {args.baseline}: {cold.wall / base.wall:.2f}x wall, "
              f"{cold.cpu / base.cpu:.2f}x CPU; .br of CSS+JS "
              f"{sizes['ours'].br_css_js - sizes['baseline'].br_css_js:+,} bytes")  # fmt: skip
    if args.scratch:
        shutil.rmtree(scratch, ignore_errors=True)  # a tmpfs holds it in memory
        with contextlib.suppress(OSError):
            scratch.parent.rmdir()  # once the last tree is done
    return {
        "scratch": str(scratch),
        "files": count,
        "bytes": size,
        "runs": [asdict(r) for r in runs],
        "sizes": {k: asdict(v) for k, v in sizes.items()},
    }


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
    global WORK, SETTLE
    parser.add_argument("--tree", choices=sorted(TREES), action="append", help="default: all")
    parser.add_argument(
        "--work",
        type=Path,
        default=WORK,
        help="where trees, outputs and caches go (default benchmarks/.work; creating a "
        "file costs more on some file systems than on others, and the build creates more "
        "files than the peers)",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        metavar="DIR",
        help="put every tool's work directory (the tree copy a peer compresses in place; "
        "our output and cache) under DIR, e.g. /dev/shm, to take the file system's inode "
        "allocator out of the comparison (the source tree stays under --work)",
    )
    parser.add_argument("--baseline", metavar="REV", help="also time a cold build of git REV")
    parser.add_argument(
        "--settle",
        type=float,
        default=SETTLE,
        metavar="SECONDS",
        help=f"sync and wait this long before each timed cold run (default {SETTLE:g}; 0: no "
        "wait): a file system may charge the deletions before a run to its file creations",
    )
    args = parser.parse_args(argv)
    SETTLE = args.settle
    WORK = args.work.resolve()
    if args.scratch:
        args.scratch = args.scratch.resolve() / "asset-pipeline-bench"
    if args.baseline:
        args.baseline_src = export_code(args.baseline)

    modules = fetch()
    ENV.update(snapshot_code())
    names = args.tree or list(TREES)
    if args.pool_rounds:
        tree = WORK / names[0] / "tree"
        assemble(modules, TREES[names[0]], tree)
        return pool_rounds(tree, args.pool_rounds)
    report = {
        "cpus": os.cpu_count(),
        "trees": {n: bench_tree(modules, TREES[n], args) for n in names},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "build.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

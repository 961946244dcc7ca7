"""Cold import cost of the runtime: what an app pays at start-up, with the admin API off and on.

``python -m benchmarks.imports [--runs 20] [--no-valgrind]``

Each statement runs in a fresh interpreter (``python -I``, bytecode already cached), and the
bare interpreter (``pass``) is subtracted. Two figures per statement: CPU instructions counted
by valgrind (``cachegrind --cache-sim=no``), which do not depend on the load, and the best wall
time of ``--runs`` interpreters, which does. With the admin API off, neither the admin app nor
``prometheus_client`` may be imported; the last line lists which admin modules were.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence

from benchmarks.harness import ROOT, print_table

_APP = "async def app(scope, receive, send): pass\n"

#: name -> statement, the bare interpreter first
STATEMENTS = {
    "bare interpreter": "pass",
    "import perf_middleware": "import perf_middleware",
    "PerformanceMiddleware(app), admin off": (
        f"from perf_middleware import PerformanceMiddleware\n{_APP}PerformanceMiddleware(app)"
    ),
    "PerformanceMiddleware(app, admin=...)": (
        "from perf_middleware import AdminConfig, PerformanceMiddleware\n"
        f"{_APP}PerformanceMiddleware(app, admin=AdminConfig(token='t' * 32))"
    ),
}

_LOADED = (
    "import sys\nfrom perf_middleware import PerformanceMiddleware\n"
    f"{_APP}PerformanceMiddleware(app)\n"
    "print(sorted(m for m in sys.modules if m.startswith(('perf_middleware.admin', "
    "'prometheus_client'))))"
)


def _command(statement: str) -> list[str]:
    # -I ignores PYTHONPATH: put this checkout's sources first explicitly
    path = f"import sys; sys.path.insert(0, {str(ROOT / 'src')!r})\n"
    return [sys.executable, "-I", "-c", path + statement]


def instructions(statement: str) -> float:
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         *_command(statement)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"valgrind printed no count:\n{done.stderr[-2000:]}")
    return float(found[1].replace(",", ""))


def best_wall(statement: str, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(_command(statement), check=True)
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="interpreters per wall figure")
    parser.add_argument("--no-valgrind", action="store_true", help="wall time only")
    args = parser.parse_args(argv)
    count = not args.no_valgrind
    if count and shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed. HINT: make bench, or pass --no-valgrind")
    for statement in STATEMENTS.values():  # write the bytecode caches first
        subprocess.run(_command(statement), check=True)
    base_ins = instructions("pass") if count else 0.0
    base_wall = best_wall("pass", args.runs)
    rows = []
    for name, statement in STATEMENTS.items():
        ins = instructions(statement) - base_ins if count else None
        wall = best_wall(statement, args.runs) - base_wall
        shown = f"{ins / 1e6:.1f}M" if ins is not None else "-"
        rows.append([name, shown, f"{wall * 1000:.1f}"])
    rows[0][1:] = [f"{base_ins / 1e6:.1f}M" if count else "-", f"{base_wall * 1000:.1f}"]
    print_table(
        "Cold import (over the bare interpreter; its own row: absolute)",
        ["statement", "instructions", f"best of {args.runs}, ms"],
        rows,
    )
    loaded = subprocess.run(_command(_LOADED), capture_output=True, text=True, check=True)
    print(f"\nadmin off imports of the admin stack: {loaded.stdout.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

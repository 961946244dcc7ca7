"""``asset-pipeline`` command line: one sub-command per module.

Each sub-command module exposes ``add_arguments(parser)`` and ``run(args) -> int`` and
is imported only when used, so ``asset-pipeline --help`` stays fast.

Exit codes: 0 success, 1 the work failed (build error, upload error), 2 usage error,
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from asset_pipeline import __version__

#: sub-command -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "build": ("asset_pipeline.build.cli", "build SRC into a fingerprinted, precompressed DIST"),
    "inspect": ("asset_pipeline.inspect", "print a build's manifest as a table"),
    "upload": ("asset_pipeline.upload.cli", "publish a build to S3-compatible storage"),
    "sw": ("asset_pipeline.sw.cli", "generate sw.js for an existing build"),
}


def make_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="asset-pipeline",
        description="Build, fingerprint, precompress and publish static assets.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers = {name: sub.add_parser(name, help=text) for name, (_, text) in SUBCOMMANDS.items()}
    return parser, subparsers


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    parser, subparsers = make_parser()
    command = next((a for a in args_list if not a.startswith("-")), None)
    if command in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[command][0])
        module.add_arguments(subparsers[command])
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        module = importlib.import_module(SUBCOMMANDS[args.command][0])
        result: int = module.run(args)
    except KeyboardInterrupt:  # a sub-command that does not say more about it
        print("asset-pipeline: interrupted", file=sys.stderr)
        return 130
    return result


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

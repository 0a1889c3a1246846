"""Entry point of the ``robofuse`` command: parses arguments and dispatches to a subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from robofuse import __version__
from robofuse.cli import bench, dataset, demo, evaluate, export, snapshot, sweep, train
from robofuse.errors import RobofuseError

SUBCOMMANDS = (demo, snapshot, dataset, train, sweep, export, evaluate, bench)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with one subparser per subcommand module."""
    parser = argparse.ArgumentParser(
        prog="robofuse",
        description="Time-aligned, failure-tolerant fusion of camera, LIDAR, IMU and audio.",
    )
    parser.add_argument("--version", action="version", version=f"robofuse {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except RobofuseError as err:
        print(f"robofuse {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

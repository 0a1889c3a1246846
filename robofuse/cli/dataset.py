"""``robofuse dataset``: generate labelled training windows from the simulated rig into a .npz."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from robofuse.dataset.generate import generate
from robofuse.errors import ConfigError


def add_parser(subparsers: Any) -> None:
    """Register ``dataset`` and its options."""
    p = subparsers.add_parser(
        "dataset",
        help="generate labelled training windows from the simulated rig",
        description="Run the simulated rig at training resolution (64x48 camera, 360-step LIDAR) through the "
        "alignment buffer and write every window's inputs, mask, labels (terrain, collision, slip) and "
        "conditions (light, wind, speeds) to one .npz. The same seed always gives the same data.",
    )
    p.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
    p.add_argument(
        "--windows", type=int, default=1000, help="number of windows, 20 per simulated second (default 1000)"
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE.npz", help="where to write the windows")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Generate and save; returns the exit status."""
    if args.windows < 1:
        raise ConfigError(f"--windows must be >= 1, got {args.windows}")
    if args.out.suffix != ".npz":
        raise ConfigError(f"--out must name a .npz file, got {str(args.out)!r}")
    console = Console(stderr=True)
    data = generate(args.seed, args.windows, progress=not args.quiet and console.is_terminal)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data.save(args.out)
    size_mb = args.out.stat().st_size / 1e6
    print(f"wrote {len(data)} windows of seed {args.seed} to {args.out} ({size_mb:.1f} MB)")
    return 0

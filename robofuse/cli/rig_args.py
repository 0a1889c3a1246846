"""The rig options every subcommand that runs a rig shares: ``--rig`` and ``--seed``."""

from __future__ import annotations

import argparse

import robofuse
from robofuse.config import RigConfig, load_rig


def add_rig_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--rig FILE`` and ``--seed N``."""
    parser.add_argument("--rig", default=None, help="rig YAML file (default: the bundled simulated rig)")
    parser.add_argument("--seed", type=int, default=None, help="world seed (default: the rig file's)")


def rig_from_arguments(args: argparse.Namespace) -> RigConfig:
    """The rig the options name, with its world reseeded when ``--seed`` is given."""
    rig = load_rig(args.rig or robofuse.default_rig_path())
    return rig.with_seed(args.seed) if args.seed is not None else rig

"""Generate a training recipe's windows into the cache on every core, before the runs that read them start.

    python bench/fill_window_cache.py CONFIG.yaml CACHE_DIR

The training and validation worlds of CONFIG (a ``robofuse train`` recipe), so that runs started
together on a GPU machine do not each generate the same worlds.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from robofuse.cli.train import load_recipe
from robofuse.train.sweep import fill_cache, recipe_worlds


def main() -> int:
    """Fill CACHE_DIR with CONFIG's worlds; 0 when every one is there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("cache", type=Path)
    args = parser.parse_args()
    fill_cache(recipe_worlds(load_recipe(args.config)), args.cache, os.cpu_count() or 1, progress=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

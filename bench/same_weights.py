"""Whether two training checkpoints hold the same weights bit for bit (a rebuild's proof).

    python bench/same_weights.py A.pt B.pt [--json OUT.json]

Prints "N of M tensors equal" and the names that differ; exits 1 unless all are equal.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from robofuse.train.checkpoint import differing_tensors


def main() -> int:
    """Compare the checkpoints named on the command line; 0 if every tensor is equal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    differ, total = differing_tensors(args.a, args.b)
    print(f"{total - len(differ)} of {total} tensors equal" + (f"; differ: {', '.join(differ)}" if differ else ""))
    if args.json:
        result = {"a": str(args.a), "b": str(args.b), "tensors": total, "equal": total - len(differ), "differ": differ}
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

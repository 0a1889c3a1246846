"""How often torch's first parallel elementwise kernel in a fresh process loses precision.

    python bench/first_call_precision.py [--processes 20] [--threads 2]

Each trial is a new Python process that sets the thread count, computes one op (sqrt, exp, log,
tanh) on a (16, 1, 200) float32 tensor, and reports the largest relative error against float64.
``cold`` runs the op as the process's first parallel kernel; ``warm`` runs it once before on
other values. A float32 kernel is good to about 1e-7; the development VM (torch 2.13 CPU, 2
threads) returned one thread's half of the tensor with errors near 3e-4 in some cold trials and
in no warm one. That is why the export check (``robofuse/train/export.py``, ``compare``) warms the model up
before taking torch's reference. Writes ``first_call_precision.json``: median and p99 of the
per-process error over every trial, and per op and mode the trials over 1e-5.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # bench/ is not a package

OPS = ("sqrt", "exp", "log", "tanh")
BAD = 1e-5  # relative error no float32 kernel should reach

TRIAL = """
import sys, torch
torch.set_num_threads(int(sys.argv[2]))
g = torch.Generator().manual_seed(0)
x = torch.rand(16, 1, 200, generator=g) * 4 + 0.1
fn = getattr(torch, sys.argv[1])
if sys.argv[3] == "warm":
    fn(torch.rand(16, 1, 200, generator=g) + 0.1)  # the same kernel once before, on other values
y = fn(x)
ref = fn(x.double())
print(float(((y.double() - ref).abs() / ref.abs()).max()))
"""


def trial(op: str, threads: int, mode: str) -> float:
    """Largest relative error of ``op``'s float32 result in one fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", TRIAL, op, str(threads), mode], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main() -> int:
    """Run the trials, print a table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=20, help="fresh processes per op and mode")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads in each process")
    args = parser.parse_args()
    errors: list[float] = []
    table: dict[str, dict[str, int]] = {}
    total = 2 * len(OPS) * args.processes
    for mode in ("cold", "warm"):
        table[mode] = {}
        for op in OPS:
            errs = []
            for _ in range(args.processes):
                errs.append(trial(op, args.threads, mode))
                print(f"\r{len(errors) + len(errs)}/{total} trials", end="", file=sys.stderr, flush=True)
            errors += errs
            table[mode][op] = sum(e > BAD for e in errs)
    print(file=sys.stderr)
    print(f"trials with relative error over {BAD:g}, of {args.processes} fresh processes, {args.threads} threads:")
    for mode, counts in table.items():
        print(f"  {mode}: " + ", ".join(f"{op} {n}" for op, n in counts.items()))
    result = report.write(
        "first_call_precision",
        "relative error",
        errors,
        {"threads": args.threads, "processes": args.processes, "bad_over": BAD, "bad_trials": table},
    )
    print(f"median {result['median']:.2g}, p99 {result['p99']:.2g}, worst {result['max']:.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Simulator speed: simulated seconds per CPU second, one thread, all four sensors at defaults.

Counts everything a consumer of the Source pays for: world, rendering, clocks, transport and
Sample construction. Also times each sensor alone (render + Sample construction) so a slow one
is easy to find. Run: ``.venv/bin/python bench/bench_sim_speed.py [--seconds 60] [--seed 0]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread, as the target says

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

import report  # noqa: E402

import robofuse  # noqa: E402
from robofuse.config import load_rig  # noqa: E402
from robofuse.messages import RejectedSample  # noqa: E402
from robofuse.sim.rig import SimRig  # noqa: E402


def whole_rig(seconds: float, seed: int) -> tuple[list[float], dict[str, float]]:
    """CPU seconds spent per simulated second, and CPU seconds per stream (render + construct)."""
    rig = load_rig(robofuse.default_rig_path()).with_seed(seed)
    sim = SimRig(rig, duration_s=seconds)
    per_second: list[float] = []
    per_stream = {s.name: 0.0 for s in rig.streams}
    with sim:
        next_mark = 1_000_000_000
        t0 = last = time.process_time()
        for item in sim:
            now = time.process_time()
            per_stream[item.stream] += now - last  # the item just yielded was rendered in this gap
            last = now
            if isinstance(item, RejectedSample):
                raise RuntimeError(f"the clean rig rejected a sample: {item.reason}")
            if item.recv_ns >= next_mark:
                per_second.append(now - t0)
                t0 = now
                next_mark += 1_000_000_000
    return per_second, per_stream


def main() -> None:
    """Run the benchmark and write bench/results/sim_speed.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="simulated seconds (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    per_second, per_stream = whole_rig(args.seconds, args.seed)
    per_second = per_second[1:]  # the first second pays for imports and one-time tables
    factors = [1.0 / max(cpu, 1e-9) for cpu in per_second]
    total = sum(per_stream.values())
    extra = {
        "simulated_s": args.seconds,
        "overall": round(len(per_second) / sum(per_second), 2),
        "cpu_ms_per_simulated_s": {k: round(1e3 * v / args.seconds, 2) for k, v in per_stream.items()},
        "target": ">= 5x real time on one thread",
    }
    name = f"sim_speed_seed{args.seed}"
    out = report.write(name, "simulated s per CPU s", factors, extra, higher_is_better=True)
    print(
        f"simulator (seed {args.seed}): median {out['median']:.1f}x real time, overall {extra['overall']:.1f}x,"
        f" p99 (slowest 1% of seconds) {out['p99']:.1f}x, over {len(factors)} s -> bench/results/{name}.json"
    )
    for name, cpu in per_stream.items():
        print(f"  {name:8s} {1e3 * cpu / args.seconds:7.1f} ms CPU per simulated second ({100 * cpu / total:4.1f}%)")


if __name__ == "__main__":
    main()

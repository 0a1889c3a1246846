"""What every benchmark in bench/ writes: one JSON file with machine, commit, median and p99."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from robofuse.machine import commit, machine

__all__ = ["RESULTS", "commit", "machine", "write"]

# ROBOFUSE_BENCH_RESULTS redirects the JSON (the tests run scripts without touching bench/results)
RESULTS = Path(os.environ.get("ROBOFUSE_BENCH_RESULTS", Path(__file__).parent / "results"))


def write(
    name: str, unit: str, samples: Sequence[float], extra: dict[str, Any] | None = None, higher_is_better: bool = False
) -> dict[str, Any]:
    """Write ``bench/results/<name>.json`` and return its content.

    ``p99`` is the 99th-percentile worst case: the 99th percentile of a cost, or the 1st of a
    figure where higher is better (such as a speed multiple).
    """
    arr = np.asarray(samples, dtype=np.float64)
    report = {
        "benchmark": name,
        "unit": unit,
        "machine": machine(),
        "commit": commit(),
        "n": int(arr.size),
        "median": float(np.median(arr)),
        "p99": float(np.percentile(arr, 1 if higher_is_better else 99)),
        "higher_is_better": higher_is_better,
        "min": float(arr.min()),
        "max": float(arr.max()),
        **(extra or {}),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    return report

"""The candidates README's selection table, from a selection report and the noise curves of the same candidates.

    python docs/evaluation/selection_table.py REPORT.json NOISE.txt [MORE_SPECIALISTS.json ...]

``REPORT.json`` is ``robofuse evaluate --model NAME=PATH ... --specialists DIR --seeds 6000-6049
--no-noise --emap-samples 0``; ``NOISE.txt`` what ``noise_curves.py --late ...`` printed for the same
names (its ``ER`` figures); further reports add specialists the first one lacks (one subset trained
later, say). One Markdown row per model: all-four slip balanced accuracy, effective robustness per
sensor and how many are >= 0, the 16 checks (all four >= 95%, 15 subsets within 2 points of the
specialists' mean over seeds), all-four terrain accuracy, the mean of the 15 subsets, and the subset
furthest below its specialists.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from robofuse.evaluate.data import SENSORS
from robofuse.evaluate.specialists import compare
from robofuse.evaluate.subsets import subset_name

ALL_FOUR = subset_name(SENSORS)
ER_LINE = re.compile(r"(\S+) (camera|lidar|imu|audio)\s.*ER ([+-][\d.]+)")


def effective_robustness(noise_text: str) -> dict[str, dict[str, float]]:
    """``{model: {sensor: ER}}`` from ``noise_curves.py``'s lines that carry an ``ER`` figure."""
    er: dict[str, dict[str, float]] = {}
    for line in noise_text.splitlines():
        match = ER_LINE.match(line)
        if match:
            er.setdefault(match.group(1), {})[match.group(2)] = float(match.group(3))
    return er


def specialist_terrain(reports: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Each subset's specialist terrain accuracy over its seeds (the report's summary); later reports fill gaps."""
    merged: dict[str, dict[str, float]] = {}
    for report in reports:
        merged.update({s: v["terrain_acc"] for s, v in report["specialists"].items()})
    if len(merged) != 15:
        found = f"specialists for {len(merged)} of 15 subsets ({sorted(merged)})"
        raise SystemExit(f"{found}: pass the reports that hold the rest as further arguments")
    return merged


def rows(report: dict[str, Any], er: dict[str, dict[str, float]], spec: dict[str, dict[str, float]]) -> list[str]:
    """One Markdown table row per model in ``report``; the subset checks are the report's own (``compare``)."""
    out = []
    for name, model in report["models"].items():
        acc = {s: v["terrain_acc"]["mean"] for s, v in model["subsets"].items()}
        verdicts = {s: compare(acc[s], spec[s]) for s in spec}
        diffs = {s: v["diff_points"] for s, v in verdicts.items()}
        checks = int(acc[ALL_FOUR] >= 0.95) + sum(v["ok"] for v in verdicts.values())
        worst = min(diffs, key=lambda s: diffs[s])
        ers = [er.get(name, {}).get(s, float("nan")) for s in SENSORS]
        slip = 100 * model["subsets"][ALL_FOUR]["slip_bacc"]["mean"]
        out.append(
            f"| {name} | {slip:.2f} | "
            + " | ".join(f"{x:+.2f}" for x in ers)
            + f" | {sum(x >= 0 for x in ers)} | {checks} | {100 * acc[ALL_FOUR]:.2f} | "
            + f"{100 * np.mean(list(acc.values())):.2f} | {worst} {diffs[worst]:+.2f} |"
        )
    return out


def main() -> None:
    """Print the table."""
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    report = json.loads(Path(sys.argv[1]).read_text())
    extra = [json.loads(Path(p).read_text()) for p in sys.argv[3:]]
    spec = specialist_terrain([report, *extra])
    er = effective_robustness(Path(sys.argv[2]).read_text())
    print(
        "| candidate | slip bacc | ER camera | ER LIDAR | ER IMU | ER audio | ER >= 0 | checks | all four "
        "| mean of 15 | worst subset vs specialist |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows(report, er, spec)))


if __name__ == "__main__":
    main()

"""Round 10's selection: each candidate against the shipped model on the selection worlds, gate by gate.

    python docs/evaluation/versus_shipped.py REPORT.json NOISE.txt [--shipped NAME] [--target imu+audio]
        [--specialists NAME,NAME,...]

``REPORT.json`` is ``robofuse evaluate --model shipped=robofuse/data/default_model.pt --model NAME=PATH ...
--seeds 6000-6049 --no-noise --emap-samples 0``; ``NOISE.txt`` what ``noise_curves.py`` printed for
the same names (the camera line's last figure is its accuracy at 0.9 x std). Used where the
specialists' checkpoints are not at hand, so the shipped model is the yardstick
(candidates/README.md, round 10). The gates, in order: slip balanced accuracy >= 65%; >= 80% at
0.9 x std camera noise; all four sensors no more than 0.5 points below the shipped model; the
target subset at least 2 points above it; no other subset more than 1.5 points below it. Among the
candidates that pass, the highest mean of the 15 subsets is the challenger.

With ``--specialists`` (round 12: the target subset's specialists, evaluated as models in the same
report) the target must also come within 2 points of their mean there; they are the yardstick of
that gate, not candidates.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from robofuse.evaluate.data import SENSORS
from robofuse.evaluate.subsets import all_subsets, subset_name

ALL_FOUR = subset_name(SENSORS)
CAMERA_LINE = re.compile(r"(\S+) camera\s+((?:\s*[\d.]+)+)")


def camera_at_09(noise_text: str) -> dict[str, float]:
    """``{model: terrain accuracy (%) at 0.9 x std camera noise}`` from ``noise_curves.py``'s camera lines."""
    found = {}
    for line in noise_text.splitlines():
        match = CAMERA_LINE.match(line)
        if match:
            found[match.group(1)] = float(match.group(2).split()[-1])
    return found


def terrain(model: dict[str, Any]) -> dict[str, float]:
    """Terrain accuracy (%) per subset name."""
    return {s: 100 * v["terrain_acc"]["mean"] for s, v in model["subsets"].items()}


def verdict(
    cand: dict[str, Any], shipped: dict[str, float], camera: float | None, target: str, specialist: float | None = None
) -> tuple[list[str], dict[str, float], str]:
    """The gates ``cand`` fails (empty: it passes), its figures against ``shipped``, and its worst other subset.

    ``specialist``: the target subset's specialists' mean accuracy (%), when the round has them.
    """
    acc = terrain(cand)
    diff = {s: acc[s] - shipped[s] for s in acc}
    others = {s: d for s, d in diff.items() if s not in (target, ALL_FOUR)}
    worst = min(others, key=others.__getitem__)
    slip = 100 * cand["subsets"][ALL_FOUR]["slip_bacc"]["mean"]
    figures = {
        "slip": slip,
        "camera09": float("nan") if camera is None else camera,
        "all_four": acc[ALL_FOUR],
        "all_four_diff": diff[ALL_FOUR],
        "target_diff": diff[target],
        "worst_other_diff": others[worst],
        "mean15": sum(acc.values()) / len(acc),
        "target_vs_specialist": float("nan") if specialist is None else acc[target] - specialist,
    }
    failed = []
    if slip < 65:
        failed.append("slip < 65%")
    if camera is None or camera < 80:
        failed.append("camera 0.9 x std < 80%")
    if diff[ALL_FOUR] < -0.5:
        failed.append("all four > 0.5 points below")
    if diff[target] < 2:
        failed.append(f"{target} < +2 points")
    if specialist is not None and acc[target] - specialist < -2:
        failed.append(f"{target} > 2 points below its specialists")
    if others[worst] < -1.5:
        failed.append(f"{worst} {others[worst]:+.2f} points")
    return failed, figures, worst


def main() -> None:
    """Print one Markdown row per candidate and name the challenger."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path)
    parser.add_argument("noise", type=Path)
    parser.add_argument("--shipped", default="shipped", help="the shipped model's name in REPORT.json")
    parser.add_argument("--target", default="imu+audio", help="the subset the round sets out to lift")
    parser.add_argument("--specialists", default="", help="comma-separated names of the target's specialists")
    args = parser.parse_args()
    models = json.loads(args.report.read_text())["models"]
    if args.shipped not in models:
        parser.error(f"{args.report} has no model named {args.shipped!r} (--shipped)")
    if args.target not in {subset_name(s) for s in all_subsets()}:
        parser.error(f"--target {args.target!r} is not a canonical subset name such as imu+audio")
    specialists = [n for n in args.specialists.split(",") if n]
    missing = [n for n in specialists if n not in models]
    if missing:
        parser.error(f"{args.report} has no model named {missing} (--specialists)")
    specialist = sum(terrain(models[n])[args.target] for n in specialists) / len(specialists) if specialists else None
    camera = camera_at_09(args.noise.read_text())
    shipped = terrain(models[args.shipped])
    if specialist is not None:
        print(f"{args.target} specialists ({', '.join(specialists)}): mean {specialist:.2f}%\n")
    print(
        f"| model | slip bacc | camera 0.9 x std | all four | vs shipped | {args.target} vs shipped "
        f"| {args.target} vs specialists | worst other subset vs shipped | mean of 15 | gates failed |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    passing = {}
    for name, model in models.items():
        if name in specialists:
            continue
        failed, f, worst = verdict(model, shipped, camera.get(name), args.target, specialist)
        gates = "(the yardstick)" if name == args.shipped else ("none" if not failed else "; ".join(failed))
        print(
            f"| `{name}` | {f['slip']:.2f} | {f['camera09']:.1f} | {f['all_four']:.2f} | {f['all_four_diff']:+.2f} | "
            f"{f['target_diff']:+.2f} | {f['target_vs_specialist']:+.2f} | {worst} {f['worst_other_diff']:+.2f} "
            f"| {f['mean15']:.2f} | {gates} |"
        )
        if name != args.shipped and not failed:
            passing[name] = f["mean15"]
    challenger = max(passing, key=passing.__getitem__) if passing else None
    print(f"\nchallenger: {challenger}" if challenger else "\nno candidate passes every gate: nothing ships")


if __name__ == "__main__":
    main()

"""Specialists (models trained on one sensor subset) and multi-seed model groups: discovery and summaries.

Layout: ``DIR/<subset>/seed<k>/best.pt`` with ``<subset>`` the canonical name (``camera+imu``),
and ``DIR/<kind>/seed<k>/best.pt`` for fused models of one fusion kind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from robofuse.evaluate.models import ModelSpec
from robofuse.evaluate.subsets import all_subsets, subset_name

MAX_DROP_POINTS = 2.0  # the default model may score at most this far below a specialist on its subset


def seed_checkpoints(directory: Path) -> tuple[Path, ...]:
    """``directory/seed*/best.pt`` in seed order (or ``directory/best.pt`` for a single run)."""
    found = sorted(directory.glob("seed*/best.pt"), key=lambda p: _seed_number(p.parent.name))
    if not found and (directory / "best.pt").is_file():
        found = [directory / "best.pt"]
    return tuple(found)


def _seed_number(name: str) -> float:
    digits = name.removeprefix("seed")
    return float(digits) if digits.isdigit() else math.inf


def discover_specialists(directory: Path) -> tuple[dict[str, tuple[Path, ...]], list[str]]:
    """Checkpoints per canonical subset name, and the subsets that have none (for the report)."""
    found, missing = {}, []
    for subset in all_subsets():
        paths = seed_checkpoints(directory / subset_name(subset))
        if paths:
            found[subset_name(subset)] = paths
        else:
            missing.append(subset_name(subset))
    return found, missing


def discover_fusion(
    directory: Path, kinds: Sequence[str] = ("late", "gated", "lmf", "tfn", "concat")
) -> list[ModelSpec]:
    """One model group per fusion kind with checkpoints under ``directory/<kind>/``."""
    specs = []
    for kind in kinds:
        paths = seed_checkpoints(directory / kind)
        if paths:
            specs.append(ModelSpec(name=kind, paths=paths))
    return specs


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """Mean, population std, min, max and count of per-seed values (NaN-free ones)."""
    v = np.asarray([x for x in values if not math.isnan(x)], dtype=np.float64)
    if len(v) == 0:
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()), "n": len(v)}


def compare(default_acc: float, specialist: dict[str, Any]) -> dict[str, Any]:
    """The default model's terrain accuracy minus the specialists' mean, in points, and whether it is within 2."""
    diff = 100.0 * (default_acc - specialist["mean"])
    return {
        "default": default_acc,
        "specialist_mean": specialist["mean"],
        "specialist_std": specialist["std"],
        "specialist_min": specialist["min"],
        "specialist_max": specialist["max"],
        "seeds": specialist["n"],
        "diff_points": diff,
        "ok": bool(diff >= -MAX_DROP_POINTS),
    }

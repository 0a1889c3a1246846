"""The 15 non-empty subsets of the four sensors and the metrics of one set of predictions."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.errors import ConfigError
from robofuse.evaluate.data import HEADS, SENSORS

Subset = tuple[str, ...]


def all_subsets() -> list[Subset]:
    """Every non-empty subset of the sensors, by size, each in canonical (mask column) order."""
    return [tuple(c) for k in range(1, len(SENSORS) + 1) for c in combinations(SENSORS, k)]


def subset_name(subset: Subset) -> str:
    """Canonical name: the sensors joined by ``+`` in camera, lidar, imu, audio order (``camera+imu``)."""
    return "+".join(s for s in SENSORS if s in subset)


def parse_subset(name: str) -> Subset:
    """The subset a name such as ``imu+camera`` or ``camera,imu`` stands for, in canonical order."""
    parts = {p.strip() for p in name.replace(",", "+").split("+") if p.strip()}
    unknown = sorted(parts - set(SENSORS))
    if unknown or not parts:
        raise ConfigError(f"{name!r} is not a sensor subset: use names among {list(SENSORS)} joined by '+'")
    return tuple(s for s in SENSORS if s in parts)


def subset_mask(mask: npt.NDArray[Any], subset: Subset) -> npt.NDArray[np.float32]:
    """The model's mask: the data's mask AND the subset (every other sensor masked)."""
    keep = np.array([s in subset for s in SENSORS], dtype=np.float32)
    return (mask.astype(np.float32) * keep).astype(np.float32)


def balanced_accuracy(pred: npt.NDArray[Any], target: npt.NDArray[Any]) -> float:
    """Mean per-class recall over the classes present in ``target`` (NaN when ``target`` is empty)."""
    if len(target) == 0:
        return float("nan")
    return float(np.mean([np.mean(pred[target == c] == c) for c in np.unique(target)]))


def head_metrics(preds: dict[str, npt.NDArray[Any]], data: dict[str, npt.NDArray[Any]], rows: Any) -> dict[str, float]:
    """Terrain accuracy, collision and slip balanced accuracy over ``rows`` (a boolean selector), and the count."""
    terrain_pred, terrain = preds["terrain"][rows], data["terrain"][rows]
    out = {"terrain_acc": float(np.mean(terrain_pred == terrain)) if len(terrain) else float("nan")}
    for head in HEADS[1:]:
        out[f"{head}_bacc"] = balanced_accuracy(preds[head][rows], data[head][rows])
    out["windows"] = float(np.count_nonzero(rows) if np.asarray(rows).dtype == bool else len(terrain))
    return out


def usable_rows(mask: npt.NDArray[Any], subset: Subset) -> npt.NDArray[np.bool_]:
    """Windows where at least one sensor of ``subset`` is present in the data.

    Accuracy is counted over these: with none of its sensors delivered a model can only say
    that nothing is usable, which is not a terrain prediction.
    """
    return np.asarray(subset_mask(mask, subset).max(axis=1) > 0.5)

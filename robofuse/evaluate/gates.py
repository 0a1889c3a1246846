"""Per-sensor gate statistics: how much each sensor weighs in the fused features.

For the gated model the gates are learned, per window; the late, TFN and LMF layers report
equal weights over the present sensors by construction (their statistics are then trivial).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.evaluate.data import SENSORS
from robofuse.labels import TERRAIN_NAMES

PERCENTILES: tuple[int, ...] = (5, 25, 50, 75, 95)


def gate_stats(
    gates: npt.NDArray[Any],
    mask: npt.NDArray[Any],
    terrain: npt.NDArray[Any],
    shift: dict[str, list[list[float]]] | None = None,
    levels: tuple[float, ...] = (),
) -> dict[str, Any]:
    """Statistics of each sensor's gate over windows with all four sensors present.

    Returns ``windows``; ``per_sensor``: sensor -> mean, std and percentiles; ``per_terrain``:
    terrain class -> sensor -> mean gate; ``noise_shift`` (when ``shift`` is given): noised
    target -> sensor -> mean gate at each level (from :func:`robofuse.evaluate.runner.run_model`).
    """
    rows = mask.min(axis=1) > 0.5
    g = gates[rows].astype(np.float64)
    out: dict[str, Any] = {"windows": int(np.count_nonzero(rows)), "per_sensor": {}, "per_terrain": {}}
    for i, name in enumerate(SENSORS):
        col = g[:, i] if len(g) else np.zeros(1)
        stats = {"mean": float(col.mean()), "std": float(col.std())}
        stats.update({f"p{p}": float(np.percentile(col, p)) for p in PERCENTILES})
        out["per_sensor"][name] = stats
    for c, cls in enumerate(TERRAIN_NAMES):
        sel = terrain[rows] == c
        if np.any(sel):
            out["per_terrain"][cls] = {name: float(g[sel, i].mean()) for i, name in enumerate(SENSORS)}
    if shift:
        out["levels"] = list(levels)
        out["noise_shift"] = {
            target: {name: [row[i] for row in per_level] for i, name in enumerate(SENSORS)}
            for target, per_level in shift.items()
        }
    return out

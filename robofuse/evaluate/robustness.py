"""Gaussian noise on one sensor (or all) and MultiBench's relative and effective robustness.

Definitions, after MultiBench (Liang et al. 2021), ``eval_scripts/robustness.py`` of
github.com/pliang279/MultiBench (``relative_robustness_helper`` and ``effective_robustness_helper``):

- relative robustness of an accuracy curve ``f`` over noise levels ``0, 0.1, ...``: the area
  under it by the trapezoid rule with step 0.1, ``sum_i (f[i] + f[i+1]) * 0.1 / 2``;
- effective robustness against the late-fusion curve ``lf`` on the same levels:
  ``sum_i (f[i] - (lf[i] + f[0] - lf[0]))``, the accuracy kept beyond what late fusion keeps
  once both are shifted to start at the same clean accuracy.

MultiBench then max-min normalises both across the methods of its table; here the raw values
are reported (a normalisation across only the few models evaluated would say little). Levels
are 0 to 0.9 as the issue asks (MultiBench's own curves go to 1.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.evaluate.data import SENSORS, Arrays

LEVELS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(10))  # 0, 0.1, ..., 0.9
TARGETS: tuple[str, ...] = (*SENSORS, "all")  # noise on one sensor, or on every sensor at once


def unit_noise(shapes: dict[str, tuple[int, ...]], seed: int, batch_start: int) -> Arrays:
    """Standard normal draws for each input of a batch, fixed by ``seed`` and the batch's first window.

    Every model, level and target sees the same draws (common random numbers), so curves differ
    by the model only, and each level is the previous one scaled.
    """
    out = {}
    for i, name in enumerate(SENSORS):
        rng = np.random.default_rng([seed, batch_start, i])
        out[name] = rng.standard_normal(shapes[name], dtype=np.float32)
    return out


def noised(x: npt.NDArray[np.float32], z: npt.NDArray[np.float32], level: float, std: Any, name: str) -> Any:
    """``x + level * std * z``, clipped to the input's range (camera 0-255, LIDAR ranges >= 0).

    ``std`` is the input's std (per channel for camera and IMU, broadcast over the last axis).
    """
    y = x + z * (np.float32(level) * np.asarray(std, dtype=np.float32))
    if name == "camera":
        y = np.clip(y, 0, 255)
    elif name == "lidar":
        y = np.maximum(y, 0)
    return y.astype(np.float32)


def noise_inputs(inputs: Arrays, z: Arrays, level: float, stds: dict[str, Any], target: str) -> Arrays:
    """The replaced inputs for noise on ``target`` (one sensor or ``"all"``) at ``level``."""
    names = SENSORS if target == "all" else (target,)
    return {name: noised(inputs[name], z[name], level, stds[name], name) for name in names}


def relative_robustness(curve: Sequence[float], step: float = 0.1) -> float:
    """Trapezoid area under the accuracy curve (MultiBench's ``relative_robustness_helper``)."""
    f = np.asarray(curve, dtype=np.float64)
    return float(np.sum((f[:-1] + f[1:]) * step / 2))


def effective_robustness(curve: Sequence[float], baseline: Sequence[float]) -> float:
    """``sum(f - (lf + f[0] - lf[0]))`` against the late-fusion curve (MultiBench's ``effective_robustness_helper``)."""
    f, lf = np.asarray(curve, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if f.shape != lf.shape:
        raise ValueError(f"curves differ in length: {f.shape} and {lf.shape}")
    return float(np.sum(f - (lf + (f[0] - lf[0]))))

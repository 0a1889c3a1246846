"""One pass of a model over the evaluation windows: every subset, every noise curve, the gates."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from robofuse.evaluate.data import HEADS, SENSORS, Arrays, batches, float_inputs
from robofuse.evaluate.heading import heading_angles, turn_heading
from robofuse.evaluate.models import EvalModel, TorchModel
from robofuse.evaluate.robustness import LEVELS, TARGETS, noise_inputs, unit_noise
from robofuse.evaluate.subsets import Subset, all_subsets, head_metrics, subset_mask, subset_name, usable_rows
from robofuse.progress import Bar


@dataclass
class ModelRun:
    """What one pass found.

    ``subsets``: subset name -> metrics (terrain_acc, collision_bacc, slip_bacc, windows).
    ``heading``: the same metrics with every sensor the data delivers and each window's IMU
    turned to a random heading (empty when the run has no all-four subset).
    ``curves``: noise target -> terrain accuracy per level (empty without noise).
    ``gates``: ``(N, 4)`` gates with the data's mask. ``gate_shift``: target -> per level the
    mean gate of each sensor over windows with all four present. ``features``: ``(N, 4, D)``
    clean features (checkpoints only, for EMAP). ``seconds``: wall time of the pass.
    """

    subsets: dict[str, dict[str, float]] = field(default_factory=dict)
    heading: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    gates: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    gate_shift: dict[str, list[list[float]]] = field(default_factory=dict)
    features: Any = None
    seconds: float = 0.0


def run_model(
    model: EvalModel,
    data: Arrays,
    *,
    subsets: list[Subset] | None = None,
    noise: bool = True,
    stds: dict[str, Any] | None = None,
    levels: tuple[float, ...] = LEVELS,
    noise_seed: int = 0,
    batch_size: int = 256,
    keep_features: bool = False,
    progress: bool = False,
) -> ModelRun:
    """Evaluate ``model`` on ``data`` in batches; the model's mask is always the data's mask AND the subset.

    Noise curves (``noise``, needs ``stds``) are taken with every sensor the data delivers and
    counted over windows with at least one; level 0 is the clean result. Whenever ``subsets``
    holds all four sensors, the same windows are also run with each IMU window's heading turned
    (:mod:`robofuse.evaluate.heading`) and scored over the same rows as the all-four figure.
    """
    subsets = all_subsets() if subsets is None else subsets
    mask = data["mask"].astype(np.float32)
    n = len(mask)
    full = tuple(SENSORS)
    pred = {subset_name(s): {h: np.zeros(n, np.int64) for h in HEADS} for s in subsets}
    turned = {h: np.zeros(n, np.int64) for h in HEADS} if full in subsets else {}
    angles = heading_angles(n, noise_seed)
    noisy = {t: np.zeros((len(levels), n), np.int64) for t in TARGETS} if noise else {}
    all_present = mask.min(axis=1) > 0.5
    gate_sum = {t: np.zeros((len(levels), len(SENSORS))) for t in TARGETS} if noise else {}
    gates = np.zeros((n, len(SENSORS)), np.float32)
    feats: list[Any] = []
    if noise and stds is None:
        raise ValueError("noise curves need the inputs' stds")
    start = time.perf_counter()
    with Bar(f"{model.name}", n, progress) as bar:
        for index in batches(n, batch_size):
            inputs = float_inputs(data, index)
            model.begin_batch(inputs)
            m = mask[index]
            for s in subsets:
                out = model.outputs(subset_mask(m, s), None)
                for h in HEADS:
                    pred[subset_name(s)][h][index] = out[h].argmax(axis=1)
                if s == full:
                    gates[index] = out["gates"]
            if turned:
                out = model.outputs(m, {"imu": turn_heading(inputs["imu"], angles[index])})
                for h in HEADS:
                    turned[h][index] = out[h].argmax(axis=1)
            if keep_features and isinstance(model, TorchModel):
                feats.append(model.features(m).clone())
            if noise:
                z = unit_noise({k: v.shape for k, v in inputs.items()}, noise_seed, int(index[0]))
                clean = model.outputs(m, None)
                keep = all_present[index]
                for t in TARGETS:
                    for li, level in enumerate(levels):
                        out = clean if level == 0 else model.outputs(m, noise_inputs(inputs, z, level, stds or {}, t))
                        noisy[t][li, index] = out["terrain"].argmax(axis=1)
                        gate_sum[t][li] += out["gates"][keep].sum(axis=0)
            bar.advance(len(index))
    result = ModelRun(gates=gates, seconds=0.0)
    for s in subsets:
        result.subsets[subset_name(s)] = head_metrics(pred[subset_name(s)], data, usable_rows(mask, s))
    rows = usable_rows(mask, full)
    if turned:
        result.heading = head_metrics(turned, data, rows)
    for t in noisy:
        result.curves[t] = [float(np.mean(noisy[t][li][rows] == data["terrain"][rows])) for li in range(len(levels))]
        count = max(1, int(np.count_nonzero(all_present)))
        result.gate_shift[t] = [[float(v) / count for v in gate_sum[t][li]] for li in range(len(levels))]
    if feats:
        import torch

        result.features = torch.cat(feats)
    result.seconds = time.perf_counter() - start
    return result

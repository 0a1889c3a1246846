"""EMAP on additive and multiplicative fusion models, and gate statistics of a real gated model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from robofuse.evaluate.emap import emap_logits, emap_report, partner_offsets
from robofuse.evaluate.gates import gate_stats
from robofuse.model.fusion_model import FusionModel, FusionModelConfig


def model_and_feats(fusion: str, n: int = 24, seed: int = 0) -> tuple[FusionModel, torch.Tensor]:
    torch.manual_seed(seed)
    model = FusionModel(FusionModelConfig(dim=8, fused_dim=8, fusion=fusion))  # type: ignore[arg-type]
    model.eval()
    return model, torch.randn(n, 4, 8) * 2


def classify_of(model: FusionModel):  # type: ignore[no-untyped-def]
    def classify(feats: torch.Tensor, mask: np.ndarray) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            out = model.classify(feats, torch.from_numpy(mask))
        return {k: v.numpy() for k, v in out.items()}

    return classify


def test_emap_reproduces_an_additive_model_and_not_a_multiplicative_one() -> None:
    late, feats = model_and_feats("late")
    # LateFusion averages per-sensor linear heads; the shared ReLU trunk after it would make the
    # logits non-additive, so take it out: then each logit is exactly a sum of per-sensor terms
    late.trunk = nn.Identity()
    n = len(feats)
    logits = classify_of(late)(feats, np.ones((n, 4), np.float32))
    projected = emap_logits(classify_of(late), feats, samples=n)  # every window as a partner
    for head in ("terrain", "collision", "slip"):
        assert projected[head] == pytest.approx(logits[head].astype(np.float64), abs=1e-5)
    tfn, feats = model_and_feats("tfn", seed=1)
    logits = classify_of(tfn)(feats, np.ones((n, 4), np.float32))
    projected = emap_logits(classify_of(tfn), feats, samples=n)
    assert np.abs(projected["terrain"] - logits["terrain"]).max() > 1e-2


def test_emap_with_fewer_partners_and_its_report() -> None:
    offsets = partner_offsets(50, 8, seed=3)
    assert len(set(offsets.tolist())) == 8
    assert offsets.min() >= 1
    assert offsets.max() < 50
    assert partner_offsets(5, 64).tolist() == [0, 1, 2, 3, 4]
    model, feats = model_and_feats("lmf", n=30)
    labels = {"terrain": np.arange(30) % 6, "collision": np.arange(30) % 2, "slip": np.zeros(30, int)}
    rep = emap_report(classify_of(model), feats, labels, samples=8)
    assert rep["windows"] == 30
    assert rep["samples"] == 8
    assert rep["gap"]["terrain_acc"] == pytest.approx(rep["model"]["terrain_acc"] - rep["emap"]["terrain_acc"])


def test_gates_sum_to_one_over_present_sensors_and_their_statistics() -> None:
    torch.manual_seed(0)
    model = FusionModel(FusionModelConfig(dim=8, fused_dim=8, fusion="gated"))
    model.eval()
    n = 40
    mask = np.ones((n, 4), np.float32)
    mask[::3, 1] = 0.0
    mask[::5, 3] = 0.0
    with torch.inference_mode():
        gates = model.classify(torch.randn(n, 4, 8) * 3, torch.from_numpy(mask))["gates"].numpy()
    assert gates.sum(axis=1) == pytest.approx(np.ones(n), abs=1e-6)
    assert np.all(gates[mask == 0] == 0)
    terrain = np.arange(n) % 6
    shift = {"camera": [[0.4, 0.2, 0.2, 0.2], [0.1, 0.3, 0.3, 0.3]]}
    stats = gate_stats(gates, mask, terrain, shift, (0.0, 0.5))
    full = mask.min(axis=1) > 0.5
    assert stats["windows"] == np.count_nonzero(full)
    means = [stats["per_sensor"][s]["mean"] for s in ("camera", "lidar", "imu", "audio")]
    assert sum(means) == pytest.approx(1.0)
    assert means[0] == pytest.approx(gates[full, 0].mean())
    assert stats["per_sensor"]["imu"]["p5"] <= stats["per_sensor"]["imu"]["p50"] <= stats["per_sensor"]["imu"]["p95"]
    for per_class in stats["per_terrain"].values():
        assert sum(per_class.values()) == pytest.approx(1.0)
    assert stats["noise_shift"]["camera"]["camera"] == [0.4, 0.1]

"""docs/evaluation/versus_shipped.py: round 10's selection gates, on hand-made figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from robofuse.evaluate.subsets import all_subsets, subset_name

SCRIPT = Path(__file__).resolve().parents[2] / "docs/evaluation/versus_shipped.py"


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("versus_shipped", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model(terrain: float, slip: float = 0.7, **subsets: float) -> dict[str, Any]:
    """Every subset at ``terrain`` (a fraction) unless named (``imu_audio=0.8`` for imu+audio)."""
    named = {k.replace("_", "+"): v for k, v in subsets.items()}
    out = {}
    for s in all_subsets():
        name = subset_name(s)
        out[name] = {"terrain_acc": {"mean": named.get(name, terrain)}, "slip_bacc": {"mean": slip}}
    return {"subsets": out}


def test_the_noise_lines_give_each_models_camera_accuracy_at_09() -> None:
    text = "shipped camera   95.4  94.0  93.0  91.0  89.2\nia3_s0 camera   95.0  94.1  90.0  85.0  79.9\n"
    assert script().camera_at_09(text) == {"shipped": 89.2, "ia3_s0": 79.9}


@pytest.mark.parametrize(
    ("candidate", "camera", "failed"),
    [
        (model(0.80, imu_audio=0.77), 85.0, []),
        (model(0.80, slip=0.6, imu_audio=0.77), 85.0, ["slip < 65%"]),
        (model(0.80, imu_audio=0.77), 79.0, ["camera 0.9 x std < 80%"]),
        (model(0.80, imu_audio=0.77), None, ["camera 0.9 x std < 80%"]),
        (model(0.80, imu_audio=0.77, camera_lidar_imu_audio=0.794), 85.0, ["all four > 0.5 points below"]),
        (model(0.80, imu_audio=0.76), 85.0, ["imu+audio < +2 points"]),
        (model(0.80, imu_audio=0.77, lidar=0.784), 85.0, ["lidar -1.60 points"]),
    ],
)
def test_each_gate_fails_on_its_own_figure(candidate: dict[str, Any], camera: float | None, failed: list[str]) -> None:
    shipped = script().terrain(model(0.80, imu_audio=0.745))
    got, figures, _ = script().verdict(candidate, shipped, camera, "imu+audio")
    assert got == failed
    lift = candidate["subsets"]["imu+audio"]["terrain_acc"]["mean"] - 0.745
    assert figures["target_diff"] == pytest.approx(100 * lift)


def test_with_specialists_the_target_must_also_come_within_two_points_of_them() -> None:
    shipped = script().terrain(model(0.80, imu_audio=0.745))
    candidate = model(0.80, imu_audio=0.77)  # +2.5 on the shipped model
    assert script().verdict(candidate, shipped, 85.0, "imu+audio", 79.0)[0] == []  # 2.0 below: passes
    failed, figures, _ = script().verdict(candidate, shipped, 85.0, "imu+audio", 79.2)
    assert failed == ["imu+audio > 2 points below its specialists"]
    assert figures["target_vs_specialist"] == pytest.approx(-2.2)

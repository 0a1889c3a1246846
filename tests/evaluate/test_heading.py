"""The heading-turned figure: the quaternion turned about the vertical, and what the runner makes of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
from evaltools import MaskCounter, fake_data

from robofuse.evaluate.data import SENSORS
from robofuse.evaluate.heading import heading_angles, turn_heading
from robofuse.evaluate.models import TorchModel
from robofuse.evaluate.runner import run_model
from robofuse.model.fusion_model import FusionModel, FusionModelConfig

FULL = "+".join(SENSORS)


def tilted_imu(windows: int, steps: int, seed: int) -> npt.NDArray[np.float32]:
    """Random gyro/accel, and unit quaternions of a random heading, roll and pitch (xyzw)."""
    rng = np.random.default_rng(seed)
    imu = rng.standard_normal((windows, steps, 10)).astype(np.float32)
    yaw, roll, pitch = (rng.uniform(-a, a, (windows, steps)) for a in (np.pi, 0.4, 0.3))
    cy, sy, cr, sr, cp, sp = (f(v / 2) for v in (yaw, roll, pitch) for f in (np.cos, np.sin))
    # q = q_yaw(z) * q_pitch(y) * q_roll(x)
    imu[..., 6] = cy * cp * sr - sy * sp * cr
    imu[..., 7] = cy * sp * cr + sy * cp * sr
    imu[..., 8] = sy * cp * cr - cy * sp * sr
    imu[..., 9] = cy * cp * cr + sy * sp * sr
    return imu


def gravity_in_body(q: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """R(q)^T e_z, the third row of R(q): what an accelerometer at rest reads, in units of g."""
    x, y, z, w = (q[..., i] for i in range(4))
    return np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1)


def yaw_of(q: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The heading of R(q): the angle of its body x axis in the world's xy plane."""
    x, y, z, w = (q[..., i] for i in range(4))
    return np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def test_turning_the_heading_keeps_the_tilt_and_the_inertial_channels_and_adds_the_angle() -> None:
    imu = tilted_imu(5, 7, seed=0)
    angle = np.array([0.0, 0.5, -2.0, np.pi, 3.0])
    turned = turn_heading(imu, angle)
    assert turned.dtype == np.float32
    np.testing.assert_array_equal(turned[..., :6], imu[..., :6])  # body-frame gyro and accel
    np.testing.assert_allclose(np.linalg.norm(turned[..., 6:], axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(gravity_in_body(turned[..., 6:]), gravity_in_body(imu[..., 6:]), atol=1e-5)
    change = np.angle(np.exp(1j * (yaw_of(turned[..., 6:]) - yaw_of(imu[..., 6:]))))  # wrapped to (-pi, pi]
    want = np.angle(np.exp(1j * angle))[:, None] * np.ones((1, 7))
    np.testing.assert_allclose(np.abs(np.angle(np.exp(1j * (change - want)))), 0.0, atol=1e-5)
    np.testing.assert_array_equal(turn_heading(imu, np.zeros(5)), imu)


def test_turn_heading_refuses_the_wrong_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(B, T, 10\)"):
        turn_heading(np.zeros((2, 7, 9), np.float32), np.zeros(2))
    with pytest.raises(ValueError, match="angle"):
        turn_heading(np.zeros((2, 7, 10), np.float32), np.zeros(3))


def test_the_angles_depend_on_the_seed_only() -> None:
    a = heading_angles(500, seed=0)
    np.testing.assert_array_equal(a, heading_angles(500, seed=0))
    np.testing.assert_array_equal(a[:100], heading_angles(100, seed=0))  # a prefix: batch size cannot matter
    assert (a >= 0).all()
    assert (a < 2 * np.pi).all()
    assert np.abs(a - heading_angles(500, seed=1)).max() > 1.0


class HeadingReader(MaskCounter):
    """Predicts terrain from the heading of the first IMU sample: a model that learnt where runs pointed."""

    def outputs(self, mask: npt.NDArray[np.float32], replace: dict[str, Any] | None = None) -> dict[str, Any]:
        out = super().outputs(mask, replace)
        imu = {**self._inputs, **(replace or {})}["imu"]
        sector = ((yaw_of(imu[:, 0, 6:]) + np.pi) / (2 * np.pi) * 6).astype(int) % 6
        out["terrain"] = np.eye(6, dtype=np.float32)[sector]
        return out


def with_level_headings(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """``data`` with unit quaternions, and each window's terrain the sector its heading points to."""
    data = dict(data)
    data["imu"] = tilted_imu(len(data["mask"]), data["imu"].shape[1], seed)
    data["mask"] = np.ones_like(data["mask"])
    data["terrain"] = (((yaw_of(data["imu"][:, 0, 6:]) + np.pi) / (2 * np.pi) * 6).astype(int) % 6).astype(np.int64)
    return data


def test_the_runner_reports_a_heading_drop_for_a_model_that_reads_the_heading_and_none_for_one_that_does_not() -> None:
    data = with_level_headings(fake_data(n=60), seed=3)
    reader = run_model(HeadingReader(), data, noise=False, batch_size=16)
    assert reader.subsets[FULL]["terrain_acc"] == 1.0  # the labels are what it reads
    assert reader.heading["terrain_acc"] < 0.5  # random headings: about 1 in 6
    assert reader.heading["windows"] == reader.subsets[FULL]["windows"]
    counter = MaskCounter()
    blind = run_model(counter, data, noise=False, batch_size=16)
    assert blind.heading == blind.subsets[FULL]  # it never looks at the IMU
    assert ("imu",) in counter.replaced
    only_camera = run_model(MaskCounter(), data, subsets=[("camera",)], noise=False, batch_size=16)
    assert only_camera.heading == {}  # a specialist's run has no all-four figure to compare with
    whole = run_model(HeadingReader(), data, noise=False, batch_size=60)
    assert whole.heading == reader.heading  # one angle per window, whatever the batches


def test_the_turned_run_keeps_the_datas_mask_and_its_rows() -> None:
    # sensors dropped here and there: the turned run must use the same mask and count the same
    # windows as the all-four figure, or a model that ignores the IMU would seem to move
    data = fake_data(n=60, seed=5)
    assert (data["mask"].min(axis=1) < 0.5).sum() > 10
    run = run_model(MaskCounter(), data, noise=False, batch_size=16)
    assert run.heading == run.subsets[FULL]


def test_a_heading_free_model_scores_the_same_facing_any_way_and_a_quaternion_model_does_not() -> None:
    data = with_level_headings(fake_data(n=48, seed=1), seed=4)
    inputs = {name: data[name][:16].astype(np.float32) for name in SENSORS}
    turned = turn_heading(inputs["imu"], heading_angles(16, seed=0))
    for heading_free in (True, False):
        torch.manual_seed(0)
        net = FusionModel(FusionModelConfig(imu_heading_free=heading_free)).eval()
        model = TorchModel(name="m", path=Path("m"), fusion="gated", model=net)
        model.begin_batch(inputs)
        moved = np.abs(
            model.outputs(data["mask"][:16], {"imu": turned})["terrain"] - model.outputs(data["mask"][:16])["terrain"]
        )
        if heading_free:
            assert moved.max() < 1e-4
            run = run_model(model, data, noise=False, batch_size=16)
            assert run.heading == run.subsets[FULL]
        else:  # the quaternion model's logits move when only the heading does
            assert moved.max() > 1e-4

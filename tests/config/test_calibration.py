"""Calibration files: format checks and errors that point at the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from robofuse.config import load_calibration
from robofuse.config.calibration import Intrinsics
from robofuse.errors import ConfigError

GOOD = """
format: robofuse-calibration/1
rig: test
streams:
  cam:
    latency_min_s: 0.01
    intrinsics: {width: 752, height: 480, fx: 458.654, fy: 457.296, cx: 367.215, cy: 248.375,
                 distortion: {model: radtan, coeffs: [-0.28340811, 0.07395907, 0.00019359, 1.76187114e-05]}}
"""


def test_a_calibration_loads_and_scales_with_the_image(tmp_path: Path) -> None:
    path = tmp_path / "cal.yaml"
    path.write_text(GOOD)
    cal = load_calibration(path)
    intr = cal.of("cam").intrinsics
    assert isinstance(intr, Intrinsics)
    half = intr.scaled(376, 240)
    assert (half.fx, half.cx, half.cy) == pytest.approx((229.327, 183.6075, 124.1875))
    assert cal.of("other").latency_min_s == 0.0  # an uncalibrated stream gets the neutral default


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("robofuse-calibration/1", "v0"), "format: expected 'robofuse-calibration/1'"),
        (
            GOOD.replace("model: radtan", "model: fisheye"),
            "streams.cam.intrinsics.distortion.model: str 'fisheye' is not allowed",
        ),
        (GOOD.replace("1.76187114e-05]", "]"), "distortion model 'radtan' takes 4 coeffs, got 3"),
        (GOOD.replace("fx: 458.654", "fx: -1"), "focal lengths must be > 0"),
        (GOOD.replace("latency_min_s: 0.01", "latency_min_s: -0.01"), "latency_min_s must be in [0, 10) s"),
        (
            GOOD + "    extrinsics: {rotation_xyzw: [0, 0, 0, 2]}\n",
            "rotation_xyzw must be a unit quaternion (x, y, z, w)",
        ),
    ],
)
def test_calibration_mistakes_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "cal.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_calibration(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)

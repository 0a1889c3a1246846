"""The EuRoC calibration in calibration/ agrees with the dataset's own sensor files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from robofuse.config import load_calibration
from robofuse.geometry import rotation_matrix

ROOT = Path(__file__).resolve().parents[2]
EUROC = ROOT.parent / "shared" / "data" / "real" / "euroc_mh01_micro" / "mav0"


def euroc_sensor(name: str) -> dict[str, object]:
    text = (EUROC / name / "sensor.yaml").read_text()
    loaded = yaml.safe_load(text.replace("%YAML:1.0", ""))
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.skipif(not EUROC.exists(), reason=f"EuRoC recording not present at {EUROC}")
def test_the_euroc_camera_calibration_matches_the_dataset() -> None:
    cal = load_calibration(ROOT / "calibration" / "euroc_mav0.yaml").of("cam0")
    src = euroc_sensor("cam0")
    intr = cal.intrinsics
    assert intr is not None
    assert [intr.fx, intr.fy, intr.cx, intr.cy] == src["intrinsics"]
    assert [intr.width, intr.height] == src["resolution"]
    assert list(intr.distortion.coeffs) == src["distortion_coefficients"]
    t_bs = np.array(src["T_BS"]["data"]).reshape(4, 4)  # type: ignore[index]
    assert np.allclose(rotation_matrix(cal.extrinsics.rotation_xyzw), t_bs[:3, :3], atol=1e-9)
    assert np.allclose(cal.extrinsics.translation_m, t_bs[:3, 3])


@pytest.mark.skipif(not EUROC.exists(), reason=f"EuRoC recording not present at {EUROC}")
def test_the_euroc_imu_is_the_body_frame() -> None:
    cal = load_calibration(ROOT / "calibration" / "euroc_mav0.yaml").of("imu0")
    t_bs = np.array(euroc_sensor("imu0")["T_BS"]["data"]).reshape(4, 4)  # type: ignore[index]
    assert np.allclose(rotation_matrix(cal.extrinsics.rotation_xyzw), t_bs[:3, :3])
